"""The exercise API: scenarios, session summaries and after-action reports, scoped to who is asking."""
import json

import pytest

from academy.accounts.models import Role
from academy.core.models import AuditEvent
from academy.extensions import db
from academy.tabletop import services
from academy.tabletop.report import after_action_report
from tests import factories
from tests.tabletop.test_report import CERT_RATIONALE, OPERATOR_RATIONALE, played  # noqa: F401 (fixture)


def get(client, url, user):
    return client.get(url, headers={"Authorization": f"Bearer {factories.make_token(user)}"})


def report_api(played):
    return f"/api/v1/exercise-sessions/{played.session.id}/report"


def test_openapi_document_describes_the_exercise_resources(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {"/api/v1/scenarios", "/api/v1/exercise-sessions",
            "/api/v1/exercise-sessions/{session_id}/report"} <= set(spec["paths"])
    report = spec["paths"]["/api/v1/exercise-sessions/{session_id}/report"]["get"]
    assert {"200", "401", "403", "404"} <= set(report["responses"])
    listing = spec["paths"]["/api/v1/exercise-sessions"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"page", "per_page"}
    assert "AfterActionReport" in spec["components"]["schemas"]


def test_scenarios_list_roles_objectives_and_injects_per_role(client, world, scenario):
    response = get(client, "/api/v1/scenarios", world.learner)
    assert response.status_code == 200
    [listed] = response.get_json()
    assert (listed["slug"], listed["version"], listed["duration_minutes"]) == ("fixture-scenario", 1, 60)
    assert [r["code"] for r in listed["roles"]] == ["diplomat", "cert", "operator"]
    assert {"code": "cert-share", "role": "cert", "title": "Share indicators within the hour"} in listed["objectives"]
    assert listed["injects_per_role"] == {"diplomat": 7, "cert": 4, "operator": 7}
    assert (listed["one_person_injects"], listed["total_injects"]) == (1, 12)
    text = json.dumps(listed)
    assert "The monitoring shows the portal down." not in text and "You run the technical picture." not in text
    assert client.get("/api/v1/scenarios").status_code == 401


def test_session_summaries_are_scoped_to_the_caller(client, world, played):
    outsider = factories.make_user("manager@c.org", roles=(Role.MANAGER,), institution=factories.make_institution())
    other_trainer = factories.make_user("trainer2@a.org", roles=(Role.TRAINER,), institution=world.institution_a)
    db.session.commit()

    def names(user):
        body = get(client, "/api/v1/exercise-sessions", user).get_json()
        return body["total"], [(item["scope"], sorted(p["name"] for p in item["participants"]))
                               for item in body["items"]]

    everyone = sorted(["Dita Certi", "Bojan Operatori", "Gita Guest", world.learner.name])
    assert names(world.trainer) == (1, [("full", everyone)])
    assert names(world.admin) == (1, [("full", everyone)])
    assert names(world.manager_a) == (1, [("institution", sorted(["Dita Certi", world.learner.name]))])
    assert names(world.manager_b) == (1, [("institution", ["Bojan Operatori"])])
    assert names(outsider) == (0, []) and names(other_trainer) == (0, [])
    assert get(client, "/api/v1/exercise-sessions", world.learner).status_code == 403
    item = get(client, "/api/v1/exercise-sessions", world.trainer).get_json()["items"][0]
    assert item["scenario"]["slug"] == "fixture-scenario" and item["status"] == "ended"
    assert item["report_url"] == report_api(played) and item["trainer"] == world.trainer.name


def test_session_summaries_are_paginated(client, world, scenario):
    for number in range(3):
        services.create_session(world.trainer, scenario, f"Session {number}", allow_guests=False)
    db.session.commit()
    first = get(client, "/api/v1/exercise-sessions?per_page=2", world.trainer).get_json()
    assert (first["total"], first["pages"], first["page"], len(first["items"])) == (3, 2, 1, 2)
    assert [i["title"] for i in first["items"]] == ["Session 2", "Session 1"]
    second = get(client, "/api/v1/exercise-sessions?per_page=2&page=2", world.trainer).get_json()
    assert [i["title"] for i in second["items"]] == ["Session 0"]
    for bad in ("per_page=101", "per_page=0", "page=0", "page=x"):
        assert get(client, f"/api/v1/exercise-sessions?{bad}", world.trainer).status_code == 422, bad


def test_report_json_is_the_report_of_the_page(client, world, played):
    response = get(client, report_api(played), world.trainer)
    assert response.status_code == 200
    assert response.get_json() == json.loads(json.dumps(after_action_report(played.session)))


def test_report_for_a_manager_holds_only_their_people(client, world, played):
    data = get(client, report_api(played), world.manager_a).get_json()
    assert data["scope"]["kind"] == "institution"
    assert {p["institution"] for p in data["participants"]} == {"Ministry A"}
    text = json.dumps(data)
    for private in ("Bojan Operatori", "Gita Guest", OPERATOR_RATIONALE, "bank-call", "operator-log"):
        assert private not in text, private
    assert CERT_RATIONALE in text
    data_b = get(client, report_api(played), world.manager_b).get_json()
    assert [p["name"] for p in data_b["participants"]] == ["Bojan Operatori"]
    assert CERT_RATIONALE not in json.dumps(data_b) and "embassy-note" not in json.dumps(data_b)


@pytest.mark.parametrize("who, status", [("outsider", 404), ("other_trainer", 404), ("learner", 403),
                                         ("admin", 200)])
def test_report_refused_to_those_who_may_not_see_it(client, world, played, who, status):
    users = {"outsider": lambda: factories.make_user("m@c.org", roles=(Role.MANAGER,),
                                                    institution=factories.make_institution()),
             "other_trainer": lambda: factories.make_user("t2@a.org", roles=(Role.TRAINER,)),
             "learner": lambda: world.learner, "admin": lambda: world.admin}
    user = users[who]()
    db.session.commit()
    response = get(client, report_api(played), user)
    assert response.status_code == status
    if status == 404:
        assert "Bojan" not in response.get_data(as_text=True)
    assert get(client, f"/api/v1/exercise-sessions/{played.session.id + 50}/report", world.admin).status_code == 404


def test_report_api_calls_are_audited(client, world, played):
    get(client, report_api(played), world.manager_b)
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "export.download"))
    assert (event.actor_id, event.institution_id, event.detail["format"], event.detail["scope"]) == (
        world.manager_b.id, world.institution_b.id, "api", "institution")
