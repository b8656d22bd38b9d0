import re
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from academy.accounts import services
from academy.accounts.models import ApiToken, LoginThrottle
from academy.core.models import AuditEvent
from academy.extensions import db
from academy.institutions.tokens import issue_institution_token
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


FROM_STRANGER = {"REMOTE_ADDR": "203.0.113.9"}
FROM_OWNER = {"REMOTE_ADDR": "198.51.100.7"}
START = datetime(2026, 3, 2, 9, 0)


@pytest.fixture
def clock(monkeypatch):
    """Sign-in throttling's clock, moved by hand."""
    now = SimpleNamespace(value=START)
    monkeypatch.setattr(services, "utcnow", lambda: now.value)
    return now


def sign_in(client, email, password="wrong password here", source=FROM_STRANGER):
    return client.post("/account/login", data={"email": email, "password": password}, environ_base=source)


def test_known_and_unknown_addresses_get_the_same_answers_in_every_state(client, world, app, clock):
    answers = {}
    for email in ("learner@a.org", "nobody@a.org"):
        clock.value = START
        pages = [sign_in(client, email) for _ in range(app.config["LOGIN_MAX_FAILURES"] + 1)]
        pages.append(sign_in(client, email, factories.PASSWORD))  # the right password, during the wait
        clock.value += timedelta(seconds=61)
        pages.append(sign_in(client, email))
        answers[email] = [(page.status_code, page.get_data(as_text=True).replace(email, "EMAIL")) for page in pages]
    assert answers["learner@a.org"] == answers["nobody@a.org"]
    texts = [text for _status, text in answers["learner@a.org"]]
    assert "E-mail address or password is not correct." in texts[0]
    assert "Too many failed attempts. Try again in 1 minute." in texts[-3]
    assert "Too many failed attempts. Try again in 1 minute." in texts[-2]
    assert "Too many failed attempts. Try again in 2 minutes." in texts[-1]


def test_the_token_endpoint_answers_known_and_unknown_addresses_alike(client, world, app, clock):
    answers = {}
    for email in ("learner@a.org", "nobody@a.org"):
        replies = [client.post("/api/v1/auth/token", json={"email": email, "password": "wrong password here"},
                               environ_base=FROM_STRANGER) for _ in range(app.config["LOGIN_MAX_FAILURES"] + 1)]
        answers[email] = [(reply.status_code, reply.get_json()["message"]) for reply in replies]
    assert answers["learner@a.org"] == answers["nobody@a.org"]
    assert answers["learner@a.org"][-1] == (401, "Too many failed attempts. Try again in 1 minute.")


def test_a_stranger_cannot_lock_the_owner_out(client, world, clock):
    for _ in range(20):
        sign_in(client, "learner@a.org")
    refused = sign_in(client, "learner@a.org", factories.PASSWORD)  # even the right password, from that client
    assert b"Too many failed attempts" in refused.data
    assert sign_in(client, "learner@a.org", factories.PASSWORD, source=FROM_OWNER).status_code == 302
    assert client.get("/account/").status_code == 200


def test_each_failure_past_the_allowance_doubles_the_wait(client, world, app, clock):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        sign_in(client, "learner@a.org")
    waits = []
    for _ in range(4):
        page = sign_in(client, "learner@a.org").get_data(as_text=True)
        minutes = int(re.search(r"Try again in (\d+) minutes?", page).group(1))
        waits.append(minutes)
        clock.value += timedelta(minutes=minutes)
    assert waits == [1, 2, 4, 8]
    assert sign_in(client, "learner@a.org", factories.PASSWORD).status_code == 302  # the wait is over
    auth_page = sign_in(client, "learner@a.org").get_data(as_text=True)  # a success starts the count again
    assert "E-mail address or password is not correct." in auth_page


def test_the_wait_is_capped_and_old_failures_are_forgotten(client, world, app, clock):
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 20):
        sign_in(client, "learner@a.org")
        clock.value += app.config["LOGIN_MAX_DELAY"]
    throttle = db.session.scalar(db.select(LoginThrottle))
    assert throttle.blocked_until - throttle.last_failure_at == app.config["LOGIN_MAX_DELAY"]
    clock.value = throttle.last_failure_at + app.config["LOGIN_FAILURE_MEMORY"] + timedelta(seconds=1)
    assert b"E-mail address or password is not correct." in sign_in(client, "learner@a.org").data
    db.session.refresh(throttle)
    assert throttle.failures == 1 and throttle.blocked_until is None
    sign_in(client, "other@a.org")  # counting for another address clears rows nobody has used for a day
    clock.value += app.config["LOGIN_FAILURE_MEMORY"] * 2
    sign_in(client, "third@a.org")
    assert db.session.scalar(db.select(db.func.count()).select_from(LoginThrottle)) == 1


@pytest.mark.parametrize("address,client_key", [
    ("203.0.113.9", "203.0.113.9"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),  # one host usually holds a whole /64
    ("2001:db8:1:2:bbbb::2", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
    (None, "unknown"),
])
def test_throttling_counts_ipv6_clients_by_their_64(address, client_key):
    assert services.client_of(address) == client_key


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


def test_changing_the_password_revokes_personal_tokens_but_not_institution_tokens(client, auth, world):
    personal = factories.make_token(world.manager_a)
    _token, institutional = issue_institution_token(world.institution_a, "HR system")
    db.session.commit()
    bearer = {"Authorization": f"Bearer {personal}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    auth.as_user(world.manager_a)
    response = client.post("/account/password", data={
        "current": factories.PASSWORD, "password": "a brand new passphrase", "confirm": "a brand new passphrase"},
        follow_redirects=True)
    assert b"personal API tokens revoked" in response.data
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    members = f"/api/v1/institutions/{world.institution_a.id}/members"
    assert client.get(members, headers={"Authorization": f"Bearer {institutional}"}).status_code == 200
    revoked = db.session.scalars(db.select(ApiToken).where(ApiToken.revoked_at.is_not(None))).all()
    assert [token.user_id for token in revoked] == [world.manager_a.id]
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "token.revoke"))
    assert event.detail == {"reason": "password"} and event.actor_email == "manager@a.org"


def test_the_profile_says_which_tokens_a_new_password_revokes(client, auth, world):
    auth.as_user(world.learner)
    page = client.get("/account/").get_data(as_text=True)
    assert "Changing or resetting your password revokes all of them" in page
    assert "own tokens, which its managers create, are separate and keep working" in page
