from datetime import datetime

import pytest

from academy.accounts.models import ApiToken
from academy.api.schemas.common import UtcDateTime
from academy.core.models import AuditEvent
from academy.extensions import db
from tests import factories


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def assert_error_shape(response, status):
    assert response.status_code == status
    body = response.get_json()
    assert set(body) >= {"code", "status", "message"}
    assert body["code"] == status
    assert response.content_type.startswith("application/json")
    return body


def test_openapi_document_is_served_and_describes_the_api(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/auth/token", "/api/v1/me"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_token_exchange_and_me(client, world):
    response = client.post("/api/v1/auth/token", json={"email": "Manager@A.org", "password": factories.PASSWORD,
                                                       "name": "HR system"})
    assert response.status_code == 201
    token = response.get_json()["token"]
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["email"] == "manager@a.org"
    assert me["institution_id"] == world.institution_a.id
    assert me["institution"]["name"] == "Ministry A"
    assert me["roles"] == ["manager"]
    stored = db.session.scalar(db.select(ApiToken))
    assert stored.token_hash != token and token not in stored.token_hash
    assert stored.name == "HR system"


def test_wrong_credentials_give_401_in_the_error_shape(client, world):
    body = assert_error_shape(client.post("/api/v1/auth/token", json={
        "email": "manager@a.org", "password": "wrong password"}), 401)
    assert "not correct" in body["message"]


def test_unknown_fields_and_missing_fields_give_422_with_field_errors(client, world):
    body = assert_error_shape(client.post("/api/v1/auth/token", json={
        "email": "manager@a.org", "password": "x", "admin": True}), 422)
    assert "admin" in body["errors"]["json"]
    body = assert_error_shape(client.post("/api/v1/auth/token", json={}), 422)
    assert set(body["errors"]["json"]) == {"email", "password"}


def test_malformed_json_gives_400(client):
    assert_error_shape(client.post("/api/v1/auth/token", data="{not json",
                                   content_type="application/json"), 400)


def test_missing_revoked_and_garbage_tokens_give_401(client, world):
    assert_error_shape(client.get("/api/v1/me"), 401)
    assert_error_shape(client.get("/api/v1/me", headers=bearer("garbage")), 401)
    assert_error_shape(client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401)
    token = factories.make_token(world.learner)
    db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert client.delete("/api/v1/auth/token", headers=bearer(token)).status_code == 204
    assert_error_shape(client.get("/api/v1/me", headers=bearer(token)), 401)
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "token.revoke"))


def test_deactivated_user_token_stops_working(client, world):
    token = factories.make_token(world.learner)
    world.learner.active = False
    db.session.commit()
    assert_error_shape(client.get("/api/v1/me", headers=bearer(token)), 401)


def test_unknown_api_route_and_method_give_json(client):
    assert_error_shape(client.get("/api/v1/nothing-here"), 404)
    response = client.put("/api/v1/me")
    assert_error_shape(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_every_operation_documents_its_statuses_without_a_catch_all(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operations = [operation for item in spec["paths"].values()
                  for key, operation in item.items() if key != "parameters"]
    assert operations and all("default" not in operation["responses"] for operation in operations)
    # An institution token is refused (403) by every operation meant for people.
    for path in ("/api/v1/me", "/api/v1/me/progress", "/api/v1/courses", "/api/v1/scenarios"):
        assert "403" in spec["paths"][path]["get"]["responses"], path
    assert "403" in spec["paths"]["/api/v1/auth/token"]["delete"]["responses"]
    assert {"201", "400", "401", "413", "422", "429"} <= set(spec["paths"]["/api/v1/auth/token"]["post"]["responses"])


def test_times_carry_their_utc_offset(client, world):
    field = UtcDateTime()
    assert field.serialize("at", {"at": datetime(2026, 11, 27, 9, 30, 5)}) == "2026-11-27T09:30:05Z"
    assert field.serialize("at", {"at": None}) is None
    token = factories.make_token(world.manager_a)
    world.learner.last_login_at = datetime(2026, 4, 1, 8)
    db.session.commit()
    members = client.get(f"/api/v1/institutions/{world.institution_a.id}/members", headers=bearer(token)).get_json()
    assert {item["email"]: item["last_activity"] for item in members["items"]}["learner@a.org"] == \
        "2026-04-01T08:00:00Z"


def test_unexpected_error_gives_json_500_and_rolls_back(app, client, world, monkeypatch):
    from academy.api import views

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "authenticate", explode)
    body = assert_error_shape(client.post("/api/v1/auth/token", json={
        "email": "manager@a.org", "password": factories.PASSWORD}), 500)
    assert "boom" not in body["message"]


@pytest.mark.parametrize("error", ["Forbidden", "BadRequest", "NotFound", "Unauthorized", "UnprocessableEntity"])
def test_every_http_error_under_the_api_has_one_shape(app, error):
    from werkzeug import exceptions

    from academy.core.errors import handle_http_exception

    exc = getattr(exceptions, error)()
    with app.test_request_context("/api/v1/anything"):
        response, status = handle_http_exception(exc)
    assert status == exc.code
    assert response.get_json() == {"code": exc.code, "status": exc.name, "message": exc.description}


def test_role_check_refuses_with_403(app, world):
    from werkzeug.exceptions import Forbidden

    from academy.accounts.models import Role
    from academy.api.auth import api_allow

    token = factories.make_token(world.learner)
    db.session.commit()
    guarded = api_allow(Role.ADMIN)(lambda: {"ok": True})
    with app.test_request_context("/api/v1/x", headers=bearer(token)):
        with pytest.raises(Forbidden):
            guarded()


class TestRateLimit:
    @pytest.fixture
    def settings(self):
        return {"RATELIMIT_ENABLED": True, "TOKEN_RATE_LIMIT": "2 per minute"}

    def test_token_endpoint_is_rate_limited(self, client, world):
        codes = [client.post("/api/v1/auth/token", json={"email": "manager@a.org", "password": "nope"}).status_code
                 for _ in range(3)]
        assert codes == [401, 401, 429]
        assert_error_shape(client.post("/api/v1/auth/token", json={"email": "a@b.org", "password": "x"}), 429)
