"""Work a person waits for without holding a request: a report file, a large import.

A view asks for a job (`request_job`), commits, and starts it (`start`); the job worker runs it (academy/core/jobs.py)
and writes its progress on the way, then the file or why it failed. The person follows it on a page that polls its
status and offers the file when it is ready; the file is kept REPORT_FILES_DAYS days. Each feature declares its kinds
of job in a registry (`JobKind`): who may see one, what running it does and what it is called.
"""

import hashlib
import json
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from flask import abort, current_app
from flask_babel import force_locale, get_locale
from sqlalchemy import JSON, CursorResult, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, deferred, mapped_column

from academy.core.jobs import job, periodic_job
from academy.core.models import TimestampMixin, utcnow
from academy.extensions import Model, db

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
PENDING = (QUEUED, RUNNING)
# A job still running after this long lost its worker (a restart, a crash): it counts as failed.
STALE_AFTER = timedelta(minutes=30)
# The same request again this soon after a finished job is a double submission: it gets that job's file.
REPEAT_WITHIN = timedelta(minutes=1)


class BackgroundJob(TimestampMixin, Model):
    """One job someone asked for: what, for whom, how far it has got, and its file until it expires."""

    __tablename__ = "background_job"
    __table_args__ = (
        # At most one pending job per identical request: a double submission finds it instead of adding another.
        Index(
            "uq_background_job_pending_request",
            "request_key",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id", ondelete="CASCADE"), index=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    request_key: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    progress: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(Text)  # why it failed, in words for the person who asked
    detail: Mapped[dict] = mapped_column(JSON, default=dict)  # what the download's audit entry needs, and results
    filename: Mapped[str | None] = mapped_column(String(255))
    mimetype: Mapped[str | None] = mapped_column(String(120))
    size: Mapped[int | None]
    # Deferred: a status poll never loads the file.
    content: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime] = mapped_column(index=True)

    @property
    def stale(self) -> bool:
        return self.status == RUNNING and self.started_at is not None and utcnow() - self.started_at > STALE_AFTER

    @property
    def state(self) -> str:
        """What the person sees: queued, running, done, failed or expired."""
        if self.expires_at <= utcnow():
            return "expired"
        return FAILED if self.stale else self.status


@dataclass
class Outcome:
    """What a finished job leaves: a file, or (for work such as an import) only details for its page."""

    filename: str | None = None
    mimetype: str | None = None
    content: bytes | None = None
    detail: dict = field(default_factory=dict)


class JobFailed(Exception):
    """A reason the person who asked can act on; any other exception is logged and shown as an unexpected failure."""


class JobKind(ABC):
    """A kind of job: each feature subclasses it once per kind and registers it with `register`."""

    name = ""

    @abstractmethod
    def can_see(self, user, job: BackgroundJob) -> bool:
        """Whether this person (or institution token) may follow the job and download its file."""
        ...

    @abstractmethod
    def run(self, job: BackgroundJob, progress) -> Outcome:
        """Do the work; `progress(share)` tells how far it has got (0 to 1). May commit its own changes."""
        ...

    @abstractmethod
    def title(self, job: BackgroundJob) -> str: ...

    @abstractmethod
    def back_url(self, job: BackgroundJob) -> str:
        """The page the job was asked for from, to ask again."""
        ...

    def result_url(self, job: BackgroundJob) -> str | None:
        """Where a job without a file shows what it did."""
        return None


class FileJobKind(JobKind):
    """A kind of job whose outcome is a file to download (a report); only such a job's file is ever served."""

    @abstractmethod
    def downloaded(self, job: BackgroundJob, actor, **detail) -> None:
        """Record the download of the file in the audit trail (the caller commits)."""
        ...


def file_kind(job: BackgroundJob) -> FileJobKind | None:
    """The kind of a finished job that has a file to download, or None (not done, no file, or a kind without one)."""
    kind = KINDS.get(job.kind)
    if job.state == DONE and job.filename and isinstance(kind, FileJobKind):
        return kind
    return None


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    KINDS[kind.name] = kind
    return kind


def retention_days() -> int:
    return current_app.config["REPORT_FILES_DAYS"]


def _request_key(kind: str, params: dict, requester: str) -> str:
    raw = json.dumps([kind, requester, params], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _existing(key: str) -> BackgroundJob | None:
    now = utcnow()
    found = db.session.scalar(
        db.select(BackgroundJob)
        .where(
            BackgroundJob.request_key == key,
            db.or_(
                BackgroundJob.status.in_(PENDING),
                db.and_(BackgroundJob.status == DONE, BackgroundJob.finished_at >= now - REPEAT_WITHIN),
            ),
            BackgroundJob.expires_at > now,
        )
        .order_by(BackgroundJob.id.desc())
        .limit(1)
    )
    if found is not None and found.stale:
        found.status, found.finished_at = FAILED, now  # its worker is gone: a new request starts afresh
        db.session.flush()
        return None
    return found


def request_job(
    kind: str, params: dict, *, requester: str, user_id: int | None, institution_id: int | None
) -> tuple[BackgroundJob, bool]:
    """The job for this request: the pending (or just finished) identical one, else a new one; True when new.

    `requester` names who asks (a person or a token) so that a double submission is recognised; the caller keeps the
    job's id, commits, then calls `start(job_id)` for a new job."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of job {kind!r}")
    key = _request_key(kind, params, requester)
    found = _existing(key)
    if found is not None:
        return found, False
    new = BackgroundJob(
        kind=kind,
        params=params,
        request_key=key,
        requested_by_id=user_id,
        institution_id=institution_id,
        locale=str(get_locale() or "en"),
        status=QUEUED,
        expires_at=utcnow() + timedelta(days=retention_days()),
    )
    try:
        with db.session.begin_nested():  # a parallel identical request may insert first: then use its job
            db.session.add(new)
    except IntegrityError:
        found = _existing(key)
        if found is None:
            raise
        return found, False
    return new, True


def start(job_id: int) -> None:
    """Queue a committed job (with JOBS_IMMEDIATE, as in tests, run it now).

    Takes the id read before the commit: reading it after would open a new transaction around the job."""
    run_job(job_id)


def load_job(job_id: int, user) -> BackgroundJob:
    """A job this person may follow; any other id answers 404, whoever asked for it."""
    found = db.session.get(BackgroundJob, job_id)
    if found is None or found.kind not in KINDS or not KINDS[found.kind].can_see(user, found):
        abort(404)
    return found


class Progress:
    """Writes a running job's progress, committed at once so that its page sees it, at most every PERIOD seconds."""

    PERIOD = 0.5

    def __init__(self, job_id: int, low: int = 0, high: int = 99):
        self.job_id, self.low, self.high = job_id, low, high
        self.written, self.at = low, 0.0

    def __call__(self, share: float) -> None:
        percent = self.low + round((self.high - self.low) * min(max(share, 0.0), 1.0))
        if percent <= self.written or time.monotonic() - self.at < self.PERIOD:
            return
        db.session.execute(
            db.update(BackgroundJob)
            .where(BackgroundJob.id == self.job_id, BackgroundJob.status == RUNNING)
            .values(progress=percent)
        )
        db.session.commit()
        self.written, self.at = percent, time.monotonic()


def _claim(job_id: int) -> bool:
    """Queued → running, exactly once even if the queue delivers the job twice."""
    # An UPDATE gives a CursorResult (with its rowcount), which Session.execute's annotations do not tell.
    claimed = (
        cast(
            CursorResult,
            db.session.execute(
                db.update(BackgroundJob)
                .where(BackgroundJob.id == job_id, BackgroundJob.status == QUEUED)
                .values(status=RUNNING, started_at=utcnow(), progress=1)
            ),
        ).rowcount
        == 1
    )
    db.session.commit()
    return claimed


def _finish(job_id: int, status: str, outcome: Outcome | None = None, message: str | None = None) -> None:
    now = utcnow()
    values = {"status": status, "finished_at": now, "message": message}
    if outcome is not None:  # kept REPORT_FILES_DAYS from now, when it is ready
        values.update(
            progress=100,
            expires_at=now + timedelta(days=retention_days()),
            filename=outcome.filename,
            mimetype=outcome.mimetype,
            content=outcome.content,
            detail=outcome.detail,
            size=None if outcome.content is None else len(outcome.content),
        )
    db.session.execute(db.update(BackgroundJob).where(BackgroundJob.id == job_id).values(**values))
    db.session.commit()
    if outcome is not None and outcome.content and db.engine.dialect.name == "sqlite":
        # A file of a few MB fills SQLite's write-ahead log, and the next commit to pass its 1,000 pages copies them
        # into the database with an fsync: a health check or a page of a gevent worker waited up to a second for it.
        # The worker does it here instead, without waiting for anyone (PASSIVE).
        db.session.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
        db.session.commit()


@job()
def run_job(job_id: int) -> None:
    """Run one job: claim it, let its kind do the work in the requester's language, keep the file or the reason."""
    if not _claim(job_id):
        return
    found = db.session.get(BackgroundJob, job_id)
    if found is None:  # deleted meanwhile (its institution, or the hourly clean-up)
        return
    try:
        with force_locale(found.locale):
            outcome = KINDS[found.kind].run(found, Progress(job_id))
    except JobFailed as failure:
        db.session.rollback()
        _finish(job_id, FAILED, message=str(failure))
    except Exception:
        db.session.rollback()
        log.exception("Background job %s (%s) failed", job_id, found.kind)
        _finish(job_id, FAILED)
    else:
        _finish(job_id, DONE, outcome)


def delete_expired(now: datetime | None = None) -> int:
    """Delete the jobs (and files) past their retention; the caller commits."""
    result = cast(
        CursorResult, db.session.execute(db.delete(BackgroundJob).where(BackgroundJob.expires_at <= (now or utcnow())))
    )
    return result.rowcount


@periodic_job(minute="17")
def delete_expired_files() -> None:
    """Every hour: files past REPORT_FILES_DAYS are deleted."""
    deleted = delete_expired()
    db.session.commit()
    if deleted:
        log.info("Deleted %d expired background jobs and their files", deleted)
