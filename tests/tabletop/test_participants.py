"""Joining a session, the play page, inject cards and decisions, as participants and as strangers."""
from datetime import timedelta

import pytest
from markupsafe import Markup

from academy.core.models import utcnow
from academy.extensions import db
from academy.tabletop import engine, services, ticker
from academy.tabletop.models import Participant, SessionEvent
from academy.tabletop.participant_views import email_parts, exercise_markdown, exercise_text
from tests import factories

JSON = {"Accept": "application/json"}
# Titles of the fixture scenario's injects, by who may see them.
DIPLOMAT_SEES = ["A note from the neighbour", "The minister calls", "Crisis meeting", "Brief the minister"]
DIPLOMAT_NEVER_SEES = ["Online banking portal unreachable", "The bank calls", "Firewall log excerpt",
                       "A journalist calls you", "The bank asks for help"]


def start(live, trainer):
    services.run_command(live.session, "start", trainer)
    db.session.commit()


def release(live, trainer, *inject_ids, participant_id=None):
    for inject_id in inject_ids:
        services.release(live.session, inject_id, "early", trainer, participant_id=participant_id)
    db.session.commit()


def release_everything(live, trainer):
    """Every scheduled inject, and the one-person inject to the operator."""
    start(live, trainer)
    ticker.tick(live.session, now=utcnow() + timedelta(hours=2))
    release(live, trainer, "press-question", participant_id=live.operator.participant.id)


def decisions() -> int:
    return db.session.scalar(db.select(db.func.count(SessionEvent.id)).where(SessionEvent.kind == engine.DECIDED))


def participants(live) -> int:
    return db.session.scalar(db.select(db.func.count(Participant.id)).where(Participant.session_id == live.session.id))


def play_url(live):
    return f"/exercises/play/{live.session.id}"


def answer(client, live, inject_id, option="", rationale="Because", headers=None):
    return client.post(f"{play_url(live)}/decisions", headers=headers or {},
                       data={"inject_id": inject_id, "option": option, "rationale": rationale})


# Joining

def test_signed_in_user_joins_as_themselves_once(client, auth, live, world):
    auth.as_user(world.manager_a)
    before = participants(live)
    response = client.post("/join", data={"code": f"  {live.session.join_code.lower()} "})
    assert response.status_code == 302 and response.headers["Location"].endswith(play_url(live))
    again = client.post(f"/join/{live.session.join_code}")
    assert again.headers["Location"].endswith(play_url(live))
    joined = db.session.scalars(db.select(Participant).where(Participant.session_id == live.session.id,
                                                             Participant.user_id == world.manager_a.id)).all()
    assert participants(live) == before + 1 and len(joined) == 1
    assert joined[0].name == world.manager_a.name and joined[0].guest_token is None
    assert client.get(f"/join/{live.session.join_code}").status_code == 302  # already in: to the play page


def test_guest_joins_with_name_and_institution_when_allowed(client, live):
    page = client.get(f"/join/{live.session.join_code}")
    assert page.status_code == 200 and b"Your institution" in page.data
    before = participants(live)
    response = client.post(f"/join/{live.session.join_code}", data={"name": "Ana Guest", "institution": "MFA X"})
    assert response.headers["Location"].endswith(play_url(live))
    guest = db.session.scalar(db.select(Participant).where(Participant.name == "Ana Guest"))
    assert guest.user_id is None and guest.institution_name == "MFA X" and guest.guest_token
    play = client.get(play_url(live))
    assert play.status_code == 200 and b"Ana Guest" in play.data and b"Waiting for the trainer" in play.data
    client.post(f"/join/{live.session.join_code}", data={"name": "Ana Guest", "institution": "MFA X"})
    client.post("/join", data={"code": live.session.join_code})
    assert participants(live) == before + 1  # the same guest, recognised by the token in their session


def test_guest_must_give_name_and_institution(client, live):
    before = participants(live)
    response = client.post(f"/join/{live.session.join_code}", data={"name": "", "institution": "x" * 201})
    assert response.status_code == 200
    assert b"Enter your name." in response.data and b"between 2 and 200 characters" in response.data
    assert participants(live) == before


