"""What a page no longer does again on every request keeps behaving as before: the session cookie, the CSRF token,
the built links and the layout kept per process (academy/core/sessions.py, forms.py, urls.py, layout.py)."""
import time
from datetime import timedelta

import flask
import pytest

from academy.core import sessions
from tests import factories


def sign_in(client):
    client.post("/account/login", data={"email": "learner@a.org", "password": factories.PASSWORD})
    client.get("/learning")  # the first page with a form puts its CSRF token in the session: a new cookie


def test_an_unchanged_session_is_sent_again_only_once_it_is_old(app, client, world):
    sign_in(client)
    assert "Set-Cookie" not in client.get("/learning").headers
    app.config["SESSION_REFRESH_AFTER"] = timedelta(0)
    assert client.get("/learning").headers.get("Set-Cookie", "").startswith("session=")


def test_a_changed_session_is_sent_at_once(client, world):
    sign_in(client)
    answer = client.post("/account/logout")
    assert answer.status_code == 302 and answer.headers.get("Set-Cookie", "").startswith("session=")


def test_a_session_past_its_lifetime_is_over_though_it_was_read_before(app, client, world, monkeypatch):
    sign_in(client)
    assert client.get("/learning").status_code == 200
    later = time.time() + app.permanent_session_lifetime.total_seconds() + 5
    monkeypatch.setattr(sessions.time, "time", lambda: later)
    assert client.get("/learning").status_code == 302  # to the sign-in page


def test_each_request_gets_its_own_copy_of_a_session_read_before(app):
    interface = app.session_interface
    cookie = interface.get_signing_serializer(app).dumps({"guest_participants": {"1": "token"}})

    def opened():
        with app.test_request_context(headers={"Cookie": f"{app.config['SESSION_COOKIE_NAME']}={cookie}"}):
            return interface.open_session(app, flask.request)

    first = opened()
    first["guest_participants"]["2"] = "another"
    assert opened()["guest_participants"] == {"1": "token"}


def test_links_follow_the_script_root_of_each_request(client, auth, world):
    auth.as_user(world.learner)
    plain = client.get("/learning").get_data(as_text=True)
    below = client.get("/learning", base_url="http://localhost/academy").get_data(as_text=True)
    assert 'href="/static/css/academy.css"' in plain and 'href="/healthz"' in plain
    assert 'href="/academy/static/css/academy.css"' in below  # the layout kept per process
    assert 'href="/academy/healthz"' in below and 'href="/academy/courses' in below  # footer, navigation
    assert 'href="/academy/' not in client.get("/learning").get_data(as_text=True)


class TestTheCsrfTokenKeptPerSession:
    @pytest.fixture
    def settings(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_is_handed_out_again_and_accepted_and_a_wrong_one_is_not(self, client, auth, world, course):
        auth.as_user(world.learner)
        token = page_token(client, f"/courses/{course.slug}")
        assert page_token(client, f"/courses/{course.slug}") == token
        assert client.post(f"/courses/{course.slug}/enrol", data={"csrf_token": token[:-2] + "xx"}).status_code == 400
        assert client.post(f"/courses/{course.slug}/enrol", data={"csrf_token": token}).status_code == 302


def page_token(client, url) -> str:
    page = client.get(url).get_data(as_text=True)
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
