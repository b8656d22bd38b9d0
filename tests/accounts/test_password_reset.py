import logging

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import event

from academy.accounts import services
from academy.accounts.models import ApiToken
from academy.core.jobs import huey
from academy.core.models import AuditEvent
from academy.extensions import db
from tests import factories
from tests.conftest import ANY_HOST_BEHIND_A_PROXY, EVIL_HOST

SAME_ANSWER = b"If an account exists for that address"


def reset_link_from_log(caplog):
    for record in caplog.records:
        if "/account/reset/" in record.getMessage():
            line = next(l for l in record.getMessage().splitlines() if "/account/reset/" in l)
            return line.strip().split("localhost", 1)[1]
    raise AssertionError("no reset link in the log")


def test_reset_request_answers_the_same_for_unknown_and_known(client, world, caplog):
    caplog.set_level(logging.WARNING)
    known = client.post("/account/reset", data={"email": "learner@a.org"}, follow_redirects=True)
    unknown = client.post("/account/reset", data={"email": "ghost@a.org"}, follow_redirects=True)
    assert SAME_ANSWER in known.data and SAME_ANSWER in unknown.data
    assert known.status_code == unknown.status_code == 200
    messages = [r.getMessage() for r in caplog.records if "Mail to" in r.getMessage()]
    assert len(messages) == 1 and "learner@a.org" in messages[0]


def test_full_reset_flow_and_token_is_single_use(client, auth, world, caplog):
    caplog.set_level(logging.WARNING)
    client.post("/account/reset", data={"email": "learner@a.org"})
    link = reset_link_from_log(caplog)
    assert client.get(link).status_code == 200
    response = client.post(link, data={"password": "fresh secure phrase", "confirm": "fresh secure phrase"})
    assert response.status_code == 302
    assert auth.login("learner@a.org", "fresh secure phrase").status_code == 302
    auth.logout()
    reused = client.post(link, data={"password": "another new phrase", "confirm": "another new phrase"},
                         follow_redirects=True)
    assert b"invalid, has expired or has already been used" in reused.data
    assert auth.login("learner@a.org", "fresh secure phrase").status_code == 302
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "password.reset"))


def test_forged_token_is_refused(app, client, world):
    forged = URLSafeTimedSerializer("not-the-secret", salt="password-reset").dumps(
        {"uid": world.learner.id, "fp": "x"})
    response = client.post(f"/account/reset/{forged}", data={"password": "p" * 12 + "q1", "confirm": "p" * 12 + "q1"},
                           follow_redirects=True)
    assert b"invalid, has expired" in response.data
    old = world.learner.password_hash
    db.session.refresh(world.learner)
    assert world.learner.password_hash == old


def test_expired_token_is_refused(app, client, world, monkeypatch):
    token = services.make_reset_token(world.learner)
    app.config["PASSWORD_RESET_MAX_AGE"] = -1
    response = client.get(f"/account/reset/{token}", follow_redirects=True)
    assert b"invalid, has expired" in response.data


def test_weak_password_at_reset_changes_nothing(client, world):
    token = services.make_reset_token(world.learner)
    old = world.learner.password_hash
    response = client.post(f"/account/reset/{token}", data={"password": "short", "confirm": "short"})
    assert response.status_code == 200
    assert b"Use at least 10 characters." in response.data
    db.session.refresh(world.learner)
    assert world.learner.password_hash == old


@pytest.mark.parametrize("payload", ["[1, 2]", '"just a string"'])
def test_well_signed_but_malformed_payload_is_refused(app, world, payload):
    import json

    token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="password-reset").dumps(json.loads(payload))
    assert services.user_for_reset_token(token) is None


def fake_smtp(monkeypatch, app, sent: list):
    """Record what would go to the mail server, with MAIL_SERVER set."""

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            sent.append(("connect", host, port))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, message):
            sent.append(("send", message["To"], message["Subject"]))

    monkeypatch.setattr(services.smtplib, "SMTP", FakeSMTP)
    app.config["MAIL_SERVER"] = "smtp.example.org"