def test_guests_are_asked_to_sign_in_when_the_trainer_does_not_allow_them(client, live):
    live.session.allow_guests = False
    db.session.commit()
    before = participants(live)
    page = client.get(f"/join/{live.session.join_code}")
    assert b"Sign in to join" in page.data and b"Your institution" not in page.data
    for response in (client.post(f"/join/{live.session.join_code}", data={"name": "Ana", "institution": "MFA"}),
                     client.post("/join", data={"code": live.session.join_code})):
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/account/login?next=/join/{live.session.join_code}")
    assert participants(live) == before


def test_unknown_or_ended_code_is_refused_with_a_clear_message(client, auth, live, world):
    auth.as_user(world.manager_a)
    before = participants(live)
    response = client.post("/join", data={"code": "ZZZZZZ"})
    assert response.status_code == 200 and b"No open session has this code" in response.data
    assert client.get("/join/ZZZZZZ").status_code == 404
    services.run_command(live.session, "end", world.trainer)
    db.session.commit()
    for response in (client.post("/join", data={"code": live.session.join_code}),
                     client.get(f"/join/{live.session.join_code}"),
                     client.post(f"/join/{live.session.join_code}")):
        assert b"No open session has this code" in response.data
    assert participants(live) == before


def test_empty_code_is_asked_for(client):
    response = client.post("/join", data={"code": ""})
    assert response.status_code == 200 and b"Enter the code your trainer gave you." in response.data


# The play page and inject cards

def test_play_page_shows_exactly_the_injects_of_the_role_and_person(client, auth, live, world):
    release_everything(live, world.trainer)
    auth.as_user(live.diplomat.user)
    page = client.get(play_url(live)).get_data(as_text=True)
    for title in DIPLOMAT_SEES:
        assert title in page
    for title in DIPLOMAT_NEVER_SEES:
        assert title not in page
    assert "You answer foreign notes." in page and "You keep the bank online." not in page
    auth.as_user(live.operator.user)
    page = client.get(play_url(live)).get_data(as_text=True)
    assert "A journalist calls you" in page and "The bank calls" in page and "The minister calls" not in page
    assert "HTTP 503 on all front ends." in page  # the artefact of the alert


def test_inject_card_applies_the_same_visibility(client, auth, live, world):
    release_everything(live, world.trainer)
    url = f"{play_url(live)}/injects"
    auth.as_user(live.diplomat.user)
    assert client.get(f"{url}/embassy-note").status_code == 200
    for hidden in ("bank-call", "alert-bank-portal", "press-question", "neighbour-confirms", "no-such-inject"):
        assert client.get(f"{url}/{hidden}").status_code == 404
    auth.as_user(live.operator.user)
    card = client.get(f"{url}/press-question")
    assert card.status_code == 200 and b"A journalist calls you" in card.data and b"<html" not in card.data
    auth.as_user(world.trainer)
    trainer_card = client.get(f"{url}/bank-call")
    assert trainer_card.status_code == 200 and b"Send the traffic to the scrubbing service" in trainer_card.data
    assert b"decision-form" not in trainer_card.data


def test_play_page_is_not_found_for_anyone_but_participants(client, auth, live, world):
    assert client.get(play_url(live)).status_code == 404
    for user in (world.manager_a, world.trainer, world.admin):
        auth.as_user(user)
        assert client.get(play_url(live)).status_code == 404
    assert client.get("/exercises/play/999999").status_code == 404


def test_play_page_shows_status_clock_brief_and_ad_hoc_injects(client, auth, live, world):
    auth.as_user(live.diplomat.user)
    lobby = client.get(play_url(live)).get_data(as_text=True)
    assert "Waiting to start" in lobby and 'data-running="0"' in lobby and "No injects yet" in lobby
    start(live, world.trainer)
    services.release_adhoc(live.session, "Minister on the phone", "Call **back** now", {"roles": ["diplomat"]},
                           world.trainer)
    db.session.commit()
    page = client.get(play_url(live)).get_data(as_text=True)
    assert 'data-running="1"' in page and "Minister on the phone" in page and "<strong>back</strong>" in page
    assert "From the trainer" in page and 'data-stream-url="/exercises/sessions/' in page
    auth.as_user(live.operator.user)
    assert "Minister on the phone" not in client.get(play_url(live)).get_data(as_text=True)


