"""The page of a background job (its progress, then its file or what it did), its status for the page's script, and
the download of its file; on the core blueprint. Each kind of job says who may see it: anyone else gets 404."""

from datetime import datetime

from flask import Response, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from academy.core.background import DONE, FAILED, KINDS, BackgroundJob, FileJobKind, file_kind, load_job, retention_days
from academy.core.models import utcnow
from academy.core.permissions import SIGNED_IN, allow
from academy.core.text import moment
from academy.core.views import bp
from academy.extensions import db

# A job still queued after this long suggests that no job worker is running.
WORKER_PATIENCE_SECONDS = 60


def status_of(job: BackgroundJob) -> dict:
    """The job as its page's script and the API see it."""
    state = job.state
    kind = KINDS[job.kind]
    waited = (utcnow() - job.created_at).total_seconds()
    return {
        "id": job.id,
        "kind": job.kind,
        "title": kind.title(job),
        "status": state,
        "progress": job.progress,
        "message": describe(job, state, waited),
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "expires_at": job.expires_at,
        "filename": job.filename if state == DONE else None,
        "size": job.size if state == DONE else None,
        "file_url": url_for("core.job_file", job_id=job.id) if file_kind(job) else None,
        "result_url": kind.result_url(job) if state == DONE else None,
    }


def describe(job: BackgroundJob, state: str, waited: float) -> str:
    """One sentence on where the job stands, for the page's live region."""
    if state == "queued":
        if waited > WORKER_PATIENCE_SECONDS:
            return _(
                "Still waiting for the job worker. If this lasts, the worker may not be running: tell the "
                "platform administrator."
            )
        return _("Waiting for the job worker to start.")
    if state == "running":
        return _("Being prepared. You may leave this page: the work goes on, and this address shows it.")
    if state == FAILED:
        return job.message or _(
            "This could not be prepared because of an unexpected error, which has been logged. "
            "Try again; if it fails again, tell the platform administrator."
        )
    if state == "expired":
        return _("This file was deleted after %(days)d days. Prepare it again.", days=retention_days())
    if job.filename:
        return _("Ready: the file is kept until %(date)s (UTC).", date=moment(job.expires_at))
    return _("Done.")


@bp.get("/jobs/<int:job_id>")
@allow(SIGNED_IN)
def job(job_id):
    """A job's progress, then its file or a link to what it did."""
    found = load_job(job_id, current_user)
    return render_template(
        "core/job.html",
        job=found,
        status=status_of(found),
        days=retention_days(),
        back_url=KINDS[found.kind].back_url(found),
    )


@bp.get("/jobs/<int:job_id>/status")
@allow(SIGNED_IN)
def job_status(job_id):
    """The job's status as JSON, polled by the job page; times in ISO 8601 UTC, as the API writes them."""
    status = status_of(load_job(job_id, current_user))
    response = jsonify(
        {key: f"{value.isoformat()}Z" if isinstance(value, datetime) else value for key, value in status.items()}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/jobs/<int:job_id>/file")
@allow(SIGNED_IN)
def job_file(job_id):
    """The job's file, once ready (before, or once deleted, its page says why not); each download is audited."""
    found = load_job(job_id, current_user)
    kind = file_kind(found)
    if kind is None:
        return redirect(url_for("core.job", job_id=found.id), 303)
    return file_response(found, kind, current_user, via="web")


def file_response(found: BackgroundJob, kind: FileJobKind, actor, **detail) -> Response:
    """The file of a finished job (`kind` from `file_kind`), with its audit entry, committed."""
    content, mimetype, filename = found.content, found.mimetype, found.filename
    kind.downloaded(found, actor, job_id=found.id, **detail)
    db.session.commit()
    return Response(
        content,
        content_type=mimetype,
        headers={"Content-Disposition": f"attachment; filename={filename}", "Cache-Control": "private, no-store"},
    )
