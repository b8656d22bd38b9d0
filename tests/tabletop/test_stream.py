"""The live stream: who receives what, catch-up from the last event id, and live events."""

import gc
import inspect
import json
import re
from datetime import datetime, timedelta

import pytest

from academy.extensions import db
from academy.tabletop import engine, services, ticker
from academy.tabletop import stream as stream_module
from academy.tabletop.broker import broker
from academy.tabletop.stream import slots
from tests import factories
from tests.tabletop.another_process import commit_unannounced

T0 = datetime(2026, 11, 27, 9, 0, 0)


@pytest.fixture
def settings():
    return {"TABLETOP_KEEPALIVE_SECONDS": 0.05}  # live tests wait for one keepalive, not fifteen seconds


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stream_url(live, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/exercises/sessions/{live.session.id}/stream" + (f"?{query}" if query else "")


def parse(chunks) -> list[dict]:
    """The events of a stream's text: id, kind and decoded data of each (comments and retry skipped)."""
    events = []
    for block in "".join(chunks).split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":") and ": " in line
        )
        if "event" in fields:
            events.append({"id": int(fields["id"]), "kind": fields["event"], "data": json.loads(fields["data"])})
    return events


def catch_up(client, live, headers=None, **params) -> list[dict]:
    response = client.get(stream_url(live, once=1, **params), headers=headers or {})
    assert response.status_code == 200
    return parse([response.get_data(as_text=True)])


def read_live(response, keepalives=1) -> list[dict]:
    """Read a live stream until `keepalives` keepalive comments have passed, then close it."""
    chunks = []
    try:
        for chunk in response.response:
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            if text.startswith(": keepalive"):
                keepalives -= 1
                if keepalives == 0:
                    break
            chunks.append(text)
    finally:
        response.close()
    return parse(chunks)


def released_ids(events) -> set[str]:
    return {e["data"]["payload"]["inject_id"] for e in events if e["kind"] == engine.RELEASED}


def run(live, trainer, minutes=60):
    """Start on the frozen clock and release everything scheduled up to `minutes`."""
    services.run_command(live.session, "start", trainer, now=T0)
    ticker.tick(live.session, now=at(minutes))
    db.session.commit()


def test_stream_is_server_sent_events_that_proxies_do_not_buffer(client, auth, live):
    auth.as_user(live.diplomat.user)
    response = client.get(stream_url(live, once=1))
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache" and response.headers["X-Accel-Buffering"] == "no"
    assert response.get_data(as_text=True).startswith("retry: ")


def test_participant_catch_up_holds_exactly_what_their_role_may_see(client, auth, live, world):
    run(live, world.trainer)
    services.release(
        live.session, "press-question", "early", world.trainer, participant_id=live.operator.participant.id, now=at(60)
    )
    services.observe(live.session, "The diplomat hesitates", world.trainer, objective="dip-consult")
    db.session.commit()
    auth.as_user(live.diplomat.user)
    events = catch_up(client, live)
    expected = [row.seq for row in services.visible_events(live.session, live.diplomat.participant)]
    assert [e["id"] for e in events] == expected
    assert released_ids(events) == {
        "embassy-note",
        "news-report",
        "diplomat-call",
        "joint-meeting",
        "recovery-plan",
        "minister-briefing",
        "wrap-up",
    }
    assert not {engine.JOINED, engine.OBSERVED} & {e["kind"] for e in events}
    assert all(e["data"]["audience"].get("trainer") is not True for e in events)
    release = next(e for e in events if e["kind"] == engine.RELEASED)
    assert release["data"]["card_url"].startswith(f"/exercises/play/{live.session.id}/injects/")
    assert release["data"]["title"] and release["data"]["status"] == engine.RUNNING


