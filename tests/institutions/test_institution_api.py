"""The institution API: members, progress and the completion report; tenant isolation, pagination, CSV, audit."""
import csv
import io
from datetime import date, datetime

import pytest

from academy.core.models import AuditEvent
from academy.extensions import db
from academy.institutions import exports
from academy.institutions.reporting import completion_report
from tests import factories
from tests.institutions.routes_regional import enrol, exercise


def bearer(user):
    token = factories.make_token(user)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def assert_error_shape(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) >= {"code", "status", "message"} and body["code"] == status
    return body


def url(world, what, institution=None):
    return f"/api/v1/institutions/{(institution or world.institution_a).id}/{what}"


@pytest.fixture
def trained(world, course):
    """The learner of A completed the course with a certificate and played an exercise; the trainer is enrolled."""
    enrol(world.learner, course, completed_at=datetime(2026, 5, 1, 10), score=90, certificate=True)
    enrol(world.trainer, course)
    exercise(world.trainer, [world.learner])
    db.session.commit()
    return world


@pytest.mark.parametrize("what", ["members", "progress", "completion-report"])
def test_access_per_caller(client, world, what):
    assert client.get(url(world, what), headers=bearer(world.manager_a)).status_code == 200
    assert client.get(url(world, what), headers=bearer(world.admin)).status_code == 200
    assert client.get(url(world, what, world.institution_b), headers=bearer(world.admin)).status_code == 200
    body = assert_error_shape(client.get(url(world, what), headers=bearer(world.manager_b)), 404)
    assert body["message"] == "No institution with this id is visible to you."
    assert_error_shape(client.get(f"/api/v1/institutions/999999/{what}", headers=bearer(world.admin)), 404)
    assert_error_shape(client.get(url(world, what), headers=bearer(world.learner)), 403)
    assert_error_shape(client.get(url(world, what), headers=bearer(world.trainer)), 403)
    assert_error_shape(client.get(url(world, what)), 401)


def test_members_lists_own_people_with_last_activity(client, trained, course):
    world = trained
    world.learner.last_login_at = datetime(2026, 4, 1)
    db.session.commit()
    body = client.get(url(world, "members"), headers=bearer(world.manager_a)).get_json()
    assert body["institution_id"] == world.institution_a.id and body["total"] == 3
    emails = [item["email"] for item in body["items"]]
    assert set(emails) == {"learner@a.org", "trainer@a.org", "manager@a.org"}
    learner = next(item for item in body["items"] if item["email"] == "learner@a.org")
    assert learner["track"] == "diplomat" and learner["roles"] == ["learner"] and learner["active"] is True
    # The quiz submission (2026-05-01) is later than the last sign-in: the same figure as the report's.
    assert learner["last_activity"].startswith("2026-05-01T10:00")
    report = completion_report(world.institution_a, date(2026, 1, 1), date(2026, 12, 31))
    row = next(r for r in report.people if r.user_id == world.learner.id)
    assert learner["last_activity"].startswith(row.last_activity.isoformat())


def test_members_who_left_are_listed_and_filterable(client, world):
    world.trainer.active = False
    db.session.commit()
    headers = bearer(world.manager_a)
    everyone = client.get(url(world, "members"), headers=headers).get_json()
    assert {i["email"]: i["active"] for i in everyone["items"]}["trainer@a.org"] is False
    left = client.get(url(world, "members") + "?active=false", headers=headers).get_json()
    assert [i["email"] for i in left["items"]] == ["trainer@a.org"]


def test_progress_has_enrolments_certificates_and_exercises(client, trained):
    world = trained
    body = client.get(url(world, "progress"), headers=bearer(world.manager_a)).get_json()
    people = {item["email"]: item for item in body["items"]}
    learner = people["learner@a.org"]
    [enrolment] = learner["enrolments"]
    assert enrolment["course_slug"] == "intro-course" and enrolment["status"] == "complete"
    assert enrolment["completed_at"].startswith("2026-05-01") and enrolment["best_score"] == 90
    assert enrolment["certificate_code"].startswith("TEST-")
    [played] = learner["exercises"]
    assert played["title"] == "Regional drill" and played["scenario_slug"] == "fixture-scenario"
    trainer = people["trainer@a.org"]
    assert trainer["enrolments"][0]["status"] == "not_started" and trainer["enrolments"][0]["certificate_code"] is None
    assert people["manager@a.org"] == {**people["manager@a.org"], "enrolments": [], "exercises": []}


def test_pagination_bounds_and_totals(client, world):
    for n in range(7):
        factories.make_user(f"staff{n}@a.org", institution=world.institution_a, name=f"Staff {n}")
    db.session.commit()
    headers = bearer(world.manager_a)
    first = client.get(url(world, "members") + "?per_page=4", headers=headers).get_json()
    assert (first["total"], first["pages"], first["per_page"], len(first["items"])) == (10, 3, 4, 4)
    last = client.get(url(world, "progress") + "?per_page=4&page=3", headers=headers).get_json()
    assert len(last["items"]) == 2 and last["page"] == 3
    beyond = client.get(url(world, "members") + "?per_page=4&page=9", headers=headers).get_json()
    assert beyond["items"] == [] and beyond["total"] == 10
    body = assert_error_shape(client.get(url(world, "members") + "?per_page=101", headers=headers), 422)
    assert "per_page" in body["errors"]["query"]
    assert_error_shape(client.get(url(world, "members") + "?page=0", headers=headers), 422)