def test_an_ad_hoc_inject_that_asks_for_a_response_gets_a_written_answer_once(client, auth, live, world):
    start(live, world.trainer)
    services.release_adhoc(live.session, "Minister on the phone", "What do we tell the press?", {"roles": ["diplomat"]},
                           world.trainer, asks_response=True)
    services.release_adhoc(live.session, "For your information", "The bank reopened.", {"all": True}, world.trainer)
    db.session.commit()
    auth.as_user(live.diplomat.user)
    page = client.get(play_url(live)).get_data(as_text=True)
    asking = page.split('id="inject-adhoc-1"')[1].split("</article>")[0]
    informing = page.split('id="inject-adhoc-2"')[1].split("</article>")[0]
    assert "The trainer asks for your response." in asking and 'value="adhoc-1"' in asking
    assert 'name="rationale"' in asking and 'name="option"' not in asking
    assert "<form" not in informing and "asks for your response" not in informing
    assert answer(client, live, "adhoc-1", option="a", rationale="Hold a briefing").status_code == 400
    assert decisions() == 0
    assert answer(client, live, "adhoc-1", rationale="Hold a briefing at noon").status_code in (200, 302)
    assert answer(client, live, "adhoc-1", rationale="A second answer").status_code in (409, 302)
    assert decisions() == 1
    page = client.get(play_url(live)).get_data(as_text=True)
    assert "Hold a briefing at noon" in page and "A second answer" not in page


def test_a_participant_without_a_role_waits_for_one(client, auth, live, world):
    newcomer = factories.make_user("new@a.org")
    services.join(live.session, user=newcomer)
    db.session.commit()
    auth.as_user(newcomer)
    page = client.get(play_url(live)).get_data(as_text=True)
    assert "Waiting for the trainer to assign your role" in page and "Your decisions, newest first." in page


def test_scenario_text_is_rendered_safely():
    assert "<script" not in exercise_markdown("Hi <script>alert(1)</script> **there**")
    assert "<strong>there</strong>" in exercise_markdown("**there**")
    text = exercise_text("line <b>one</b>\nline two\n\nsecond")
    assert isinstance(text, Markup) and text == Markup("<p>line &lt;b&gt;one&lt;/b&gt;<br>line two</p><p>second</p>")
    headers, body = email_parts("From: a@b.example\nSubject: Hello\n\nDear colleagues,\nhi")
    assert headers == [("From", "a@b.example"), ("Subject", "Hello")] and body == "Dear colleagues,\nhi"
    assert email_parts("Dear colleagues") == ([], "Dear colleagues")


# Decisions

def test_answer_by_form_post_is_recorded_and_shown_instead_of_the_form(client, auth, live, world):
    start(live, world.trainer)
    release(live, world.trainer, "bank-call")
    auth.as_user(live.operator.user)
    response = answer(client, live, "bank-call", "scrub", "Keep the bank online")
    assert response.status_code == 302 and response.headers["Location"].endswith("#inject-bank-call")
    page = client.get(play_url(live)).get_data(as_text=True)
    assert "Your answer is recorded." in page and "Your answer, sent at" in page
    assert "Keep the bank online" in page and 'name="rationale"' not in page
    assert decisions() == 1


def test_answer_by_fetch_gets_json_and_the_new_card(client, auth, live, world):
    start(live, world.trainer)
    release(live, world.trainer, "operator-log")
    auth.as_user(live.operator.user)
    response = answer(client, live, "operator-log", rationale="Keep the firewall logs", headers=JSON)
    assert response.status_code == 200 and response.json["ok"] is True
    assert "Keep the firewall logs" in response.json["card_html"] and "decision-form" not in response.json["card_html"]
    assert decisions() == 1