def test_trainer_stream_has_everything_including_observations(client, auth, live, world):
    run(live, world.trainer, minutes=10)
    services.observe(live.session, "The diplomat hesitates", world.trainer, objective="dip-consult")
    db.session.commit()
    for user in (world.trainer, world.admin):
        auth.as_user(user)
        events = catch_up(client, live)
        assert [e["id"] for e in events] == [row.seq for row in services.events_of(live.session)]
        assert {engine.JOINED, engine.OBSERVED} <= {e["kind"] for e in events}
    auth.as_user(live.diplomat.user)
    assert engine.OBSERVED not in {e["kind"] for e in catch_up(client, live)}


def test_decisions_reach_the_role_that_took_them_and_no_other(client, auth, live, world):
    run(live, world.trainer, minutes=1)
    team_mate = factories.make_user("cert2@a.org")
    services.assign_role(live.session, services.join(live.session, user=team_mate), "cert", world.trainer)
    services.decide(live.session, live.cert.participant, "alert-bank-portal", "call-neighbour", "Share now", now=at(2))
    db.session.commit()
    auth.as_user(team_mate)
    decided = [e for e in catch_up(client, live) if e["kind"] == engine.DECIDED]
    assert len(decided) == 1 and decided[0]["data"]["entry"]["rationale"] == "Share now"
    assert decided[0]["data"]["entry"]["option_text"] == "Call the neighbouring CERT"
    auth.as_user(live.operator.user)  # sees the same inject, but not the CERT's answer
    events = catch_up(client, live)
    assert "alert-bank-portal" in released_ids(events) and engine.DECIDED not in {e["kind"] for e in events}


