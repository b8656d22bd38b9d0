"""The trainer console: sessions, the pinned scenario, the clock, releases, ad-hoc injects, the board, notes."""
import re
from datetime import timedelta

import pytest

from academy.accounts.models import Role
from academy.core.models import utcnow
from academy.extensions import db
from academy.tabletop import board, console_views, engine, services, ticker
from academy.tabletop.models import LiveSession, SessionEvent
from academy.tabletop.scenario_sync import sync_scenarios
from academy.tabletop.scoring import objective_scores
from tests import factories
from tests.conftest import ANY_HOST_BEHIND_A_PROXY, EVIL_HOST, keep_signed_in_on
from tests.tabletop.scenario_fixture import SCENARIO, ScenarioFolder


def url(live, action=""):
    return f"/exercises/sessions/{live.session.id}" + (f"/{action}" if action else "")


@pytest.fixture
def trainer(auth, world):
    return auth.as_user(world.trainer)


@pytest.fixture
def running(client, trainer, live):
    """The live session started through the console; the ticker, woken by the start, sends the offset-0 inject."""
    assert client.post(url(live, "command"), data={"command": "start"}).status_code == 302
    assert ticker.release_due() == 1
    return live


def state(live):
    return services.state_of(live.session)


def kinds(live, kind):
    return db.session.scalars(db.select(SessionEvent).where(SessionEvent.session_id == live.session.id,
                                                            SessionEvent.kind == kind)).all()


def flashed(client) -> list[str]:
    with client.session_transaction() as cookie:
        return [message for _category, message in cookie.get("_flashes", [])]


def feed(live, person) -> set:
    """The inject ids a participant's feed holds, as the stream and the page would give them."""
    return {e.payload["inject_id"] for e in services.visible_events(live.session, person.participant)
            if e.kind == engine.RELEASED}


# Sessions and the pinned scenario version

def test_new_session_pins_the_scenario_version(client, trainer, scenario, tmp_path):
    form = client.get(f"/exercises/new?scenario={scenario.slug}")
    assert '<option selected value="fixture-scenario">' in form.text
    response = client.post("/exercises/new", data={"scenario": scenario.slug, "title": "Morning run",
                                                   "allow_guests": "y"})
    live = db.session.scalar(db.select(LiveSession))
    assert response.headers["Location"].endswith(f"/exercises/sessions/{live.id}")
    assert live.allow_guests and live.title == "Morning run" and live.scenario_version.number == 1

    folder = ScenarioFolder(tmp_path / "live")
    folder.edit(SCENARIO, "title: A small scenario for the tests", "title: A revised scenario")
    sync_scenarios(folder.folder, {"first-module"})
    db.session.commit()
    db.session.refresh(scenario)
    assert scenario.current_version.number == 2
    db.session.refresh(live)
    assert live.scenario_version.number == 1
    assert services.scenario_of(live).title == "A small scenario for the tests"
    page = client.get(f"/exercises/sessions/{live.id}").text
    assert "A small scenario for the tests · version 1" in page
    client.post("/exercises/new", data={"scenario": scenario.slug, "title": "Afternoon run"})
    newer = db.session.scalar(db.select(LiveSession).where(LiveSession.title == "Afternoon run"))
    assert newer.scenario_version.number == 2


def test_unknown_scenario_is_refused_and_nothing_is_created(client, trainer, scenario):
    response = client.post("/exercises/new", data={"scenario": "no-such-scenario", "title": "x"})
    assert response.status_code == 200
    assert "Choose one of the available scenarios." in response.text
    assert db.session.scalar(db.select(db.func.count(LiveSession.id))) == 0