def test_the_openapi_document_describes_the_institution_api(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    base = "/api/v1/institutions/{institution_id}/"
    for what in ("members", "progress", "completion-report"):
        operation = spec["paths"][base + what]["get"]
        assert {"200", "401", "403", "404"} <= set(operation["responses"])
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"page", "per_page"} <= {p["name"] for p in operation["parameters"]}
    report = spec["paths"][base + "completion-report"]["get"]
    assert {"format", "from", "to"} <= {p["name"] for p in report["parameters"]}
    assert {"application/json", "text/csv"} <= set(report["responses"]["200"]["content"])
    assert "422" in report["responses"]


def test_completion_report_json_is_the_reports_numbers(client, trained):
    world = trained
    response = client.get(url(world, "completion-report") + "?from=2026-01-01&to=2026-12-31",
                          headers=bearer(world.manager_a))
    body = response.get_json()
    report = completion_report(world.institution_a, date(2026, 1, 1), date(2026, 12, 31))
    assert body["verification_code"] == report.verification_code
    assert (body["from"], body["to"]) == ("2026-01-01", "2026-12-31")
    assert body["all_courses"]["enrolled"] == 2 and body["all_courses"]["complete"] == 1
    assert body["totals"]["certificates"] == 1 and body["totals"]["exercises_attended"] == 1
    assert body["total"] == len(report.people) and body["definitions"]
    assert [c["slug"] for c in body["courses"]] == ["intro-course"]
    period_out = client.get(url(world, "completion-report") + "?from=2026-06-01&to=2026-06-30",
                            headers=bearer(world.manager_a)).get_json()
    assert period_out["all_courses"]["completed_in_period"] == 0 and period_out["all_courses"]["complete"] == 1


def test_completion_report_csv_neutralises_formulas(client, world, course):
    evil = factories.make_user("evil@a.org", institution=world.institution_a, name="=HYPERLINK(\"http://x\",\"y\")")
    enrol(evil, course)
    db.session.commit()
    response = client.get(url(world, "completion-report") + "?format=csv&from=2026-01-01&to=2026-12-31",
                          headers=bearer(world.manager_a))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    cells = [cell for row in rows for cell in row if cell]
    assert "'=HYPERLINK(\"http://x\",\"y\")" in cells and "evil@a.org" in cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)


def test_completion_report_csv_is_the_download_csv(client, world, course):
    enrol(world.learner, course, completed_at=datetime(2026, 5, 1), score=80, certificate=True)
    db.session.commit()
    response = client.get(url(world, "completion-report") + "?format=csv&from=2026-01-01&to=2026-12-31",
                          headers=bearer(world.manager_a))
    report = completion_report(world.institution_a, date(2026, 1, 1), date(2026, 12, 31))
    assert response.headers["X-Verification-Code"] == report.verification_code

    def without_generated_at(body: bytes) -> list[list[str]]:
        rows = csv.reader(io.StringIO(body.decode("utf-8-sig")))
        return [row for row in rows if not (row and row[0].startswith("Generated at"))]

    assert without_generated_at(response.data) == without_generated_at(exports.report_csv(report))


def test_end_before_start_is_refused_with_a_clear_message(client, world):
    body = assert_error_shape(client.get(url(world, "completion-report") + "?from=2026-05-02&to=2026-05-01",
                                         headers=bearer(world.manager_a)), 422)
    assert "end date" in body["message"] and "before the start date" in body["message"]
    assert "to" in body["errors"]["query"]
    assert not db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "export.download"))


@pytest.mark.parametrize("query, field", [("?format=docx", "format"), ("?from=yesterday", "from"),
                                          ("?course=no-such-course", "course")])
def test_bad_report_parameters_give_422(client, world, course, query, field):
    body = assert_error_shape(client.get(url(world, "completion-report") + query, headers=bearer(world.manager_a)),
                              422)
    assert field in body["errors"]["query"]


def test_every_export_is_audited(client, world):
    headers = bearer(world.manager_a)
    for what in ("members", "progress", "completion-report?format=csv", "completion-report"):
        assert client.get(url(world, what), headers=headers).status_code == 200
    events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "export.download")
                                .order_by(AuditEvent.id)).all()
    assert [e.detail["kind"] for e in events] == ["members", "progress", "completion-report", "completion-report"]
    assert [e.detail.get("format") for e in events[2:]] == ["csv", "json"]
    assert all(e.actor_email == "manager@a.org" and e.institution_id == world.institution_a.id for e in events)
    assert events[-1].detail["verification_code"]
