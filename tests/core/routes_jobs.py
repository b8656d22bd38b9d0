"""Route-matrix rows of background jobs' pages and files (academy/core/job_views.py, academy/api/jobs.py), with a
finished report job."""
from datetime import timedelta

from academy.core.background import DONE, BackgroundJob
from academy.core.models import utcnow
from academy.extensions import db
from tests.route_rows import row

# The report's readers (institution A's managers and admins) follow the job; everyone else signed in meets 404.
READERS_OF_A = row(302, 404, 404, 200, 404, 200)


def report_job(w) -> int:
    """A finished completion-report PDF of institution A, asked for by its manager."""
    job = BackgroundJob(kind="completion_report", requested_by_id=w.manager_a.id, institution_id=w.institution_a.id,
                        params={"format": "pdf", "from": "2026-01-01", "to": "2026-06-30", "course_ids": None},
                        request_key=f"matrix-{utcnow().timestamp()}", status=DONE, progress=100,
                        detail={"verification_code": "AAAA-BBBB-CCCC", "courses": [], "institution": "Ministry A"},
                        filename="completion-report-ministry-a-2026-01-01-2026-06-30.pdf",
                        mimetype="application/pdf", content=b"%PDF-1.4 a test file", size=20,
                        finished_at=utcnow(), expires_at=utcnow() + timedelta(days=7))
    db.session.add(job)
    db.session.commit()
    return job.id


# The API as the report's readers' tokens: the finished job answers 303 to its file.
API_READERS_OF_A = row(401, 404, 404, 303, 404, 303)

ROUTES = {
    ("core.job", "GET"): (lambda w: f"/jobs/{report_job(w)}", READERS_OF_A),
    ("core.job_status", "GET"): (lambda w: f"/jobs/{report_job(w)}/status", READERS_OF_A),
    ("core.job_file", "GET"): (lambda w: f"/jobs/{report_job(w)}/file", READERS_OF_A),
    ("api.job_status", "GET"): (lambda w: f"/api/v1/jobs/{report_job(w)}", API_READERS_OF_A),
    ("api.job_file", "GET"): (lambda w: f"/api/v1/jobs/{report_job(w)}/file", row(401, 404, 404, 200, 404, 200)),
}
