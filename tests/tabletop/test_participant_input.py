"""Odd input on the live-exercise pages: the stream's cursor, guessing join codes, control characters in what people
type, numbers too large for the database, and trainer Markdown that would load an academy page or leave the site."""
import pytest

from academy.extensions import db
from academy.tabletop import services
from academy.tabletop.models import LiveSession, Participant

BIG = "9" * 25


def console(live, action=""):
    return f"/exercises/sessions/{live.session.id}" + (f"/{action}" if action else "")


@pytest.fixture
def running(client, auth, world, live):
    auth.as_user(world.trainer)
    assert client.post(console(live, "command"), data={"command": "start"}).status_code == 302
    return live


@pytest.mark.parametrize("cursor", ["²", "٣", "9" * 5000, BIG, "-1", "1e3"])
def test_an_odd_stream_cursor_is_refused_in_the_query_and_none_in_the_header(client, running, cursor):
    url = console(running, "stream")
    everything = client.get(url, query_string={"once": 1}).get_data(as_text=True)
    assert everything.count("\nid: ") >= 1
    assert client.get(url, query_string={"once": 1, "after": cursor}).status_code == 400
    response = client.get(url, query_string={"once": 1}, headers={"Last-Event-ID": cursor})
    assert response.status_code == 200 and response.get_data(as_text=True) == everything


@pytest.mark.parametrize(("action", "data"), [
    ("assign", {"participant_id": BIG, "role": "cert"}),
    ("assign", {"participant_id": "9" * 5000, "role": "cert"}),
    ("release", {"inject_id": "press-question", "participant_id": BIG}),
    ("release-next", {"participant_id": BIG}),
    ("adhoc", {"title": "Call", "body": "Text", "audience": "participant", "participant_id": BIG}),
    ("overrides", {"target": "role:cert", "points": BIG, "reason": "Because"}),
])
def test_a_number_too_large_for_the_database_is_refused_not_a_500(client, running, action, data):
    response = client.post(console(running, action), data=data)
    assert response.status_code < 500
    assert services.state_of(running.session).adhoc == {}


def test_control_characters_never_reach_a_title_a_name_or_an_inject(client, auth, world, scenario, running):
    client.post("/exercises/new", data={"scenario": scenario.slug, "title": "Morning\x0brun\x01", "allow_guests": "y"})
    new = db.session.scalar(db.select(LiveSession).where(LiveSession.id != running.session.id))
    assert new.title == "Morning run"
    client.post(console(running, "adhoc"), data={"title": "Phone\tcall\x07", "audience": "all",
                                                 "body": "First line\x0bsecond line\x00\r\nthird"})
    adhoc = services.state_of(running.session).adhoc["adhoc-1"]
    assert (adhoc["title"], adhoc["body"]) == ("Phone call", "First line\nsecond line\r\nthird")
    auth.logout()
    with client.session_transaction() as session:
        session.clear()
    client.post(f"/join/{new.join_code}", data={"name": "Ana\x0bGuest\x01", "institution": "Invented\r\nBank"})
    guest = db.session.scalar(db.select(Participant).where(Participant.session_id == new.id))
    assert (guest.name, guest.institution_name) == ("Ana Guest", "Invented Bank")


# Trainer Markdown: the live page renders it for every participant, signed in

TRAINER_MARKDOWN = ("![the report](/institutions/1/reports/completion?format=pdf) [notes](/\\evil.example) "
                    "[more](//evil.example) ![map](/static/img/region-map.png) [course](/courses/intro-course) "
                    "[CoE](https://www.coe.int)")


def test_trainer_markdown_loads_no_academy_page_and_links_to_no_other_site_in_disguise(client, auth, world, running):
    client.post(console(running, "adhoc"), data={"title": "Briefing", "body": TRAINER_MARKDOWN, "audience": "all"})
    auth.as_user(world.learner)  # the diplomat
    pages = {"play": client.get(f"/exercises/play/{running.session.id}").get_data(as_text=True),
             "card": client.get(f"/exercises/play/{running.session.id}/injects/adhoc-1").get_data(as_text=True)}
    auth.as_user(world.trainer)
    pages["console"] = client.get(console(running)).get_data(as_text=True)
    for name, page in pages.items():
        assert "the report" in page and "/reports/completion" not in page, name
        assert "evil.example" not in page and "%5C" not in page, name
        assert '<img src="/static/img/region-map.png" alt="map">' in page, name
        assert '<a href="/courses/intro-course">course</a>' in page, name
        assert '<a href="https://www.coe.int" rel="noopener noreferrer">CoE</a>' in page, name


class TestJoinCodeLimit:
    """GET /join/<code> answers 404 for a code that is not open: guesses count against the join limit."""

    @pytest.fixture
    def settings(self):
        return {"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"}

    def test_guessing_codes_on_the_join_page_ends_in_429(self, client, live):
        assert [client.get(f"/join/GUESS{n}").status_code for n in range(3)] == [404, 404, 404]
        # Once the limit is reached, a real code answers 429 like a wrong one: nothing tells them apart.
        assert client.get("/join/GUESS4").status_code == 429
        assert client.get(f"/join/{live.session.join_code}").status_code == 429
        assert client.post(f"/join/{live.session.join_code}",
                           data={"name": "Ana Guest", "institution": "Invented Bank"}).status_code == 429

    def test_a_real_codes_page_is_free_and_joins_share_the_count_with_guesses(self, client, live):
        page = f"/join/{live.session.join_code}"
        assert [client.get(page).status_code for _ in range(5)] == [200] * 5  # a room behind one address
        assert client.post(page, data={"name": "", "institution": ""}).status_code == 200  # form errors: counted
        assert [client.get(f"/join/GUESS{n}").status_code for n in range(2)] == [404, 404]
        assert client.get(page).status_code == 429
