"""After-action report pages (HTML, PDF, JSON) and each participant's own debrief, on the tabletop blueprint."""

from datetime import datetime

from flask import abort, current_app, jsonify, redirect, render_template, url_for
from flask_login import current_user

from academy.accounts.models import Role
from academy.core import background
from academy.core.permissions import PUBLIC, allow
from academy.extensions import db, login_manager
from academy.tabletop import report as reports
from academy.tabletop import report_jobs
from academy.tabletop.models import LiveSession
from academy.tabletop.permissions import participant_for
from academy.tabletop.views import bp

REPORT_ROLES = (Role.TRAINER, Role.MANAGER, Role.ADMIN)


@bp.app_template_filter("report_time")
def report_time(value: str | None) -> str:
    """An ISO UTC time of the report as people read it."""
    if not value:
        return "—"
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").strftime("%Y-%m-%d %H:%M UTC")


@bp.get("/exercises/sessions/<int:session_id>/report")
@allow(*REPORT_ROLES)
def report(session_id):
    """The after-action report: the whole session for its trainer, a manager's own people for a manager."""
    live, data = reports.load_report(session_id, current_user)
    console = "tabletop.console" in current_app.view_functions and data["scope"]["kind"] == reports.FULL
    return render_template(
        "tabletop/report.html",
        live=live,
        report=data,
        console_url=url_for("tabletop.console", session_id=live.id) if console else None,
    )


@bp.post("/exercises/sessions/<int:session_id>/report.pdf")
@allow(*REPORT_ROLES)
def report_pdf(session_id):
    """Ask for the after-action report as an A4 PDF: the job worker makes it, its page offers the file."""
    live, _data = reports.load_report(session_id, current_user)
    job, new = report_jobs.request_report_pdf(live, current_user)
    job_id = job.id
    db.session.commit()
    if new:
        background.start(job_id)
    return redirect(url_for("core.job", job_id=job_id), 303)


@bp.get("/exercises/sessions/<int:session_id>/report.json")
@allow(*REPORT_ROLES)
def report_json(session_id):
    """The after-action report as JSON, the same data as the page."""
    live, data = reports.load_report(session_id, current_user)
    reports.record_export(live, data, "json")
    db.session.commit()
    response = jsonify(data)
    response.headers["Content-Disposition"] = f"attachment; filename=exercise-report-{live.id}.json"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/exercises/sessions/<int:session_id>/debrief")
@allow(PUBLIC)  # guests the trainer let in have no account; they are recognised by their token
def debrief(session_id):
    """A participant's own debrief; nobody else's answers beyond their role's shared log."""
    live = db.session.get(LiveSession, session_id)
    participant = participant_for(live) if live is not None else None
    if participant is None:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        abort(404)
    return render_template("tabletop/debrief.html", live=live, debrief=reports.participant_debrief(live, participant))