def test_a_double_submit_counts_once(client, auth, live, world):
    start(live, world.trainer)
    release(live, world.trainer, "bank-call")
    auth.as_user(live.operator.user)
    assert answer(client, live, "bank-call", "scrub", "First").status_code == 302
    second = answer(client, live, "bank-call", "shut-down", "Second", headers=JSON)
    assert second.status_code == 409 and "already answered" in second.json["message"]
    third = answer(client, live, "bank-call", "shut-down", "Third")
    assert third.status_code == 302 and b"already answered" in client.get(play_url(live)).data
    assert decisions() == 1
    event = db.session.scalar(db.select(SessionEvent).where(SessionEvent.kind == engine.DECIDED))
    assert event.payload["option_id"] == "scrub" and event.payload["rationale"] == "First"


@pytest.mark.parametrize("inject_id, option, rationale, message", [
    ("bank-call", "", "Because", "Choose one of the options."),
    ("bank-call", "no-such-option", "Because", "Choose one of the options."),
    ("bank-call", "scrub", "   ", "Explain your choice"),
    ("operator-log", "scrub", "Because", "written response only"),
    ("embassy-note", "consult", "Because", "This inject is not in your feed."),  # the diplomat's
    ("neighbour-confirms", "", "Because", "This inject is not in your feed."),  # not released
    ("", "", "Because", "Choose the inject you are answering."),
])
def test_refused_answers_say_why_and_record_nothing(client, auth, live, world, inject_id, option, rationale,
                                                   message):
    start(live, world.trainer)
    release(live, world.trainer, "bank-call", "operator-log", "embassy-note")
    auth.as_user(live.operator.user)
    by_fetch = answer(client, live, inject_id, option, rationale, headers=JSON)
    assert by_fetch.status_code == 400 and message in by_fetch.json["message"]
    by_form = answer(client, live, inject_id, option, rationale)
    assert by_form.status_code == 400 and message in by_form.get_data(as_text=True)
    assert decisions() == 0


def test_a_refused_form_post_keeps_what_was_typed(client, auth, live, world):
    start(live, world.trainer)
    release(live, world.trainer, "bank-call")
    auth.as_user(live.operator.user)
    page = answer(client, live, "bank-call", "no-such-option", "My careful reasoning").get_data(as_text=True)
    assert "My careful reasoning</textarea>" in page and "Your answer was not recorded" in page


def test_answers_to_closed_injects_are_refused(client, auth, live, world):
    start(live, world.trainer)
    release(live, world.trainer, "alert-bank-portal")
    services.close_inject(live.session, "alert-bank-portal", world.trainer)
    db.session.commit()
    auth.as_user(live.cert.user)
    page = client.get(play_url(live)).get_data(as_text=True)
    assert "Responses to this inject are closed." in page and 'name="rationale"' not in page
    response = answer(client, live, "alert-bank-portal", "wait", "Late", headers=JSON)
    assert response.status_code == 400 and response.json["message"] == "Responses to this inject are closed."
    assert decisions() == 0


def test_strangers_cannot_answer(client, auth, live, world):
    start(live, world.trainer)
    release(live, world.trainer, "joint-meeting")
    assert answer(client, live, "joint-meeting", "coordinate", "Anon").status_code == 404
    for user in (world.manager_a, world.trainer):
        auth.as_user(user)
        assert answer(client, live, "joint-meeting", "coordinate", "Not mine", headers=JSON).status_code == 404
    assert decisions() == 0


def test_role_log_shows_decisions_of_the_same_role_only(client, auth, live, world):
    start(live, world.trainer)
    release(live, world.trainer, "alert-bank-portal")
    team_mate = factories.make_user("cert2@a.org")
    services.assign_role(live.session, services.join(live.session, user=team_mate), "cert", world.trainer)
    db.session.commit()
    auth.as_user(live.cert.user)
    answer(client, live, "alert-bank-portal", "call-neighbour", "Share before the press does")
    auth.as_user(team_mate)
    page = client.get(play_url(live)).get_data(as_text=True)
    assert "Share before the press does" in page and "Call the neighbouring CERT" in page
    assert live.cert.participant.name in page
    assert 'name="rationale"' in page  # a team-mate's answer is not theirs: they still answer for themselves
    auth.as_user(live.operator.user)
    assert "Share before the press does" not in client.get(play_url(live)).get_data(as_text=True)