def test_reset_mail_goes_through_smtp_when_configured(app, world, monkeypatch):
    sent = []
    fake_smtp(monkeypatch, app, sent)
    with app.test_request_context():
        services.send_mail("learner@a.org", "Subject line", "Body")
    assert sent == [("connect", "smtp.example.org", 25), ("send", "learner@a.org", "Subject line")]


class TestResetOutsideTheRequest:
    @pytest.fixture
    def settings(self):
        return {"JOBS_IMMEDIATE": False}  # the request only enqueues; the test runs the queue

    def test_known_and_unknown_addresses_get_the_same_request_work(self, app, client, world, monkeypatch):
        sent = []
        fake_smtp(monkeypatch, app, sent)
        work = {}
        for email in ("learner@a.org", "ghost@a.org"):
            statements = []
            listener = lambda _conn, _cursor, statement, *args: statements.append(statement)  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                response = client.post("/account/reset", data={"email": email})
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
            queued = [huey.dequeue() for _ in range(huey.pending_count())]
            work[email] = (response.status_code, response.headers["Location"], statements,
                           [(task.name, task.args[1:]) for task in queued], sent[:])
            work[email + " jobs"] = queued
        assert work["learner@a.org"] == work["ghost@a.org"]
        assert work["learner@a.org"][3] == [("send_password_reset", ("127.0.0.1",))]
        assert sent == []  # no mail server is spoken to while the request runs
        for task in work["learner@a.org jobs"] + work["ghost@a.org jobs"]:
            huey.execute(task)
        assert [entry for entry in sent if entry[0] == "send"] == [("send", "learner@a.org",
                                                                     "Reset your academy password")]
        event_row = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "password.reset_request"))
        assert event_row.actor_email == "learner@a.org" and event_row.ip == "127.0.0.1"


@pytest.mark.parametrize("settings", [ANY_HOST_BEHIND_A_PROXY])
def test_reset_link_is_on_the_public_url_whatever_host_the_request_names(client, world, caplog, hostile_headers):
    caplog.set_level(logging.WARNING)
    response = client.post("/account/reset", data={"email": "learner@a.org"}, headers=hostile_headers)
    assert response.status_code == 302
    [mail] = [r.getMessage() for r in caplog.records if "Mail to" in r.getMessage()]
    assert EVIL_HOST not in mail and "\n\nhttp://localhost/account/reset/" in mail


def test_a_reset_request_naming_another_host_is_refused(client, world, caplog):
    caplog.set_level(logging.WARNING)
    response = client.post("/account/reset", data={"email": "learner@a.org"}, headers={"Host": EVIL_HOST})
    assert response.status_code == 400
    assert not [r for r in caplog.records if "Mail to" in r.getMessage()]


def test_resetting_the_password_revokes_personal_tokens(client, world):
    raw = factories.make_token(world.learner)
    db.session.commit()
    token = services.make_reset_token(world.learner)
    response = client.post(f"/account/reset/{token}", data={"password": "fresh secure phrase",
                                                            "confirm": "fresh secure phrase"}, follow_redirects=True)
    assert b"personal API tokens revoked" in response.data
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert db.session.scalar(db.select(ApiToken)).revoked_at is not None


def test_the_reset_mail_is_written_in_the_language_the_person_chose(client, world, caplog):
    world.learner.locale = "mk"
    db.session.commit()
    caplog.set_level(logging.INFO)
    client.post("/account/reset", data={"email": "learner@a.org"}, headers={"Accept-Language": "en"})
    mail = "\n".join(record.getMessage() for record in caplog.records)
    from flask_babel import force_locale, gettext

    with force_locale("mk"):
        subject = gettext("Reset your academy password")
    assert subject != "Reset your academy password"
    assert subject in mail  # Macedonian, whatever language the form was sent in
