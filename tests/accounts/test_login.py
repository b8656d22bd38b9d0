from datetime import timedelta

import pytest

from academy.core.models import AuditEvent, utcnow
from academy.extensions import db
from tests import factories


def actions():
    query = db.select(AuditEvent).where(AuditEvent.action.in_(["login.success", "login.failure", "logout"]))
    return [e.action for e in db.session.scalars(query.order_by(AuditEvent.id))]


def test_login_and_logout(client, auth, world):
    response = auth.login("Learner@A.org")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/account/").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/account/").status_code == 302
    assert actions()[-2:] == ["login.success", "logout"]


def test_wrong_password_gives_one_generic_message(client, auth, world):
    for email in ("learner@a.org", "nobody@a.org"):
        response = auth.login(email, "wrong password here")
        assert response.status_code == 200
        assert b"E-mail address or password is not correct." in response.data
    assert actions() == ["login.failure", "login.failure"]


def test_account_locks_after_repeated_failures(client, auth, world, app):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        auth.login("learner@a.org", "wrong password here")
    response = auth.login("learner@a.org")  # the right password, but locked
    assert b"Too many failed attempts" in response.data
    assert client.get("/account/").status_code == 302
    world.learner.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert auth.login("learner@a.org").status_code == 302


def test_deactivated_account_cannot_sign_in_and_loses_its_session(client, auth, world):
    auth.as_user(world.learner)
    assert client.get("/account/").status_code == 200
    world.learner.active = False
    db.session.commit()
    assert client.get("/account/").status_code == 302
    response = auth.login("learner@a.org")
    assert b"deactivated" in response.data


@pytest.mark.parametrize("target,expected", [
    ("/admin/", "/admin/"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_next_redirects_only_to_this_site(auth, world, target, expected):
    response = auth.login("admin@academy.org", next=target)
    assert response.headers["Location"] == expected


def test_session_is_renewed_at_login(client, auth, world):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    auth.login("learner@a.org")
    with client.session_transaction() as session:
        assert "planted" not in session


def test_tampered_session_cookie_is_ignored(client, auth, world):
    auth.login("learner@a.org")
    cookie = client.get_cookie("session")
    tampered = cookie.value[:-4] + ("AAAA" if not cookie.value.endswith("AAAA") else "BBBB")
    client.delete_cookie("session", domain=cookie.domain, path=cookie.path)
    client.set_cookie("session", tampered, domain=cookie.domain, path=cookie.path)
    response = client.get("/account/")
    assert response.status_code == 302
    assert "/account/login" in response.headers["Location"]


class TestThrottling:
    @pytest.fixture
    def settings(self):
        return {"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"}

    def test_login_posts_are_rate_limited_per_address(self, client, auth, world):
        codes = [auth.login("learner@a.org", "wrong password here").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert b"Too many requests" in auth.login("learner@a.org").data


def test_cookies_are_httponly_and_samesite(client, auth, world):
    auth.login("learner@a.org")
    cookie = client.get_cookie("session")
    assert cookie.http_only
    assert cookie.same_site == "Lax"


def test_change_password_signs_out_other_sessions(app, client, auth, world):
    other = app.test_client()
    other_auth = type(auth)(other)
    other_auth.login("learner@a.org")
    auth.login("learner@a.org")
    response = client.post("/account/password", data={
        "current": factories.PASSWORD, "password": "a brand new passphrase", "confirm": "a brand new passphrase"})
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302
    assert auth.login("learner@a.org", "a brand new passphrase").status_code == 302


def test_change_password_requires_current_and_strong_password(client, auth, world):
    auth.as_user(world.learner)
    old_hash = world.learner.password_hash
    response = client.post("/account/password", data={
        "current": "not my password", "password": "a brand new passphrase", "confirm": "a brand new passphrase"})
    assert b"This is not your current password." in response.data
    response = client.post("/account/password", data={
        "current": factories.PASSWORD, "password": "short", "confirm": "short"})
    assert b"Use at least 10 characters." in response.data
    db.session.refresh(world.learner)
    assert world.learner.password_hash == old_hash
