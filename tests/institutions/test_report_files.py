"""The completion report's PDF and XLSX as background jobs: the page that follows one, its progress, who may see it,
the file's expiry and audit, a failure's message, double submissions, and the API's 202 / Location / poll / file."""
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from academy.accounts.models import Role
from academy.core import background
from academy.core.background import DONE, FAILED, QUEUED, RUNNING, BackgroundJob
from academy.core.jobs import huey
from academy.core.models import AuditEvent, utcnow
from academy.extensions import db
from academy.institutions import exports
from academy.institutions.tokens import issue_institution_token
from tests import factories
from tests.institutions.routes_dashboard import crafted
from tests.institutions.test_reports import request_report

QUEUE_ONLY = {"JOBS_IMMEDIATE": False}  # the request only queues: the test runs the worker's part itself


def pdf_text(data: bytes) -> str:
    return " ".join("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def job_page(client, response):
    assert response.status_code == 303, response.status_code
    assert re.fullmatch(r"/jobs/\d+", response.headers["Location"])
    return client.get(response.headers["Location"])


def file_link(page) -> str:
    return re.search(r'data-testid="job-file" href="([^"]+)"', page.get_data(as_text=True)).group(1)


def only_job() -> BackgroundJob:
    (job,) = db.session.scalars(db.select(BackgroundJob)).all()
    return job


def run_queued_jobs() -> int:
    """What the job worker does: take each queued task and run it (in this test's application context)."""
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran


def downloads() -> list[AuditEvent]:
    return db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "export.download")
                              .order_by(AuditEvent.id)).all()


@pytest.fixture
def crafted_world(world, course):
    world.course = course
    world.people = crafted(world, course)
    return world


def test_a_pdf_is_made_by_a_job_whose_page_offers_the_file(client, auth, crafted_world):
    w = crafted_world
    auth.as_user(w.manager_a)
    page = job_page(client, request_report(client, w.institution_a, "pdf"))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Completion report (PDF), 2026-01-01 – 2026-06-30" in html
    assert '<progress id="job-progress" class="w-100 mb-2" max="100" value="100">' in html
    assert re.search(r'role="status" aria-live="polite"[^>]*>Ready: the file is kept until [A-Z][a-z]{2} \d{1,2}, \d{4}', html)
    assert 'src="/static/js/job.js"' in html and "<script>" not in html  # the CSP allows no inline script
    response = client.get(file_link(page))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    text = pdf_text(response.data)
    job = only_job()
    assert job.detail["verification_code"] in text and "Alice Complete" in text and "Erin Departed" in text
    assert job.requested_by_id == w.manager_a.id and job.institution_id == w.institution_a.id
    assert (job.status, job.progress, job.kind, job.params["format"]) == (DONE, 100, "completion_report", "pdf")
    assert timedelta(days=6, hours=23) < job.expires_at - utcnow() <= timedelta(days=7)


def test_the_xlsx_job_gives_the_workbook(client, auth, crafted_world):
    auth.as_user(crafted_world.manager_a)
    page = job_page(client, request_report(client, crafted_world.institution_a, "xlsx", course="intro-course"))
    response = client.get(file_link(page))
    assert response.mimetype == exports.MIMETYPES["xlsx"].split(";")[0]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["Summary", "An introduction", "Not enrolled", "Left the institution", "Exercises"]
    emails = sorted(row[1] for row in book["An introduction"].iter_rows(min_row=2, values_only=True))
    assert emails == ["alice@a.org", "bob@a.org", "carol@a.org", "dave@a.org"]


@pytest.mark.parametrize("settings", [QUEUE_ONLY])
def test_a_queued_job_shows_its_progress_until_the_worker_has_made_the_file(client, auth, crafted_world):
    auth.as_user(crafted_world.manager_a)
    page = job_page(client, request_report(client, crafted_world.institution_a, "pdf"))
    html = page.get_data(as_text=True)
    assert '<progress id="job-progress" class="w-100 mb-2" max="100">' in html  # no value: not started yet
    assert "Waiting for the job worker to start." in html and 'data-testid="job-file-line"' in html
    assert re.search(r'<p class="mb-0" hidden data-testid="job-file-line">', html)
    status_url = re.search(r'data-status-url="([^"]+)"', html).group(1)
    status = client.get(status_url).get_json()
    assert (status["status"], status["progress"], status["file_url"]) == (QUEUED, 0, None)
    assert client.get(f"{page.request.path}/file").status_code == 303  # not ready: back to its page

    job = only_job()
    job.created_at -= timedelta(minutes=5)  # a worker that never came
    db.session.commit()
    assert "the worker may not be running" in client.get(status_url).get_json()["message"]

    assert run_queued_jobs() == 1
    status = client.get(status_url).get_json()
    assert (status["status"], status["progress"]) == (DONE, 100)
    assert status["file_url"] == f"{page.request.path}/file" and status["filename"].endswith(".pdf")
    assert client.get(status["file_url"]).data.startswith(b"%PDF")


