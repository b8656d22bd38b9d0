"""Institution API tokens: created and revoked by managers, shown once, usable only on their institution's data."""
import hashlib
import re

import pytest

from academy.accounts.models import ApiToken
from academy.core.models import AuditEvent
from academy.extensions import db
from academy.institutions.tokens import issue_institution_token


def create(client, institution, name="HR system"):
    response = client.post(f"/institutions/{institution.id}/tokens", data={"name": name})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    match = re.search(r'data-testid="new-token">([^<]+)<', page)
    return match.group(1) if match else None, page


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


def test_manager_creates_a_token_shown_once_and_stored_as_a_hash(client, auth, world):
    auth.as_user(world.manager_a)
    raw, page = create(client, world.institution_a)
    assert raw and raw.startswith("wbci_")
    assert "it will not be shown again" in page
    token = db.session.scalar(db.select(ApiToken))
    assert token.institution_id == world.institution_a.id and token.user_id is None
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest() and raw not in token.token_hash
    assert token.name == "HR system" and raw.startswith(token.prefix)
    again = client.get(f"/institutions/{world.institution_a.id}/tokens").get_data(as_text=True)
    assert raw not in again and "HR system" in again and token.prefix in again
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "token.create"))
    assert event.institution_id == world.institution_a.id and event.actor_email == "manager@a.org"


def test_a_token_needs_a_name(client, auth, world):
    auth.as_user(world.manager_a)
    raw, page = create(client, world.institution_a, name="")
    assert raw is None and "This field is required." in page
    assert db.session.scalar(db.select(db.func.count(ApiToken.id))) == 0


def test_the_token_reads_its_own_institution_only(client, auth, world, course):
    auth.as_user(world.manager_a)
    raw, _page = create(client, world.institution_a)
    auth.logout()
    own = f"/api/v1/institutions/{world.institution_a.id}"
    for what in ("members", "progress", "completion-report", "completion-report?format=csv"):
        assert client.get(f"{own}/{what}", headers=bearer(raw)).status_code == 200, what
    members = client.get(f"{own}/members", headers=bearer(raw)).get_json()
    assert "learner@a.org" in {item["email"] for item in members["items"]}
    other = client.get(f"/api/v1/institutions/{world.institution_b.id}/members", headers=bearer(raw))
    assert other.status_code == 404 and other.get_json()["code"] == 404
    export = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "export.download")).all()
    assert export and all(e.actor_id is None and e.detail["token_owner"] == "institution" for e in export)
    assert db.session.scalar(db.select(ApiToken)).last_used_at is not None


@pytest.mark.parametrize("method, path", [("GET", "/api/v1/me"), ("GET", "/api/v1/courses"),
                                          ("GET", "/api/v1/me/progress"), ("GET", "/api/v1/exercise-sessions"),
                                          ("DELETE", "/api/v1/auth/token")])
def test_the_token_is_refused_everywhere_else(client, world, method, path):
    _token, raw = issue_institution_token(world.institution_a, "HR system")
    db.session.commit()
    response = client.open(path, method=method, headers=bearer(raw))
    assert response.status_code == 403
    assert "institution token" in response.get_json()["message"]


def test_a_revoked_token_stops_working(client, auth, world):
    auth.as_user(world.manager_a)
    raw, _page = create(client, world.institution_a)
    members = f"/api/v1/institutions/{world.institution_a.id}/members"
    assert client.get(members, headers=bearer(raw)).status_code == 200
    token = db.session.scalar(db.select(ApiToken))
    response = client.post(f"/institutions/{world.institution_a.id}/tokens/{token.id}/revoke")
    assert response.status_code == 302
    assert client.get(members, headers=bearer(raw)).status_code == 401
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "token.revoke"))
    assert event.institution_id == world.institution_a.id
    page = client.get(f"/institutions/{world.institution_a.id}/tokens").get_data(as_text=True)
    assert "revoked" in page and f"/tokens/{token.id}/revoke" not in page


def test_the_token_belongs_to_the_institution_not_the_manager(client, auth, world):
    auth.as_user(world.manager_a)
    raw, _page = create(client, world.institution_a)
    world.manager_a.active = False
    db.session.commit()
    assert client.get(f"/api/v1/institutions/{world.institution_a.id}/members", headers=bearer(raw)).status_code == 200
    world.institution_a.active = False
    db.session.commit()
    assert client.get(f"/api/v1/institutions/{world.institution_a.id}/members", headers=bearer(raw)).status_code == 401


def test_learners_and_trainers_cannot_manage_tokens(client, auth, world):
    token, _raw = issue_institution_token(world.institution_a, "HR system")
    db.session.commit()
    base = f"/institutions/{world.institution_a.id}/tokens"
    for who in (world.learner, world.trainer):
        auth.as_user(who)
        assert client.get(base).status_code == 403
        assert client.post(base, data={"name": "Mine"}).status_code == 403
        assert client.post(f"{base}/{token.id}/revoke").status_code == 403
    assert db.session.scalar(db.select(db.func.count(ApiToken.id))) == 1
    assert db.session.get(ApiToken, token.id).is_live


def test_another_institutions_manager_gets_404(client, auth, world):
    token, _raw = issue_institution_token(world.institution_a, "Payroll of A")
    db.session.commit()
    auth.as_user(world.manager_b)
    base = f"/institutions/{world.institution_a.id}/tokens"
    assert client.get(base).status_code == 404
    assert client.post(base, data={"name": "Sneaky"}).status_code == 404
    assert client.post(f"{base}/{token.id}/revoke").status_code == 404
    # Through their own institution's page, A's token does not exist either.
    assert client.post(f"/institutions/{world.institution_b.id}/tokens/{token.id}/revoke").status_code == 404
    assert db.session.get(ApiToken, token.id).is_live
    assert "Payroll of A" not in client.get(f"/institutions/{world.institution_b.id}/tokens").get_data(as_text=True)


def test_a_personal_token_is_not_an_institution_token(client, auth, world):
    from tests import factories

    personal = factories.issue_token(world.manager_a, "Mine")[0]
    db.session.commit()
    auth.as_user(world.manager_a)
    assert client.post(f"/institutions/{world.institution_a.id}/tokens/{personal.id}/revoke").status_code == 404
    page = client.get(f"/institutions/{world.institution_a.id}/tokens").get_data(as_text=True)
    assert "This institution has no API tokens yet." in page


def test_admins_manage_any_institutions_tokens(client, auth, world):
    auth.as_user(world.admin)
    raw, _page = create(client, world.institution_b, name="Registry sync")
    assert client.get(f"/api/v1/institutions/{world.institution_b.id}/members", headers=bearer(raw)).status_code == 200


def test_a_token_has_exactly_one_owner(world):
    from sqlalchemy.exc import IntegrityError

    db.session.add(ApiToken(user_id=world.learner.id, institution_id=world.institution_a.id, name="both",
                            prefix="x", token_hash="0" * 64))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_the_page_says_institution_tokens_outlive_a_managers_password(client, auth, world):
    auth.as_user(world.manager_a)
    page = client.get(f"/institutions/{world.institution_a.id}/tokens").get_data(as_text=True)
    assert "it keeps working if you leave or change your password" in page