def test_catch_up_sends_only_events_after_the_last_id_seen(client, auth, live, world):
    run(live, world.trainer, minutes=10)
    auth.as_user(live.operator.user)
    everything = catch_up(client, live)
    middle = everything[len(everything) // 2]["id"]
    newer = [e["id"] for e in everything if e["id"] > middle]
    assert newer and [e["id"] for e in catch_up(client, live, headers={"Last-Event-ID": str(middle)})] == newer
    assert [e["id"] for e in catch_up(client, live, after=middle)] == newer
    # EventSource's own reconnect sends the header on the URL of a recreated source: the later id wins.
    assert [e["id"] for e in catch_up(client, live, headers={"Last-Event-ID": str(middle)}, after=1)] == newer
    assert catch_up(client, live, headers={"Last-Event-ID": "junk"}) == everything


def test_live_events_are_filtered_for_the_participant(client, auth, live, world):
    run(live, world.trainer, minutes=1)
    auth.as_user(live.diplomat.user)
    response = client.get(stream_url(live), buffered=False)
    assert response.status_code == 200 and broker.subscriber_count(live.session.id) == 1
    services.release(live.session, "bank-call", "early", world.trainer, now=at(2))  # the operator's
    services.release(live.session, "embassy-note", "early", world.trainer, now=at(2))  # the diplomat's
    services.observe(live.session, "Quiet so far", world.trainer)
    services.run_command(live.session, "pause", world.trainer, now=at(3))
    db.session.commit()
    events = read_live(response)
    live_part = [e for e in events if e["kind"] in (engine.RELEASED, engine.OBSERVED, engine.PAUSED)]
    assert [e["kind"] for e in live_part][-2:] == [engine.RELEASED, engine.PAUSED]
    assert "bank-call" not in released_ids(events) and "embassy-note" in released_ids(events)
    assert engine.OBSERVED not in {e["kind"] for e in events}
    paused = live_part[-1]["data"]
    assert paused["status"] == engine.PAUSED_STATUS and paused["elapsed_seconds"] == 180
    assert broker.subscriber_count(live.session.id) == 0  # closing the response unsubscribes


def test_events_committed_by_another_process_arrive_with_the_keepalive(client, auth, live, world):
    run(live, world.trainer, minutes=1)
    auth.as_user(live.diplomat.user)
    response = client.get(stream_url(live), buffered=False)
    # Written without the broker, as another process's commit would be: this process hears nothing of it.
    commit_unannounced(
        live.session.id,
        engine.RELEASED,
        at=at(2),
        dedupe_key="other",
        audience={"roles": ["diplomat"]},
        payload={
            "inject_id": "embassy-note",
            "how": "early",
            "title": "Note",
            "audience": {"roles": ["diplomat"]},
            "elapsed_seconds": 120,
        },
    )
    assert "embassy-note" in released_ids(read_live(response, keepalives=2))


def test_streams_of_strangers_are_not_found(client, auth, live):
    assert client.get(stream_url(live, once=1)).status_code == 404
    auth.as_user(factories.make_user("stranger@a.org"))
    assert client.get(stream_url(live, once=1)).status_code == 404
    assert client.get("/exercises/sessions/999999/stream?once=1").status_code == 404


def test_once_is_ignored_outside_tests(app, client, auth, live):
    app.testing = False
    auth.as_user(live.diplomat.user)
    try:
        response = client.get(stream_url(live, once=1), buffered=False)
        chunks = []
        for chunk in response.response:  # a stream that ended after its catch-up would never send a keepalive
            chunks.append(chunk)
            if chunk.startswith(b": keepalive"):
                break
        response.close()
    finally:
        app.testing = True
    assert chunks[-1].startswith(b": keepalive") and broker.subscriber_count(live.session.id) == 0


def open_stream(client, live, address="198.51.100.7"):
    return client.get(stream_url(live), buffered=False, environ_base={"REMOTE_ADDR": address})


def test_a_viewer_over_the_stream_limit_ends_their_own_oldest_stream(app, client, auth, live):
    app.config["LIVE_STREAMS_PER_VIEWER"] = 2
    auth.as_user(live.diplomat.user)
    viewer = ("participant", live.diplomat.participant.id)
    oldest, middle = open_stream(client, live), open_stream(client, live)
    assert slots.count(viewer) == 2
    newest = open_stream(client, live)  # a third tab, or a reload faster than the old connection was noticed
    assert newest.status_code == 200 and slots.count(viewer) == 2
    assert b"retry:" in b"".join(oldest.response)  # the oldest stream ended by itself
    oldest.close()
    for response in (middle, newest):
        response.close()
    assert slots.count(viewer) == 0 and broker.subscriber_count(live.session.id) == 0


def test_an_address_over_the_stream_limit_is_refused_and_others_are_not(app, client, auth, live, world):
    app.config["LIVE_STREAMS_PER_ADDRESS"] = 2
    held = []
    for person in (live.diplomat, live.cert):
        auth.as_user(person.user)
        held.append(open_stream(client, live))
    auth.as_user(live.operator.user)
    refused = open_stream(client, live)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "30"
    answer = client.get(
        stream_url(live), headers={"Accept": "application/json"}, environ_base={"REMOTE_ADDR": "198.51.100.7"}
    ).get_json()
    assert answer["code"] == 429 and "Too many live views" in answer["message"]
    assert broker.subscriber_count(live.session.id) == 2  # the refused stream holds nothing
    held.append(open_stream(client, live, address="203.0.113.9"))  # the same person elsewhere
    auth.as_user(world.trainer)
    held.append(open_stream(client, live, address="203.0.113.9"))
    assert [response.status_code for response in held] == [200] * 4
    for response in held[:2]:
        response.close()
    auth.as_user(live.operator.user)
    held.append(open_stream(client, live))  # given back when the streams closed
    assert held[-1].status_code == 200
    for response in held[2:]:
        response.close()
    assert broker.subscriber_count(live.session.id) == 0


def test_a_stream_closed_before_it_sent_anything_gives_back_its_place(app, client, auth, live):
    auth.as_user(live.diplomat.user)
    response = open_stream(client, live)
    assert slots.count(address="198.51.100.7") == 1
    response.close()  # the client went away before the server started sending
    assert slots.count(address="198.51.100.7") == 0 and broker.subscriber_count(live.session.id) == 0


@pytest.mark.parametrize("value", ["²", "٣", "1e3", "-1", "9" * 40])
def test_a_resume_point_that_is_no_event_number_is_refused_or_read_as_none(client, auth, live, world, value):
    run(live, world.trainer, minutes=1)
    auth.as_user(live.diplomat.user)
    everything = catch_up(client, live)
    refused = client.get(stream_url(live, once=1, after=value), headers={"Accept": "application/json"})
    assert refused.status_code == 400 and "number of an event" in refused.get_json()["message"]
    assert catch_up(client, live, headers={"Last-Event-ID": value}) == everything  # as a mangled header: none


def test_a_released_inject_comes_with_its_card_rendered_once_for_every_participant(client, auth, live, world):
    run(live, world.trainer, minutes=0)
    streams = []
    for person in (live.diplomat, live.cert):
        auth.as_user(person.user)
        streams.append(client.get(stream_url(live, view="participant"), buffered=False))
    auth.as_user(world.trainer)
    trainer_stream = client.get(stream_url(live), buffered=False)
    services.release(live.session, "joint-meeting", "early", world.trainer, now=at(2))
    db.session.commit()
    cards = []
    for response in streams:
        event = next(
            e
            for e in read_live(response)
            if e["kind"] == engine.RELEASED and e["data"]["payload"]["inject_id"] == "joint-meeting"
        )
        cards.append(event["data"]["card_html"])
    trainer_event = next(
        e
        for e in read_live(trainer_stream)
        if e["kind"] == engine.RELEASED and e["data"]["payload"]["inject_id"] == "joint-meeting"
    )
    assert cards[0] == cards[1]  # one rendering, the same bytes for everyone it reaches
    assert 'id="inject-joint-meeting"' in cards[0] and 'name="csrf_token" value="__csrf__"' in cards[0]
    assert 'class="decision-form"' in cards[0] and "card_html" not in trainer_event["data"]
    auth.as_user(live.diplomat.user)  # the same card a participant's page would fetch, but for the token
    fetched = client.get(f"/exercises/play/{live.session.id}/injects/joint-meeting?view=participant")
    token = re.search(r'name="csrf_token" value="([^"]+)"', fetched.get_data(as_text=True)).group(1)
    assert cards[0].replace("__csrf__", token) == fetched.get_data(as_text=True)


def held_by(generator) -> list:
    """What an open stream's generator holds: its variables, and what the functions among them close over."""
    held, seen, todo = [], set(), list(generator.gi_frame.f_locals.values())
    while todo:
        value = todo.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        held.append(value)
        if inspect.isfunction(value):
            todo.extend(cell.cell_contents for cell in value.__closure__ or ())
        elif isinstance(value, (list, tuple, set)):
            todo.extend(value)
    return held


def test_an_open_stream_keeps_none_of_the_requests_database_objects(client, auth, live):
    # Hundreds of streams stay open for hours: a session object kept by each kept its scenario's whole definition.
    auth.as_user(live.diplomat.user)
    response = open_stream(client, live)
    assert next(iter(response.response)).startswith(b"retry:")
    gc.collect()
    streams = [
        o
        for o in gc.get_objects()
        if inspect.isgenerator(o) and o.gi_code is stream_module._events.__code__ and o.gi_frame is not None
    ]
    held = [value for generator in streams for value in held_by(generator)]
    response.close()
    assert streams and any(callable(value) for value in held)  # the walk reached the stream's own callbacks
    assert [value for value in held if hasattr(value, "_sa_instance_state")] == []


def test_what_a_hub_needs_is_made_once_not_for_every_stream(client, auth, live, monkeypatch):
    made = []
    renderer = stream_module.card_renderer
    monkeypatch.setattr(stream_module, "card_renderer", lambda *args: made.append(args) or renderer(*args))
    auth.as_user(live.diplomat.user)
    responses = [open_stream(client, live, address=f"198.51.100.{n}") for n in (1, 2, 3)]
    for response in responses:
        assert next(iter(response.response)).startswith(b"retry:")
    assert len(made) == 1  # the first stream made the session's hub; the others use it
    for response in responses:
        response.close()