def test_progress_is_written_to_the_job_while_the_rows_are_rendered(app, client, auth, crafted_world, monkeypatch):
    seen = []
    original = background.Progress.__call__

    def watch(self, share):
        original(self, share)
        seen.append(db.session.scalar(db.select(BackgroundJob.progress).where(BackgroundJob.id == self.job_id)))

    monkeypatch.setattr(background.Progress, "PERIOD", 0)
    monkeypatch.setattr(background.Progress, "__call__", watch)
    monkeypatch.setattr("academy.core.tabular_pdf.PROGRESS_EVERY", 1)  # a report per row of the people tables
    auth.as_user(crafted_world.manager_a)
    job_page(client, request_report(client, crafted_world.institution_a, "pdf"))
    assert len(seen) >= 5 and seen == sorted(seen) and seen[0] == 15 and seen[-1] == 99
    assert only_job().progress == 100


def test_only_the_reports_readers_may_follow_the_job_or_download_its_file(client, auth, crafted_world):
    w = crafted_world
    colleague = factories.make_user("colleague@a.org", roles=(Role.MANAGER,), institution=w.institution_a)
    db.session.commit()
    auth.as_user(w.manager_a)
    path = request_report(client, w.institution_a, "pdf").headers["Location"]
    for user, status in ((w.manager_b, 404), (w.learner, 404), (w.trainer, 404), (colleague, 200), (w.admin, 200)):
        auth.as_user(user)
        for suffix in ("", "/status", "/file"):
            assert client.get(path + suffix).status_code == status, (user.email, suffix)
    auth.logout()
    assert client.get(path).status_code == 302  # to the sign-in page
    assert [event.actor_id for event in downloads()] == [colleague.id, w.admin.id]


def test_every_download_is_audited_with_the_report_and_the_job(client, auth, crafted_world):
    w = crafted_world
    auth.as_user(w.manager_a)
    page = job_page(client, request_report(client, w.institution_a, "pdf", course="intro-course"))
    assert downloads() == []  # asking for a file is not downloading it
    for _ in range(2):
        assert client.get(file_link(page)).status_code == 200
    job = only_job()
    events = downloads()
    assert len(events) == 2
    for event in events:
        assert (event.actor_id, event.institution_id, event.target) == (w.manager_a.id, w.institution_a.id,
                                                                         "Ministry A")
        assert event.detail == {"report": "completion", "format": "pdf", "date_from": "2026-01-01",
                                "date_to": "2026-06-30", "courses": ["intro-course"], "job_id": job.id,
                                "verification_code": job.detail["verification_code"], "via": "web"}


def test_an_expired_file_is_gone_and_its_page_says_so(app, client, auth, crafted_world):
    auth.as_user(crafted_world.manager_a)
    page = job_page(client, request_report(client, crafted_world.institution_a, "pdf"))
    job = only_job()
    job.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    html = client.get(page.request.path).get_data(as_text=True)
    assert "This file was deleted after 7 days. Prepare it again." in html and 'data-testid="job-file-line"' in html
    assert re.search(r'<p class="mb-0" hidden data-testid="job-file-line">', html)
    assert client.get(f"{page.request.path}/status").get_json()["status"] == "expired"
    assert client.get(f"{page.request.path}/file").status_code == 303
    assert downloads() == []
    assert background.delete_expired() == 1
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count(BackgroundJob.id))) == 0
    assert client.get(page.request.path).status_code == 404


@pytest.mark.parametrize("settings", [{"REPORT_FILES_DAYS": 2}])
def test_the_retention_is_a_setting(client, auth, crafted_world):
    auth.as_user(crafted_world.manager_a)
    html = job_page(client, request_report(client, crafted_world.institution_a, "xlsx")).get_data(as_text=True)
    assert "Files are kept for 2 days after they are ready" in html
    assert timedelta(days=1, hours=23) < only_job().expires_at - utcnow() <= timedelta(days=2)