def test_double_submitted_new_session_form_creates_one_session(client, trainer, scenario):
    page = client.get("/exercises/new").text
    nonce = re.search(r'name="nonce" type="hidden" value="([^"]+)"', page).group(1)
    data = {"scenario": scenario.slug, "title": "Twice", "nonce": nonce}
    first = client.post("/exercises/new", data=data)
    second = client.post("/exercises/new", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    # Two requests racing with the same cookie: the one-minute repeat check catches the second.
    client.post("/exercises/new", data={**data, "nonce": "lost-cookie"})
    assert db.session.scalar(db.select(db.func.count(LiveSession.id))) == 1
    client.post("/exercises/new", data={**data, "title": "Another room", "nonce": ""})
    assert db.session.scalar(db.select(db.func.count(LiveSession.id))) == 2


def test_sessions_list_shows_own_sessions_and_the_scenarios(client, auth, world, live):
    auth.as_user(world.trainer)
    page = client.get("/exercises").text
    assert "Test session" in page and "version 1" in page
    assert "/exercises/new?scenario=fixture-scenario" in page and "12 injects" in page and "60 minutes" in page
    auth.as_user(factories.make_user("other-trainer@a.org", roles=(Role.TRAINER,)))
    db.session.commit()
    page = client.get("/exercises").text
    assert "Test session" not in page and "No sessions yet." in page
    auth.as_user(world.admin)
    assert "Test session" in client.get("/exercises").text


def test_empty_states_without_scenarios(client, trainer):
    page = client.get("/exercises").text
    assert "No sessions yet." in page and "No scenario is available yet." in page
    assert "No scenario is available yet." in client.get("/exercises/new").text


# Access

def test_another_trainer_gets_404_a_learner_403_an_admin_the_console(client, auth, world, live):
    other = factories.make_user("other-trainer@a.org", roles=(Role.TRAINER,))
    db.session.commit()
    auth.as_user(other)
    assert client.get(url(live)).status_code == 404
    assert client.post(url(live, "command"), data={"command": "start"}).status_code == 404
    auth.as_user(world.learner)
    assert client.get(url(live)).status_code == 403
    assert client.get("/exercises").status_code == 403
    auth.as_user(world.admin)
    assert client.get(url(live)).status_code == 200
    assert state(live).status == engine.LOBBY


def test_console_shows_join_code_link_and_qr(client, trainer, live):
    page = client.get(url(live)).text
    code = live.session.join_code
    assert f'data-testid="join-code">{code}<' in page
    assert f"/join/{code}" in page
    qr = re.search(r'<img[^>]+src="data:image/svg\+xml;base64,[^"]+"[^>]*>', page)
    assert qr and 'alt="QR code that opens the join page of this session"' in qr.group(0)
    assert 'src="/static/js/console.js"' in page and "<script>" not in page


@pytest.mark.parametrize("settings", [ANY_HOST_BEHIND_A_PROXY])
def test_join_link_and_its_qr_code_are_on_the_public_url(client, trainer, live, hostile_headers):
    keep_signed_in_on(client)
    page = client.get(url(live), headers=hostile_headers).text
    join_url = f"http://localhost/join/{live.session.join_code}"
    assert EVIL_HOST not in page and f'<a href="{join_url}">{join_url}</a>' in page
    assert f'src="{console_views._qr_data_uri(join_url)}"' in page  # segno draws the same code for the same URL


# Lobby and roles

def test_assign_and_reassign_a_role(client, trainer, live):
    guest = services.join(live.session, guest_name="Ana Guest", guest_institution="Invented CERT")
    db.session.commit()
    page = client.get(url(live)).text
    assert "Ana Guest" in page and "Invented CERT" in page and "guest" in page
    client.post(url(live, "assign"), data={"participant_id": guest.id, "role": "cert"})
    assert state(live).roles[guest.id] == "cert"
    client.post(url(live, "assign"), data={"participant_id": guest.id, "role": "operator"})
    assert state(live).roles[guest.id] == "operator"
    client.post(url(live, "assign"), data={"participant_id": guest.id, "role": "astronaut"})
    assert state(live).roles[guest.id] == "operator"
    assert "Not a valid choice." in flashed(client)[-1]


def test_assigning_someone_of_another_session_is_refused(client, trainer, live, world, scenario):
    other = services.create_session(world.trainer, scenario, "Other", allow_guests=True)
    stranger = services.join(other, guest_name="Stranger")
    db.session.commit()
    client.post(url(live, "assign"), data={"participant_id": stranger.id, "role": "cert"})
    assert flashed(client) == ["That person is not a participant of this session."]
    assert stranger.id not in state(live).roles


# The clock

def test_start_pause_resume_end_through_the_forms(client, running):
    live = running
    assert state(live).status == engine.RUNNING
    assert "alert-bank-portal" in state(live).releases  # minute 0 went out with the start
    client.post(url(live, "command"), data={"command": "pause"})
    assert state(live).status == engine.PAUSED_STATUS
    page = client.get(url(live)).text
    assert 'value="resume"' in page and 'value="pause"' not in page and 'value="start"' not in page
    client.post(url(live, "command"), data={"command": "resume"})
    assert state(live).status == engine.RUNNING
    client.post(url(live, "command"), data={"command": "end"})
    assert state(live).status == engine.RUNNING
    assert flashed(client)[-1] == "Tick the box to confirm: ending cannot be undone."
    client.post(url(live, "command"), data={"command": "end", "confirm": "y"})
    assert state(live).status == engine.ENDED_STATUS
    db.session.refresh(live.session)
    assert live.session.status == engine.ENDED_STATUS and live.session.ended_at is not None


def test_invalid_commands_flash_and_change_nothing(client, trainer, live):
    client.post(url(live, "command"), data={"command": "pause"})
    assert flashed(client)[-1] == "The session is lobby; it cannot pause now."
    client.post(url(live, "command"), data={"command": "explode"})
    assert "nothing was changed" in flashed(client)[-1]
    assert state(live).status == engine.LOBBY and not kinds(live, engine.PAUSED)


def test_double_start_makes_one_event(client, running):
    client.post(url(running, "command"), data={"command": "start"})
    assert len(kinds(running, engine.STARTED)) == 1
    assert state(running).status == engine.RUNNING


def test_actions_answer_json_when_asked(client, trainer, live):
    headers = {"Accept": "application/json"}
    ok = client.post(url(live, "command"), data={"command": "start"}, headers=headers)
    assert ok.status_code == 200 and ok.json["ok"] is True
    refused = client.post(url(live, "command"), data={"command": "start"}, headers=headers)
    assert refused.status_code == 409 and refused.json == {
        "ok": False, "message": "The session is running; it cannot start now.", "errors": {}}
    invalid = client.post(url(live, "overrides"), data={"points": "3"}, headers=headers)
    assert invalid.status_code == 422 and "reason" in invalid.json["errors"]


def test_the_console_shows_what_the_ticker_released_and_releases_nothing_itself(client, trainer, live, world):
    services.run_command(live.session, "start", world.trainer, now=utcnow() - timedelta(minutes=9))
    db.session.commit()
    client.get(url(live))
    assert not state(live).releases  # no request releases scheduled injects: the ticker is the one place
    ticker.release_due()
    assert {"alert-bank-portal", "bank-call", "embassy-note"} <= set(state(live).releases)
    assert "press-question" not in state(live).releases


# Releasing injects

def test_release_next_counts_a_double_click_once(client, running):
    live = running
    page = client.get(url(live)).text
    assert 'name="expected" value="bank-call"' in page
    client.post(url(live, "release-next"), data={"expected": "bank-call"})
    client.post(url(live, "release-next"), data={"expected": "bank-call"})
    releases = state(live).releases
    assert releases["bank-call"].how == "next" and "embassy-note" not in releases
    assert "has already gone out" in flashed(client)[-1]


def test_fire_an_inject_early(client, running):
    client.post(url(running, "release"), data={"inject_id": "recovery-plan"})
    assert state(running).releases["recovery-plan"].how == "early"
    client.post(url(running, "release"), data={"inject_id": "recovery-plan"})
    assert flashed(client)[-1] == "This inject has already been released."
    assert len(kinds(running, engine.RELEASED)) == 2


def test_nothing_is_released_before_the_start(client, trainer, live):
    client.post(url(live, "release"), data={"inject_id": "recovery-plan"})
    assert flashed(client)[-1] == "The session is lobby; it cannot release now."
    assert not state(live).releases


def test_a_locked_follow_up_is_shown_locked_and_can_still_be_fired(client, running):
    page = client.get(url(running)).text
    assert "follow-up, locked" in page
    client.post(url(running, "release"), data={"inject_id": "neighbour-confirms"})
    assert state(running).releases["neighbour-confirms"].how == "early"


def test_one_person_inject_needs_a_participant(client, running):
    live = running
    client.post(url(live, "release"), data={"inject_id": "press-question"})
    assert flashed(client)[-1] == "Choose the participant who receives this inject."
    assert "press-question" not in state(live).releases
    client.post(url(live, "release"), data={"inject_id": "press-question",
                                            "participant_id": live.operator.participant.id})
    assert state(live).releases["press-question"].audience == {"participant": live.operator.participant.id}
    assert "press-question" in feed(live, live.operator)
    assert "press-question" not in feed(live, live.cert) | feed(live, live.diplomat)


# Ad-hoc injects

def test_adhoc_inject_to_a_role_is_seen_by_that_role_only(client, running):
    live = running
    data = {"title": "Phone call", "body": "The regulator calls.", "audience": "roles", "roles": ["cert"],
            "asks_response": "y"}
    client.post(url(live, "adhoc"), data=data)
    client.post(url(live, "adhoc"), data=data)  # a double click
    assert list(state(live).adhoc) == ["adhoc-1"]
    assert "adhoc-1" in feed(live, live.cert)
    assert "adhoc-1" not in feed(live, live.diplomat) | feed(live, live.operator)
    entry = next(e for e in board.live_board(state(live), services.scenario_of(live.session))
                 if e.item.inject_id == "adhoc-1")
    assert [row.role for row in entry.rows] == ["cert"]
    assert [p["name"] for p in entry.rows[0].waiting] == [live.cert.participant.name]


def test_adhoc_inject_to_one_participant(client, running):
    live = running
    client.post(url(live, "adhoc"), data={"title": "A whisper", "body": "Only for you.", "audience": "participant",
                                          "participant_id": live.diplomat.participant.id})
    assert state(live).adhoc["adhoc-1"]["audience"] == {"participant": live.diplomat.participant.id}
    assert "adhoc-1" in feed(live, live.diplomat)
    assert "adhoc-1" not in feed(live, live.cert) | feed(live, live.operator)


def test_adhoc_form_errors_keep_what_was_typed(client, running):
    live = running
    response = client.post(url(live, "adhoc"), data={"title": "Half done", "body": "Typed text stays",
                                                     "audience": "participant"})
    assert response.status_code == 200
    assert "Choose the participant who receives this inject." in response.text
    assert "Typed text stays" in response.text and 'value="Half done"' in response.text
    response = client.post(url(live, "adhoc"), data={"title": "x", "body": "y", "audience": "roles"})
    assert "Choose at least one role." in response.text
    assert not state(live).adhoc


# Responses and the board

def test_close_responses(client, running):
    live = running
    client.post(url(live, "close"), data={"inject_id": "alert-bank-portal"})
    assert "alert-bank-portal" in state(live).closed
    with pytest.raises(engine.EngineError, match="closed"):
        services.decide(live.session, live.cert.participant, "alert-bank-portal", "wait", "late")
    client.post(url(live, "close"), data={"inject_id": "embassy-note"})
    assert flashed(client)[-1] == "Only a released inject can be closed."


def test_the_board_lists_who_has_not_answered(client, running):
    live = running
    services.decide(live.session, live.cert.participant, "alert-bank-portal", "call-neighbour", "Share now")
    db.session.commit()
    entry = board.live_board(state(live), services.scenario_of(live.session))[0]
    rows = {row.role: row for row in entry.rows}
    assert [a.name for a in rows["cert"].answered] == [live.cert.participant.name]
    assert rows["cert"].answered[0].option == "Call the neighbouring CERT"
    assert [p["name"] for p in rows["operator"].waiting] == [live.operator.participant.name]
    assert (entry.answered_count, entry.expected_count) == (1, 2)
    fragment = client.get(url(live, "board")).text
    section = fragment[fragment.index('id="board"'):fragment.index('id="scores"')]
    assert "1 of 2 answered" in section and "Call the neighbouring CERT" in section
    assert f'<span class="badge text-bg-warning me-1">{live.operator.participant.name}</span>' in section
    assert 'id="console-lobby"' in fragment and 'id="console-board"' in fragment


# Private notes and scores

def test_observations_and_overrides_are_private(client, running):
    live = running
    client.post(url(live, "observations"), data={"text": "The CERT hesitated", "inject_id": "alert-bank-portal",
                                                 "objective": "cert-share"})
    client.post(url(live, "observations"), data={"text": "The CERT hesitated", "inject_id": "alert-bank-portal",
                                                 "objective": "cert-share"})
    missing = client.post(url(live, "overrides"), data={"target": "objective:cert-share", "points": "2"})
    assert missing.status_code == 200 and "Give the reason for the change." in missing.text
    client.post(url(live, "overrides"), data={"target": "role:cert", "points": "11", "reason": "Too much"})
    assert not state(live).overrides
    for _ in range(2):
        client.post(url(live, "overrides"), data={"target": "objective:cert-share", "points": "2",
                                                  "reason": "Good call on the phone"})
    current = state(live)
    assert [e.payload["text"] for e in current.observations] == ["The CERT hesitated"]
    assert [(e.payload["objective"], e.payload["points"]) for e in current.overrides] == [("cert-share", 2)]
    page = client.get(url(live)).text
    assert "The CERT hesitated" in page and "Good call on the phone" in page
    scores = {s.key: s for s in objective_scores(state(live), services.scenario_of(live.session))}
    assert scores["cert-share"].adjustment == 2
    for person in (live.cert, live.diplomat, live.operator):
        seen = {e.kind for e in services.visible_events(live.session, person.participant)}
        assert engine.OBSERVED not in seen and engine.OVERRIDDEN not in seen

