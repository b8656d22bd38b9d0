"""The dashboard's figures, rendered again only when something they are computed from has changed.

Computing an institution's completion report and rendering it is most of a dashboard view (20 ms for 60 people, most
of a second for 5,000), yet what it shows changes only when the facts the report reads change. Each process keeps the
rendered figures under a key made of everything they depend on: the institution, the query string (filters, sort,
page), the language, today's date, the version of the course content and `data_version`, a fingerprint of the
report's facts. A change to any of them gives a new key, so a manager sees an enrolment, a completion or a departure
on the next view.
"""

import functools
import threading
from collections import OrderedDict
from collections.abc import Sequence

from flask import current_app, request
from flask_babel import get_locale
from sqlalchemy import Integer, String, bindparam, cast, func, literal, true, union_all

from academy.accounts.models import User
from academy.core.models import utcnow
from academy.extensions import db
from academy.learning.models import Certificate, ContentRelease, Enrolment, LessonProgress, QuizAttempt
from academy.learning.outlines import own_content_changes
from academy.tabletop.models import Participant, SessionEvent

ENTRIES = 64  # per process: one entry is one page of one filter of one institution's dashboard, about 50 KB


class BoundedCache:
    """At most `size` entries, the least recently used dropped first; safe to share between threads."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def figures_cache() -> BoundedCache:
    """This application's cache (each app has its own database, so its own cache)."""
    return current_app.extensions.setdefault("dashboard_figures", BoundedCache(ENTRIES))


def page_key(institution) -> tuple:
    """Everything the dashboard's figures depend on; computed before them, so they are never older than the key."""
    return (
        institution.id,
        institution.name,
        institution.country.name,
        institution.sector.value,
        str(get_locale()),
        request.script_root,
        request.query_string,
        utcnow().date(),
        own_content_changes(),
        data_version(institution.id),
    )


def data_version(institution_id: int) -> int:
    """A fingerprint of what `reporting.completion_report` reads about an institution, in one query.

    The members' own rows are read whole (names, tracks and who is active change in place). The other facts are
    added to or move one way (an enrolment completes, a lesson is done, a quiz is submitted, a certificate is
    revoked): their count, last id, how many have that moment set and the latest such moments change whenever they
    do. A new input of the report needs a line in `_statement`. Courses, modules and lessons are in it as their
    latest release (learning.outlines.content_version, whose other half is in the key): counting them read every
    lesson's text, most of a dashboard view.

    The fingerprint is the hash of the rows as a set, in whatever order the database gives them (no two rows are
    alike: a member's has its id, a tally its name): 64 bits of SipHash under this process's own random key, which
    no one can aim at, and the key is only ever compared within this process. The rows themselves would hold
    megabytes per key for an institution of thousands.
    """
    return hash(frozenset(_driver_rows({"institution_id": institution_id})))


def _driver_rows(values: dict) -> Sequence:
    """The rows as the database driver hands them over, of the SQL compiled once for the database's dialect: only
    their fingerprint is wanted. Making each into a SQLAlchemy row, and working out the cache key of a statement this
    size on every execution, was work repeated on every view for nothing."""
    connection = db.session.connection()
    compiled = _compiled(connection.dialect)
    params = compiled.construct_params(values)
    result = connection.exec_driver_sql(
        compiled.string, tuple(params[name] for name in compiled.positiontup) if compiled.positional else params
    )
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


@functools.cache
def _compiled(dialect):
    return _statement().compile(dialect=dialect)


@functools.cache
def _statement():
    """Built once: a dashboard view runs it on every request. Columns of the tables, not of the models: a plain
    SELECT skips the ORM's compilation and row handling. One UNION ALL of text columns (the members' rows, then a
    tally of each kind of fact), so that one round trip answers it on every database."""
    institution = bindparam("institution_id", type_=Integer)
    users, enrolments, reads = User.__table__.c, Enrolment.__table__.c, LessonProgress.__table__.c
    attempts, certificates = QuizAttempt.__table__.c, Certificate.__table__.c
    participants, events = Participant.__table__.c, SessionEvent.__table__.c
    releases = ContentRelease.__table__.c
    members = db.select(  # a member's row starts with the id, a tally's with "fact"
        *(
            cast(column, String)
            for column in (users.id, users.name, users.email, users.track, users.active, users.last_login_at)
        )
    ).where(users.institution_id == institution)
    member = db.select(users.id).where(users.institution_id == institution)
    sessions = db.select(participants.session_id).where(participants.user_id.in_(member))
    parts = (
        (enrolments, enrolments.completed_at, enrolments.created_at, enrolments.user_id.in_(member)),
        (reads, reads.done_at, reads.viewed_at, reads.user_id.in_(member)),
        (attempts, attempts.submitted_at, attempts.started_at, attempts.user_id.in_(member)),
        (certificates, certificates.revoked_at, certificates.issued_at, certificates.user_id.in_(member)),
        (participants, participants.created_at, participants.created_at, participants.user_id.in_(member)),
        (events, events.at, events.at, events.session_id.in_(sessions)),
        (releases, releases.synced_at, releases.synced_at, true()),
    )
    return union_all(members, *(_tally(number, *part) for number, part in enumerate(parts)))


def _tally(number: int, columns, moment, other, where):
    return db.select(
        literal(f"fact {number}"),
        *(
            cast(value, String)
            for value in (func.count(), func.max(columns.id), func.count(moment), func.max(moment), func.max(other))
        ),
    ).where(where)
