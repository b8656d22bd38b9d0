"""The completion report's PDF and XLSX as background jobs, asked for on the report form or through the API.

A PDF of 10,000 people takes seconds; made in the request it held a server worker and its database connection, and two
at once took the health check down. The job worker makes it, its page shows the progress, and the file is kept for
download by the same people who may see the report: the institution's managers and platform admins.
"""

from datetime import date

from flask import url_for
from flask_babel import gettext as _

from academy.core import audit
from academy.core.background import BackgroundJob, FileJobKind, Outcome, register, request_job
from academy.extensions import db
from academy.institutions import exports
from academy.institutions.permissions import can_view_staff
from academy.institutions.reporting import Period, completion_report
from academy.organisations.models import Institution
from academy.organisations.services import scope_to_user

KIND = "completion_report"
JOB_FORMATS = ("pdf", "xlsx")  # the CSV is made in the request: 5,000 people in well under a second
FORMAT_NAMES = {"pdf": "PDF", "xlsx": "XLSX"}
COMPUTED = 0.15  # the share of a PDF's time that computing the report takes


def request_report_file(
    institution: Institution,
    period: Period,
    course_ids: list[int] | None,
    fmt: str,
    *,
    requester: str,
    user_id: int | None,
) -> tuple[BackgroundJob, bool]:
    """The job making this report file: the pending identical request's, or a new one (True); the caller commits."""
    params = {
        "format": fmt,
        "from": period.date_from.isoformat(),
        "to": period.date_to.isoformat(),
        "course_ids": course_ids,
    }
    return request_job(KIND, params, requester=requester, user_id=user_id, institution_id=institution.id)


class CompletionReportFile(FileJobKind):
    name = KIND

    def _institution(self, user, job: BackgroundJob) -> Institution | None:
        return db.session.scalar(
            scope_to_user(db.select(Institution).where(Institution.id == job.institution_id), user, Institution.id)
        )

    def can_see(self, user, job: BackgroundJob) -> bool:
        """Whoever may read the institution's report: its managers (and its own API token) and platform admins."""
        institution = self._institution(user, job)
        return institution is not None and can_view_staff(user, institution)

    def run(self, job: BackgroundJob, progress) -> Outcome:
        """Compute the report as it stands now and render it, reporting progress as the rows are written."""
        params = job.params
        institution = db.session.get(Institution, job.institution_id)
        report = completion_report(
            institution,
            date.fromisoformat(params["from"]),
            date.fromisoformat(params["to"]),
            course_ids=params["course_ids"],
        )
        progress(COMPUTED)
        fmt = params["format"]
        content = exports.render(report, fmt, progress=lambda share: progress(COMPUTED + (1 - COMPUTED) * share))
        return Outcome(
            filename=exports.filename(report, fmt),
            mimetype=exports.MIMETYPES[fmt],
            content=content,
            detail={
                "verification_code": report.verification_code,
                "courses": report.course_slugs,
                "institution": report.institution_name,
            },
        )

    def title(self, job: BackgroundJob) -> str:
        params = job.params
        return _(
            "Completion report (%(format)s), %(start)s – %(end)s",
            format=FORMAT_NAMES[params["format"]],
            start=params["from"],
            end=params["to"],
        )

    def back_url(self, job: BackgroundJob) -> str:
        return url_for("institutions.completion_report", institution_id=job.institution_id)

    def downloaded(self, job: BackgroundJob, actor, **detail) -> None:
        """The same audit entry as a download made in the request, with the job's number."""
        params = job.params
        audit.record(
            "export.download",
            actor=actor,
            target=job.detail.get("institution"),
            institution_id=job.institution_id,
            report="completion",
            format=params["format"],
            date_from=params["from"],
            date_to=params["to"],
            courses=job.detail.get("courses"),
            verification_code=job.detail.get("verification_code"),
            **detail,
        )


register(CompletionReportFile())
