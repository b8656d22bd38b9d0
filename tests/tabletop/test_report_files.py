"""The after-action report's PDF as a background job: asked for with a POST, made by the job worker, followed on its
page and downloaded by whoever may read the report, in the scope it was made for; each download audited."""
import re

import pytest

from academy.core.background import DONE, QUEUED, BackgroundJob
from academy.core.jobs import huey
from academy.core.models import AuditEvent
from academy.extensions import db
from tests.tabletop.test_report import pdf_text, played  # noqa: F401  (the played session fixture)


def ask(client, session_id):
    return client.post(f"/exercises/sessions/{session_id}/report.pdf")


def test_the_trainer_asks_for_the_pdf_and_its_page_offers_it(client, auth, played, world):  # noqa: F811
    auth.as_user(world.trainer)
    report_page = client.get(f"/exercises/sessions/{played.session.id}/report").get_data(as_text=True)
    assert re.search(rf'<form method="post" action="/exercises/sessions/{played.session.id}/report.pdf">', report_page)
    asked = ask(client, played.session.id)
    assert asked.status_code == 303
    page = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert f"After-action report (PDF) of exercise session {played.session.id}" in page
    link = re.search(r'data-testid="job-file" href="([^"]+)"', page).group(1)
    response = client.get(link)
    assert response.headers["Content-Disposition"] == f"attachment; filename=exercise-report-{played.session.id}.pdf"
    assert "Gita Guest" in pdf_text(response.data)
    job = db.session.scalar(db.select(BackgroundJob))
    assert (job.kind, job.status, job.params, job.institution_id) == (
        "exercise_report", DONE, {"session_id": played.session.id, "scope": "full"}, None)


def test_a_managers_file_holds_their_people_only_and_is_theirs_to_follow(client, auth, played, world):  # noqa: F811
    auth.as_user(world.manager_a)
    path = ask(client, played.session.id).headers["Location"]
    page = client.get(path).get_data(as_text=True)
    text = pdf_text(client.get(re.search(r'data-testid="job-file" href="([^"]+)"', page).group(1)).data)
    assert "Dita Certi" in text and "Bojan Operatori" not in text and "Gita Guest" not in text
    for user in (world.manager_b, world.learner, world.trainer):  # the trainer reads the whole report, not this one
        auth.as_user(user)
        assert client.get(path).status_code == 404 and client.get(f"{path}/file").status_code == 404, user.email
    auth.as_user(world.admin)
    assert client.get(path).status_code == 404  # an admin reads the whole report: another file, another job
    assert ask(client, played.session.id).headers["Location"] != path
    events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "export.download")).all()
    assert [(e.detail["format"], e.detail["scope"], e.actor_id, e.institution_id, e.detail["via"]) for e in events] \
        == [("pdf", "institution", world.manager_a.id, world.institution_a.id, "web")]


@pytest.mark.parametrize("settings", [{"JOBS_IMMEDIATE": False}])
def test_the_request_only_queues_the_pdf(client, auth, played, world):  # noqa: F811
    auth.as_user(world.trainer)
    path = ask(client, played.session.id).headers["Location"]
    assert ask(client, played.session.id).headers["Location"] == path  # a double click: the same job
    assert huey.pending_count() == 1
    assert client.get(f"{path}/status").get_json()["status"] == QUEUED
    huey.execute(huey.dequeue())
    assert client.get(f"{path}/status").get_json()["status"] == DONE
