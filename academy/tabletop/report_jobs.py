"""The after-action report's PDF as a background job: WeasyPrint lays out its pages in the job worker, not in a request
that would hold a server worker (and its live streams) meanwhile. Whoever may read the report may follow the job and
download the file, in the same scope: the whole session, or a manager's own people."""

from flask import render_template, url_for
from flask_babel import gettext as _

from academy.core import audit
from academy.core.background import BackgroundJob, FileJobKind, JobFailed, Outcome, register, request_job
from academy.core.pdf import html_to_pdf
from academy.extensions import db
from academy.tabletop import report as reports
from academy.tabletop.models import LiveSession

KIND = "exercise_report"


def request_report_pdf(session: LiveSession, user) -> tuple[BackgroundJob, bool]:
    """The job making this person's view of the report as a PDF (True when new); the caller commits."""
    scope = reports.report_scope(user, session)
    return request_job(
        KIND,
        {"session_id": session.id, "scope": scope},
        requester=f"user:{user.id}",
        user_id=user.id,
        institution_id=scope if isinstance(scope, int) else None,
    )


class ExerciseReportPdf(FileJobKind):
    name = KIND

    def can_see(self, user, job: BackgroundJob) -> bool:
        """Who may read the report in the scope the file was made for."""
        session = db.session.get(LiveSession, job.params["session_id"])
        return session is not None and reports.report_scope(user, session) == job.params["scope"]

    def run(self, job: BackgroundJob, progress) -> Outcome:
        """The report's PDF as it stands now, in the scope of the person who asked."""
        session = db.session.get(LiveSession, job.params["session_id"])
        if session is None:
            raise JobFailed(_("This exercise session no longer exists."))
        scope = job.params["scope"]
        data = (
            reports.after_action_report(session)
            if scope == reports.FULL
            else reports.report_for_institution(session, scope)
        )
        progress(0.3)
        content = html_to_pdf(render_template("tabletop/report_pdf.html", report=data))
        return Outcome(
            filename=f"exercise-report-{session.id}.pdf",
            mimetype="application/pdf",
            content=content,
            detail={"scope": data["scope"], "participants": len(data["participants"]), "session_title": session.title},
        )

    def title(self, job: BackgroundJob) -> str:
        return _("After-action report (PDF) of exercise session %(number)d", number=job.params["session_id"])

    def back_url(self, job: BackgroundJob) -> str:
        return url_for("tabletop.report", session_id=job.params["session_id"])

    def downloaded(self, job: BackgroundJob, actor, **detail) -> None:
        """The same audit entry as reports.record_export, from what the job kept of the report."""
        scope = job.detail["scope"]
        session_id = job.params["session_id"]
        audit.record(
            "export.download",
            actor=actor,
            target=f"exercise report {session_id}",
            institution_id=scope["institution_id"],
            export="exercise_report",
            format="pdf",
            session_id=session_id,
            session_title=job.detail["session_title"],
            scope=scope["kind"],
            participants=job.detail["participants"],
            **detail,
        )


register(ExerciseReportPdf())
