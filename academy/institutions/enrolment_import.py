"""Importing a previewed upload: every row or none, in one transaction, then an invitation to each new person.

Confirmed in the request for a small file; above BULK_IMPORT_JOB_ROWS rows the job worker imports it (a file of
10,000 people is thousands of rows to write and as many invitations to queue) while a page shows how far it has got.
"""

import logging
import secrets
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import CursorResult
from sqlalchemy.exc import SQLAlchemyError

from academy.accounts.jobs import deliver_mail
from academy.accounts.models import Role, Track, User, UserRole
from academy.accounts.services import make_reset_token, new_nonce
from academy.core import audit
from academy.core.background import BackgroundJob, JobFailed, JobKind, Outcome, register, request_job
from academy.core.models import utcnow
from academy.core.urls import absolute_url
from academy.extensions import db
from academy.institutions import bulk
from academy.institutions.models import BulkImport
from academy.institutions.permissions import can_view_staff
from academy.learning import services as learning
from academy.learning.models import Course, Enrolment
from academy.organisations.models import Institution
from academy.organisations.services import scope_to_user

log = logging.getLogger(__name__)
KIND = "bulk_import"


class ImportRefused(Exception):
    """Why a confirmed import cannot go ahead; the caller rolls the transaction back."""


DATABASE_REFUSED = _l(
    "Nothing was imported: the database refused the change, probably because someone registered "
    "or another import added some of these people at the same moment. The preview shows the current "
    "state; check it and confirm again."
)


@dataclass
class Invitation:
    email: str
    name: str
    token: str
    courses: list[str]


def claim(bulk_import: BulkImport) -> bool:
    """Move the upload from preview to imported; False when another request already did."""
    # One import per institution at a time: a parallel confirmation (of another upload of the same file) waits
    # here until this one commits, then its check sees these people and refuses. SQLite's single writer does the
    # same by itself; on PostgreSQL it takes this row lock, one that leaves foreign-key checks on the row free.
    db.session.execute(
        db.select(Institution.id).where(Institution.id == bulk_import.institution_id).with_for_update(key_share=True)
    )
    # An UPDATE gives a CursorResult (with its rowcount), which Session.execute's annotations do not tell.
    result = cast(
        CursorResult,
        db.session.execute(
            db.update(BulkImport)
            .where(BulkImport.id == bulk_import.id, BulkImport.status == BulkImport.PREVIEW)
            .values(status=BulkImport.IMPORTED, imported_at=utcnow())
        ),
    )
    return result.rowcount == 1


def _unusable_password_hash() -> str:
    # No "$": werkzeug's check refuses it for every password, yet it is unique, so reset tokens work.
    return "!invited-" + secrets.token_hex(24)


def _create_people(rows: list[bulk.RowCheck], institution: Institution, courses: dict[str, Course]) -> list[Invitation]:
    """Insert the new learners, their role and their enrolments: a few statements for any number of people."""
    if not rows:
        return []
    people: list[dict[str, Any]] = [
        {
            "email": row.address,
            "name": row.name,
            "password_hash": _unusable_password_hash(),
            "institution_id": institution.id,
            "track": Track(row.track_code),
            "session_nonce": new_nonce(),
        }
        for row in rows
    ]
    # A parallel import of the same people fails here, on the unique e-mail, and takes everything with it.
    ids = db.session.scalars(db.insert(User).returning(User.id, sort_by_parameter_order=True), people).all()
    db.session.execute(db.insert(UserRole), [{"user_id": user_id, "role": Role.LEARNER} for user_id in ids])
    enrolments = [
        {"user_id": user_id, "course_id": courses[slug].id}
        for user_id, row in zip(ids, rows, strict=True)
        for slug in row.add
    ]
    if enrolments:
        db.session.execute(db.insert(Enrolment), enrolments)
    # make_reset_token reads only the id and the password hash; loading 10,000 users back would be wasted.
    return [
        Invitation(
            person["email"],
            person["name"],
            make_reset_token(cast(User, SimpleNamespace(id=user_id, password_hash=person["password_hash"]))),
            [courses[slug].title for slug in row.add],
        )
        for user_id, person, row in zip(ids, people, rows, strict=True)
    ]


def _enrol_members(rows: list[bulk.RowCheck], courses: dict[str, Course]) -> int:
    by_id = {row.user_id: row for row in rows}
    added = 0
    for chunk in bulk.chunks(sorted(by_id)):
        for user in db.session.scalars(db.select(User).where(User.id.in_(chunk))):
            for slug in by_id[user.id].add:
                learning.enrol(user, courses[slug])
                added += 1
    return added