def test_a_failed_job_says_what_happened_and_offers_to_start_again(client, auth, crafted_world, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(exports, "render", broken)
    auth.as_user(crafted_world.manager_a)
    page = job_page(client, request_report(client, crafted_world.institution_a, "pdf"))
    html = page.get_data(as_text=True)
    assert "This could not be prepared because of an unexpected error, which has been logged." in html
    assert re.search(r'<p class="mb-0" data-testid="job-again-line">\s*<a class="btn btn-outline-primary" '
                     r'href="/institutions/\d+/reports/completion">Start again</a>', html)
    assert "the disk is full" not in html and "the disk is full" in caplog.text
    assert (only_job().status, client.get(f"{page.request.path}/file").status_code) == (FAILED, 303)


def test_a_reason_the_person_can_act_on_is_shown_as_it_is(client, auth, crafted_world, monkeypatch):
    def refused(*args, **kwargs):
        raise background.JobFailed("The report is too large for one PDF: choose fewer courses.")

    monkeypatch.setattr(exports, "render", refused)
    auth.as_user(crafted_world.manager_a)
    html = job_page(client, request_report(client, crafted_world.institution_a, "pdf")).get_data(as_text=True)
    assert "The report is too large for one PDF: choose fewer courses." in html


@pytest.mark.parametrize("settings", [QUEUE_ONLY])
def test_a_double_submission_takes_effect_once(client, auth, crafted_world):
    auth.as_user(crafted_world.manager_a)
    first = request_report(client, crafted_world.institution_a, "pdf").headers["Location"]
    second = request_report(client, crafted_world.institution_a, "pdf").headers["Location"]
    other = request_report(client, crafted_world.institution_a, "xlsx").headers["Location"]
    assert first == second != other
    assert huey.pending_count() == 2 and db.session.scalar(db.select(db.func.count(BackgroundJob.id))) == 2
    run_queued_jobs()
    assert request_report(client, crafted_world.institution_a, "pdf").headers["Location"] == first  # just done
    job = db.session.get(BackgroundJob, int(first.rsplit("/", 1)[1]))
    job.finished_at -= timedelta(minutes=5)
    db.session.commit()
    assert request_report(client, crafted_world.institution_a, "pdf").headers["Location"] != first  # a new report


@pytest.mark.parametrize("settings", [QUEUE_ONLY])
def test_two_requests_at_the_same_moment_share_one_job(app, crafted_world):
    """The partial unique index: the second insert of an identical pending request fails, and it takes the first."""
    w = crafted_world
    params = {"format": "pdf", "from": "2026-01-01", "to": "2026-06-30", "course_ids": None}
    with app.test_request_context():
        first, new = background.request_job("completion_report", params, requester="user:1", user_id=w.manager_a.id,
                                             institution_id=w.institution_a.id)
        db.session.commit()
        twin = BackgroundJob(kind="completion_report", params=params, request_key=first.request_key,
                             institution_id=w.institution_a.id, expires_at=utcnow() + timedelta(days=1))
        with pytest.raises(background.IntegrityError), db.session.begin_nested():
            db.session.add(twin)
        db.session.rollback()
        again, new_again = background.request_job("completion_report", params, requester="user:1",
                                                  user_id=w.manager_a.id, institution_id=w.institution_a.id)
    assert new and not new_again and again.id == first.id


def test_a_job_whose_worker_died_counts_as_failed_and_a_new_request_starts_afresh(client, auth, crafted_world):
    w = crafted_world
    auth.as_user(w.manager_a)
    path = request_report(client, w.institution_a, "pdf").headers["Location"]
    job = only_job()
    job.status, job.started_at, job.finished_at = RUNNING, utcnow() - timedelta(hours=1), None
    db.session.commit()
    assert client.get(f"{path}/status").get_json()["status"] == FAILED
    assert request_report(client, w.institution_a, "pdf").headers["Location"] != path
    assert db.session.get(BackgroundJob, job.id).status == FAILED


def test_the_pdf_prints_the_regions_scripts_in_its_embedded_font(client, auth, world, course):
    for email, name in (("ana@a.org", "Ëndërr Çelik"), ("djordje@a.org", "Ђорђе Ѓорѓиевски"),
                        ("zeljka@a.org", "Željka Šćepanović-Đurić")):
        factories.make_user(email, name=name, institution=world.institution_a)
    db.session.commit()
    auth.as_user(world.manager_a)
    page = job_page(client, request_report(client, world.institution_a, "pdf"))
    data = client.get(file_link(page)).data
    text = pdf_text(data)
    assert "Ëndërr Çelik" in text and "Ђорђе Ѓорѓиевски" in text and "Željka Šćepanović-Đurić" in text
    fonts = {str(font["/BaseFont"]) for page in PdfReader(io.BytesIO(data)).pages
             for font in page["/Resources"]["/Font"].values()}
    assert fonts and all("DejaVuSansCondensed" in font for font in fonts)


# --- The API --------------------------------------------------------------------------------------------------------

def bearer(user):
    return {"Authorization": f"Bearer {factories.make_token(user)}"}


def api_report(client, world, fmt, headers):
    return client.get(f"/api/v1/institutions/{world.institution_a.id}/completion-report?format={fmt}"
                      "&from=2026-01-01&to=2026-06-30", headers=headers)


def test_the_api_answers_202_with_a_location_then_303_then_the_file(client, crafted_world):
    w = crafted_world
    headers = bearer(w.manager_a)
    db.session.commit()
    accepted = api_report(client, w, "pdf", headers)
    assert accepted.status_code == 202 and accepted.headers["Retry-After"] == "1"
    location = accepted.headers["Location"]
    assert re.fullmatch(r"/api/v1/jobs/\d+", location) and accepted.get_json()["kind"] == "completion_report"
    polled = client.get(location, headers=headers)
    assert polled.status_code == 303 and polled.headers["Location"] == f"{location}/file"
    body = polled.get_json()
    assert (body["status"], body["progress"], body["file_url"]) == (DONE, 100, f"{location}/file")
    assert body["expires_at"].endswith("Z") and body["filename"].endswith(".pdf")
    response = client.get(f"{location}/file", headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "Alice Complete" in pdf_text(response.data)
    (event,) = downloads()
    assert (event.actor_id, event.detail["via"], event.detail["format"], event.detail["token_owner"]) == (
        w.manager_a.id, "api", "pdf", "user")


@pytest.mark.parametrize("settings", [QUEUE_ONLY])
def test_the_api_job_is_polled_until_done_and_a_repeat_gets_the_same_job(client, crafted_world):
    w = crafted_world
    headers = bearer(w.manager_a)
    db.session.commit()
    location = api_report(client, w, "xlsx", headers).headers["Location"]
    assert api_report(client, w, "xlsx", headers).headers["Location"] == location
    polled = client.get(location, headers=headers)
    assert polled.status_code == 200 and polled.get_json()["status"] == QUEUED and polled.headers["Retry-After"]
    assert client.get(f"{location}/file", headers=headers).status_code == 409
    run_queued_jobs()
    assert client.get(location, headers=headers).status_code == 303
    assert client.get(f"{location}/file", headers=headers).data[:2] == b"PK"


def test_the_institutions_own_token_follows_its_job_and_no_one_elses(client, crafted_world):
    w = crafted_world
    _token, raw = issue_institution_token(w.institution_a, "HR system")
    db.session.commit()
    own = {"Authorization": f"Bearer {raw}"}
    location = api_report(client, w, "pdf", own).headers["Location"]
    assert client.get(f"{location}/file", headers=own).status_code == 200
    assert downloads()[-1].detail["token_owner"] == "institution"
    for user in (w.manager_b, w.learner, w.trainer):
        assert client.get(location, headers=bearer(user)).status_code == 404
        assert client.get(f"{location}/file", headers=bearer(user)).status_code == 404
    assert client.get(location).status_code == 401
    assert client.get(location, headers=bearer(w.admin)).status_code == 303


def test_an_expired_api_file_answers_410(client, crafted_world):
    headers = bearer(crafted_world.manager_a)
    db.session.commit()
    location = api_report(client, crafted_world, "pdf", headers).headers["Location"]
    job = only_job()
    job.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    for url in (location, f"{location}/file"):
        response = client.get(url, headers=headers)
        assert response.status_code == 410 and "deleted after 7 days" in response.get_json()["message"]


def test_the_openapi_document_describes_the_jobs(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    report = spec["paths"]["/api/v1/institutions/{institution_id}/completion-report"]["get"]
    assert "202" in report["responses"]
    assert {"200", "303", "404", "410"} <= set(spec["paths"]["/api/v1/jobs/{job_id}"]["get"]["responses"])
    assert {"200", "409", "410"} <= set(spec["paths"]["/api/v1/jobs/{job_id}/file"]["get"]["responses"])
