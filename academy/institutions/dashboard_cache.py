"""The dashboard's figures, rendered again only when something they are computed from has changed.

Computing an institution's completion report and rendering it is most of a dashboard view (20 ms for 60 people, most
of a second for 5,000), yet what it shows changes only when the facts the report reads change. Each process keeps the
rendered figures under a key made of everything they depend on: the institution, the query string (filters, sort,
page), the language, today's date and `data_version`, a fingerprint of the report's facts. A change to any of them
gives a new key, so a manager sees an enrolment, a completion or a departure on the next view.
"""
import functools
import hashlib
import threading
from collections import OrderedDict

from flask import current_app, request
from flask_babel import get_locale
from sqlalchemy import Integer, bindparam, func, literal, union_all

from academy.accounts.models import User
from academy.core.models import utcnow
from academy.extensions import db
from academy.learning.models import Certificate, Course, Enrolment, Lesson, LessonProgress, Module, QuizAttempt
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
    return (institution.id, institution.name, institution.country.name, institution.sector.value,
            str(get_locale()), request.script_root, request.query_string, utcnow().date(),
            data_version(institution.id))


def data_version(institution_id: int) -> str:
    """A fingerprint of what `reporting.completion_report` reads about an institution, in two queries.

    The members' own rows are read whole (names, tracks and who is active change in place). The other facts are
    added to or move one way (an enrolment completes, a lesson is done, a quiz is submitted, a certificate is
    revoked, a content sync archives or updates): their count, last id, how many have that moment set and the
    latest such moments change whenever they do. A new input of the report needs a line in `_statements`.
    """
    members_query, facts_query = _statements()
    params = {"institution_id": institution_id}
    members = [tuple(row) for row in db.session.execute(members_query, params)]
    facts = sorted(tuple(row) for row in db.session.execute(facts_query, params))
    return hashlib.sha256(repr((members, facts)).encode()).hexdigest()


@functools.cache
def _statements():
    """Built once: a dashboard view runs them on every request."""
    institution = bindparam("institution_id", type_=Integer)
    members = (db.select(User.id, User.name, User.email, User.track, User.active, User.last_login_at)
               .where(User.institution_id == institution).order_by(User.id))
    member = db.select(User.id).where(User.institution_id == institution)
    sessions = db.select(Participant.session_id).where(Participant.user_id.in_(member))
    parts = (
        (Enrolment, Enrolment.completed_at, Enrolment.created_at, Enrolment.user_id.in_(member)),
        (LessonProgress, LessonProgress.done_at, LessonProgress.viewed_at, LessonProgress.user_id.in_(member)),
        (QuizAttempt, QuizAttempt.submitted_at, QuizAttempt.started_at, QuizAttempt.user_id.in_(member)),
        (Certificate, Certificate.revoked_at, Certificate.issued_at, Certificate.user_id.in_(member)),
        (Participant, Participant.created_at, Participant.created_at, Participant.user_id.in_(member)),
        (SessionEvent, SessionEvent.at, SessionEvent.at, SessionEvent.session_id.in_(sessions)),
        (Course, Course.archived_at, Course.updated_at, None),
        (Module, Module.archived_at, Module.updated_at, None),
        (Lesson, Lesson.archived_at, Lesson.updated_at, None),
    )
    return members, union_all(*(_tally(number, *part) for number, part in enumerate(parts)))


def _tally(number: int, model, moment, other, where):
    query = db.select(literal(number), func.count(), func.max(model.id), func.count(moment), func.max(moment),
                      func.max(other)).select_from(model)
    return query if where is None else query.where(where)