def run_import(bulk_import: BulkImport, institution: Institution, actor, fingerprint: str) -> list[Invitation]:
    """Import every row of a claimed upload, or raise; the caller commits or rolls back."""
    check = bulk.check_rows(institution, bulk_import.rows)
    if check.errors:
        raise ImportRefused(
            ngettext(
                "Nothing was imported: %(num)d row has a problem.",
                "Nothing was imported: %(num)d rows have problems.",
                check.errors,
            )
            + " "
            + _("Fix the file and upload it again.")
        )
    if check.fingerprint != fingerprint:
        raise ImportRefused(
            _(
                "Nothing was imported: something has changed since this preview was shown (for "
                "example, someone registered or another import added the same people). Here is the "
                "preview as it stands now; check it and confirm again."
            )
        )
    courses = {c.slug: c for c in bulk.course_index().values()}
    invitations = _create_people([r for r in check.rows if r.kind == bulk.NEW], institution, courses)
    enrolments = sum(len(r.add) for r in check.rows if r.kind == bulk.NEW)
    enrolments += _enrol_members([r for r in check.rows if r.kind == bulk.MEMBER], courses)
    summary: dict[str, Any] = {
        "invited": len(invitations),
        "members": check.count(bulk.MEMBER, bulk.UNCHANGED),
        "enrolments": enrolments,
    }
    bulk_import.result = dict(summary, rows=[{"kind": r.kind, "add": r.add} for r in check.rows])
    audit.record(
        "enrolment.import",
        actor=actor,
        target=bulk_import.filename,
        institution_id=institution.id,
        import_id=bulk_import.id,
        **summary,
    )
    return invitations


def _validity() -> str:
    seconds = current_app.config["PASSWORD_RESET_MAX_AGE"]
    if seconds >= 3600 and seconds % 3600 == 0:
        return ngettext("%(num)d hour", "%(num)d hours", seconds // 3600)
    return ngettext("%(num)d minute", "%(num)d minutes", max(1, seconds // 60))


def send_invitations(invitations: list[Invitation], institution, inviter, progress=None) -> None:
    """Queue an e-mail to each new person with a link to choose a password; the job worker sends them."""
    renew, validity = absolute_url("accounts.request_reset"), _validity()
    subject = _("You are invited to the Western Balkans Cybersecurity Academy")
    for count, invitation in enumerate(invitations, 1):
        link = absolute_url("accounts.reset_password", token=invitation.token)
        courses = ", ".join(invitation.courses) or _("none yet")
        body = _(
            "Hello %(name)s,\n\n%(inviter)s has added you to %(institution)s on the Western Balkans "
            "Cybersecurity Academy. Your courses: %(courses)s.\n\nChoose your password with this link; it "
            "works once, for %(validity)s:\n\n%(link)s\n\nIf it has expired, ask for a new link here "
            "with your e-mail address %(email)s:\n\n%(renew)s\n",
            name=invitation.name,
            inviter=inviter.name,
            institution=institution.name,
            courses=courses,
            validity=validity,
            link=link,
            email=invitation.email,
            renew=renew,
        )
        deliver_mail(invitation.email, subject, body)
        if progress is not None and count % 100 == 0:
            progress(count / len(invitations))


def request_import_job(bulk_import: BulkImport, fingerprint: str, user) -> tuple[BackgroundJob, bool]:
    """The job importing this upload (True when new); the caller commits and starts it."""
    return request_job(
        KIND,
        {"import_id": bulk_import.id, "fingerprint": fingerprint},
        requester=f"user:{user.id}",
        user_id=user.id,
        institution_id=bulk_import.institution_id,
    )


class BulkImportJob(JobKind):
    name = KIND

    def can_see(self, user, job: BackgroundJob) -> bool:
        """The institution's managers and platform admins, who may import its staff."""
        institution = db.session.scalar(
            scope_to_user(db.select(Institution).where(Institution.id == job.institution_id), user, Institution.id)
        )
        return institution is not None and can_view_staff(user, institution)

    def run(self, job: BackgroundJob, progress) -> Outcome:
        """Claim the upload and import it in one transaction (no progress is written inside it: that would commit
        half an import), commit, then queue the invitations."""
        bulk_import = db.session.get(BulkImport, job.params["import_id"])
        institution = db.session.get(Institution, job.institution_id)
        actor = db.session.get(User, job.requested_by_id) if job.requested_by_id else None
        if bulk_import is None or institution is None or actor is None:
            raise JobFailed(_("This upload, its institution or the person who confirmed it no longer exists."))
        progress(0.05)
        try:
            if not claim(bulk_import):
                raise JobFailed(_("This file has already been imported; its page shows what was done."))
            invitations = run_import(bulk_import, institution, actor, job.params["fingerprint"])
        except ImportRefused as refusal:
            raise JobFailed(str(refusal)) from refusal
        except SQLAlchemyError as error:
            log.exception("Bulk import %s failed and was rolled back", bulk_import.id)
            raise JobFailed(str(DATABASE_REFUSED)) from error
        result = {key: (bulk_import.result or {})[key] for key in ("invited", "members", "enrolments")}
        db.session.commit()
        progress(0.6)
        send_invitations(invitations, institution, actor, progress=lambda share: progress(0.6 + 0.4 * share))
        return Outcome(detail=result)

    def title(self, job: BackgroundJob) -> str:
        bulk_import = db.session.get(BulkImport, job.params["import_id"])
        return _("Import of %(file)s", file=bulk_import.filename if bulk_import else job.params["import_id"])

    def back_url(self, job: BackgroundJob) -> str:
        return self.result_url(job)

    def result_url(self, job: BackgroundJob) -> str:
        return url_for(
            "institutions.bulk_preview", institution_id=job.institution_id, import_id=job.params["import_id"]
        )


register(BulkImportJob())
