"""A live session survives a crash of its server: SIGKILL mid-session, a restart, and the exercise carries on.

The academy runs as a real process (gunicorn, one gevent worker, the ticker on as in production) on the
database of the CI run: a SQLite file without Redis, or PostgreSQL (TEST_DATABASE_URL) with Redis when
TEST_REDIS_URL is set. The module-scoped `story` fixture plays one session through a crash and records what it
saw; each test then checks one promise against that record and the event log.

The scenario's offsets are minutes, so session A is seeded as having run to a few seconds before 5:00 and been
paused: once the trainer resumes it, its next scheduled inject (5:00) falls due while the server is down.
"""
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from tests.server_process import EventStream, ServerProcess, settle
from tests.tabletop.server_world import fresh_database, signed_cookie

SECRET = "crash-recovery-test-secret"
DUE_OFFSET = 300  # seconds: "bank-call" is scheduled at 5:00
WINDOW = 5.0  # seconds of running time between the trainer's resume and 5:00; the kill comes well before
BANKED = DUE_OFFSET - WINDOW  # session A's clock, paused, when seeded
B_STARTED_AGO = 240  # session B runs from 4:00 on until the trainer pauses it
MIN_DOWNTIME = 3.0  # longer than the clock check's tolerance: a clock that forgot the downtime would show
WAIT = 20.0  # the longest wait for an event; reached only when something is broken
CLOCK = re.compile(r'data-clock data-elapsed="(\d+)" data-running="(true|false)"')
ROLES = ("diplomat", "cert", "operator")


@dataclass(frozen=True)
class Person:
    cookie: str
    csrf: str
    participant_id: int | None = None  # None: the trainer
    role: str | None = None


@dataclass
class Seed:
    app: object
    a: int  # the session that crashes while running
    b: int  # the session that crashes while paused
    a_started: datetime
    a_paused: datetime
    b_started: datetime
    trainer: Person
    people: list[Person]  # two per role, in ROLES order


@dataclass
class Story:
    """What the test did and saw, with wall-clock times (epoch seconds) taken around each request."""

    resumed: tuple[float, float] = (0.0, 0.0)
    b_paused: tuple[float, float] = (0.0, 0.0)
    acked_releases: list[str] = field(default_factory=list)
    acked_decisions: list[tuple[Person, str, str, str]] = field(default_factory=list)  # who, inject, option, why
    killed_at: float = 0.0
    log_at_kill: list[dict] = field(default_factory=list)
    in_flight_recorded: bool = False  # the decision sent as the server died was in the log after the restart
    resubmitted: list[int] = field(default_factory=list)
    clock_a: tuple[float, int, bool, float] = (0.0, 0, False, 0.0)  # sent, elapsed, running, answered
    clocks_b: list[tuple[float, int, bool]] = field(default_factory=list)  # sent, elapsed, running
    played: dict[int, str] = field(default_factory=dict)  # participant id -> their play page after the restart
    reconnected: list[tuple[Person, int, list[dict]]] = field(default_factory=list)  # viewer, last id, events
    log: list[dict] = field(default_factory=list)
    log_b: list[dict] = field(default_factory=list)


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    """Session A (paused just before 5:00) with a trainer and two guests per role, and session B (running since 4:00)."""
    from academy import create_app
    from academy.core.models import utcnow
    from academy.extensions import db
    from academy.tabletop import services
    from tests.conftest import build_settings

    root = tmp_path_factory.mktemp("crash")
    database = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{root / 'academy.db'}"
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=database, SECRET_KEY=SECRET))

    def person(values: dict, participant=None) -> Person:
        cookie, csrf = signed_cookie(app, values)
        return Person(cookie, csrf, participant.id if participant else None, participant.role if participant else None)

    with app.app_context():
        trainer, scenario = fresh_database(root, "trainer@crash.example")
        a = services.create_session(trainer, scenario, "Crash while running", allow_guests=True)
        guests = []
        for role in ROLES:
            for n in (1, 2):
                guest = services.join(a, guest_name=f"{role.title()} {n}", guest_institution="Test")
                services.assign_role(a, guest, role, trainer)
                guests.append(guest)
        now = utcnow()
        a_started, a_paused = now - timedelta(seconds=BANKED), now
        services.run_command(a, "start", trainer, now=a_started)
        services.run_command(a, "pause", trainer, now=a_paused)
        b = services.create_session(trainer, scenario, "Crash while paused", allow_guests=True)
        b_started = now - timedelta(seconds=B_STARTED_AGO)
        services.run_command(b, "start", trainer, now=b_started)
        db.session.commit()
        people = [person({"guest_participants": {str(a.id): guest.guest_token}}, guest) for guest in guests]
        seeded = Seed(app, a.id, b.id, a_started, a_paused, b_started,
                      person({"_user_id": trainer.get_id(), "_fresh": True}), people)
        db.session.remove()
    yield seeded
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def server(seed, tmp_path_factory):
    """The academy under gunicorn with one gevent worker, on the seeded database; stopped after the module."""
    env = {"DATABASE_URL": seed.app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": SECRET,
           "ACADEMY_ENV": "development", "REDIS_URL": os.environ.get("TEST_REDIS_URL", ""),
           "TABLETOP_REDIS_CHANNEL": f"academy:test:crash:{uuid.uuid4().hex}"}
    process = ServerProcess(env, tmp_path_factory.mktemp("gunicorn") / "server.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def story(seed, server):
    """Run session A live, kill the server mid-session, restart it once A's 5:00 has passed, carry on."""
    record, opened = Story(), []
    try:
        last_ids = before_the_crash(seed, server, record, opened)
        crash_and_restart(seed, server, record)
        after_the_restart(seed, server, record, opened, last_ids)
        return record
    finally:
        for stream in opened:
            stream.close()


def before_the_crash(seed: Seed, server: ServerProcess, record: Story, opened: list) -> dict:
    """Streams open, the trainer resumes and releases, participants answer; the server dies after an answer.

    Returns the last event id each viewer's stream received, as EventSource would send it when reconnecting.
    """
    a, trainer, people = seed.a, seed.trainer, seed.people
    diplomat1, diplomat2, cert1, cert2, operator1, operator2 = people
    streams = {viewer: watch(server, a, viewer, opened) for viewer in [trainer, *people]}
    assert all(stream.ready.wait(WAIT) for stream in streams.values()), server.tail()
    record.resumed = timed(lambda: expect(post(server, trainer, f"/exercises/sessions/{a}/command",
                                               command="resume"), 200, server))
    for inject in ("embassy-note", "joint-meeting"):
        expect(post(server, trainer, f"/exercises/sessions/{a}/release", inject_id=inject), 200, server)
        record.acked_releases.append(inject)
    for stream in streams.values():  # every viewer is current ...
        assert stream.wait_for(released("joint-meeting"), WAIT), server.tail()
    assert streams[trainer].wait_for(released("alert-bank-portal"), WAIT), server.tail()
    record.acked_releases.append("alert-bank-portal")  # released by the clock at the resume
    for early in (diplomat2, cert2, operator2):  # ... then one of each role loses the connection
        streams[early].close()
    for who, inject, option in ((cert1, "alert-bank-portal", "call-neighbour"),
                                (operator1, "alert-bank-portal", "wait"), (diplomat1, "embassy-note", "consult"),
                                (cert2, "joint-meeting", "coordinate"), (diplomat1, "joint-meeting", "coordinate")):
        decide(server, record, a, who, inject, option)
    record.b_paused = timed(lambda: expect(post(server, trainer, f"/exercises/sessions/{seed.b}/command",
                                               command="pause"), 200, server))
    decide(server, record, a, operator2, "joint-meeting", "go-alone")
    in_flight = server.send_only("POST", f"/exercises/play/{a}/decisions", **form(
        diplomat2, inject_id="joint-meeting", option="go-alone", rationale=rationale(diplomat2, "in flight")))
    record.killed_at = time.time()
    server.kill()
    in_flight.close()
    assert all(stream.ended.wait(WAIT) for stream in streams.values())  # the crash cut every stream
    return {viewer: stream.last_id for viewer, stream in streams.items()}


def crash_and_restart(seed: Seed, server: ServerProcess, record: Story) -> None:
    """Read the log the dead server left, and start it again so that A's 5:00 passes while it is down."""
    record.log_at_kill = read_log(seed.app, seed.a)
    assert not [event for event in record.log_at_kill if is_release(event, "bank-call")], \
        f"5:00 came before the kill: the steps before it took more than {WINDOW} s"
    due = epoch(next(e["at"] for e in record.log_at_kill if e["kind"] == "session.resumed")) + WINDOW
    time.sleep(max(0.0, due - 0.8 * server.boot_seconds - time.time()))  # so that it falls due before it serves
    server.start()
    # However quick the start, nothing in the new process looks at the session before 5:00 has passed.
    time.sleep(max(0.0, due + 0.5 - time.time(), record.killed_at + MIN_DOWNTIME - time.time()))


def after_the_restart(seed: Seed, server: ServerProcess, record: Story, opened: list, last_ids: dict) -> None:
    """Streams reconnect, the clock releases what fell due, the cut-off answer comes again (twice), and more."""
    a, trainer, people = seed.a, seed.trainer, seed.people
    diplomat2, operator1 = people[1], people[4]
    streams = {viewer: watch(server, a, viewer, opened, last_ids[viewer]) for viewer in [trainer, *people]}
    # Nobody acts: the ticker of the new process releases what fell due while the server was down.
    assert streams[trainer].wait_for(released("bank-call"), WAIT), server.tail()
    record.clock_a = read_clock(server, trainer, a)
    record.clocks_b.append(read_clock(server, trainer, seed.b)[:3])
    record.in_flight_recorded = any(is_decision(e, diplomat2, "joint-meeting") for e in read_log(seed.app, a))
    for attempt in ("again", "twice"):  # the unanswered submit, repeated after the restart, and a double click
        record.resubmitted.append(post(server, diplomat2, f"/exercises/play/{a}/decisions", inject_id="joint-meeting",
                                       option="coordinate", rationale=rationale(diplomat2, attempt)).status)
    decide(server, record, a, operator1, "bank-call", "scrub")
    expect(post(server, trainer, f"/exercises/sessions/{a}/release", inject_id="recovery-plan"), 200, server)
    for viewer in people:
        record.played[viewer.participant_id] = expect(server.request(
            "GET", f"/exercises/play/{a}", headers={"Cookie": f"session={viewer.cookie}"}), 200, server).text
    for stream in streams.values():
        assert stream.wait_for(released("recovery-plan"), WAIT), server.tail()
    settle(list(streams.values()))
    record.reconnected = [(viewer, last_ids[viewer], list(stream.events)) for viewer, stream in streams.items()]
    time.sleep(max(0.0, record.clocks_b[0][0] + 1.2 - time.time()))  # a running clock would have moved
    record.clocks_b.append(read_clock(server, trainer, seed.b)[:3])
    record.log, record.log_b = read_log(seed.app, a), read_log(seed.app, seed.b)


def test_the_running_clock_counts_the_downtime_and_the_paused_clock_stays_frozen(seed, story):
    resumed = epoch(next(e["at"] for e in story.log if e["kind"] == "session.resumed"))
    assert story.resumed[0] - 1 <= resumed <= story.resumed[1] + 1
    sent, elapsed, running, answered = story.clock_a
    paused_for = resumed - epoch(seed.a_paused)
    earliest = (sent - epoch(seed.a_started)) - paused_for  # wall time since the start minus the time paused
    latest = (answered - epoch(seed.a_started)) - paused_for
    assert running and int(earliest) - 1 <= elapsed <= latest + 1, (earliest, elapsed, latest)
    assert elapsed >= DUE_OFFSET  # the ticker releases "bank-call" on the second it falls due
    paused = next(e for e in story.log_b if e["kind"] == "session.paused")
    frozen = int((paused["at"] - seed.b_started).total_seconds())
    assert story.b_paused[0] - 1 <= epoch(paused["at"]) <= story.b_paused[1] + 1
    assert [clock[1:] for clock in story.clocks_b] == [(frozen, False), (frozen, False)]
    assert story.clocks_b[1][0] - story.clocks_b[0][0] >= 1.2
    assert [e["kind"] for e in story.log_b if e["id"] > paused["id"]] == []  # and its ticker released nothing


def test_every_release_and_decision_acknowledged_before_the_kill_is_in_the_log_once(seed, story):
    assert story.log[:len(story.log_at_kill)] == story.log_at_kill  # nothing lost, nothing rewritten
    at_kill = {event["id"] for event in story.log_at_kill}
    for inject in story.acked_releases:
        copies = [event for event in story.log if is_release(event, inject)]
        assert len(copies) == 1 and copies[0]["id"] in at_kill, inject
    before_kill = [decision for decision in story.acked_decisions if decision[1] != "bank-call"]
    assert len(before_kill) == 6
    for who, inject, option, why in before_kill:
        copies = [event for event in story.log if is_decision(event, who, inject)]
        assert len(copies) == 1 and copies[0]["id"] in at_kill, (who.role, inject)
        assert (copies[0]["payload"]["option_id"], copies[0]["payload"]["rationale"]) == (option, why)
        assert why in story.played[who.participant_id]  # the restarted server shows it on the play page


def test_streams_reconnecting_with_last_event_id_get_exactly_what_they_missed(seed, story):
    from academy.tabletop import engine

    killed = max(event["id"] for event in story.log_at_kill)
    missed_before_the_kill = 0
    for viewer, last_id, events in story.reconnected:
        assert last_id is not None
        expected = [event["id"] for event in story.log if event["id"] > last_id and (
            viewer.participant_id is None or engine.sees(event["audience"], viewer.participant_id, viewer.role))]
        assert [event["id"] for event in events] == expected, (viewer.role, last_id)
        assert expected[-1] > killed
        missed_before_the_kill += any(event_id <= killed for event_id in expected)
    assert missed_before_the_kill >= 3  # at least the streams closed early missed events before the crash


def test_an_inject_that_fell_due_while_the_server_was_down_is_released_once_after_the_restart(seed, story):
    releases = [event for event in story.log if is_release(event, "bank-call")]
    assert len(releases) == 1
    release = releases[0]
    assert epoch(release["at"]) > story.killed_at
    assert release["payload"]["how"] == "scheduled" and release["actor_id"] is None
    resumed = next(e["at"] for e in story.log if e["kind"] == "session.resumed")
    on_the_clock = int((seed.a_paused - seed.a_started + release["at"] - resumed).total_seconds())
    assert abs(release["payload"]["elapsed_seconds"] - on_the_clock) <= 1 and on_the_clock >= DUE_OFFSET
    trainer_events = next(events for viewer, _, events in story.reconnected if viewer.participant_id is None)
    sent = next(event for event in trainer_events if event["id"] == release["id"])
    assert sent["data"]["elapsed_seconds"] == release["payload"]["elapsed_seconds"]  # the new process's fold
    answered = [event for event in story.log if event["kind"] == "decision.submitted"
                and event["payload"]["inject_id"] == "bank-call"]
    assert len(answered) == 1 and answered[0]["id"] > release["id"]


def test_a_decision_cut_off_by_the_crash_and_submitted_twice_after_the_restart_counts_once(seed, story):
    diplomat2 = seed.people[1]
    copies = [event for event in story.log if is_decision(event, diplomat2, "joint-meeting")]
    assert len(copies) == 1
    if story.in_flight_recorded:  # the server committed it before it died: both retries are refused
        assert story.resubmitted == [409, 409]
        assert copies[0]["payload"]["rationale"] == rationale(diplomat2, "in flight")
    else:
        assert story.resubmitted == [200, 409]
        assert copies[0]["payload"]["rationale"] == rationale(diplomat2, "again")
    assert copies[0]["payload"]["rationale"] in story.played[diplomat2.participant_id]


# Helpers: requests as the browser sends them, and the log as the test reads it from the database.

def watch(server: ServerProcess, session_id: int, viewer: Person, opened: list, last_id: int | None = None):
    """The viewer's live stream of the session (from `last_id` on, as a reconnecting EventSource asks)."""
    stream = EventStream(server, f"/exercises/sessions/{session_id}/stream", viewer.cookie, last_id)
    opened.append(stream)
    return stream


def form(person: Person, **fields) -> dict:
    return {"body": urlencode({"csrf_token": person.csrf, **fields}),
            "headers": {"Cookie": f"session={person.cookie}", "Accept": "application/json",
                        "Content-Type": "application/x-www-form-urlencoded"}}


def post(server: ServerProcess, person: Person, path: str, **fields):
    return server.request("POST", path, **form(person, **fields))


def expect(reply, status: int, server: ServerProcess):
    assert reply.status == status, f"{reply.status}: {reply.text[:500]}\n{server.tail()}"
    return reply


def timed(act) -> tuple[float, float]:
    """The wall-clock times just before and just after an action."""
    before = time.time()
    act()
    return before, time.time()


def rationale(person: Person, when: str) -> str:
    return f"Reasoning of participant {person.participant_id} ({when})"


def decide(server: ServerProcess, record: Story, session_id: int, who: Person, inject: str, option: str) -> None:
    why = rationale(who, inject)
    expect(post(server, who, f"/exercises/play/{session_id}/decisions", inject_id=inject, option=option,
                rationale=why), 200, server)
    record.acked_decisions.append((who, inject, option, why))


def read_clock(server: ServerProcess, trainer: Person, session_id: int) -> tuple[float, int, bool, float]:
    """The session clock as the console shows it (sent, elapsed seconds, running, answered)."""
    sent = time.time()
    reply = expect(server.request("GET", f"/exercises/sessions/{session_id}/board",
                                  headers={"Cookie": f"session={trainer.cookie}"}), 200, server)
    answered = time.time()
    elapsed, running = CLOCK.search(reply.text).groups()
    return sent, int(elapsed), running == "true", answered


def released(inject: str):
    return lambda event: event["kind"] == "inject.released" and event["data"]["payload"]["inject_id"] == inject


def is_release(event: dict, inject: str) -> bool:
    return event["kind"] == "inject.released" and event["payload"]["inject_id"] == inject


def is_decision(event: dict, who: Person, inject: str) -> bool:
    return (event["kind"] == "decision.submitted" and event["payload"]["participant_id"] == who.participant_id
            and event["payload"]["inject_id"] == inject)


def epoch(naive_utc: datetime) -> float:
    return naive_utc.replace(tzinfo=timezone.utc).timestamp()


def read_log(app, session_id: int) -> list[dict]:
    """The session's event log as the database holds it, in order; ids are the event numbers streams carry."""
    from academy.extensions import db
    from academy.tabletop.models import SessionEvent

    with app.app_context():
        rows = db.session.scalars(db.select(SessionEvent).where(SessionEvent.session_id == session_id)
                                  .order_by(SessionEvent.seq))
        log = [{"id": row.seq, "kind": row.kind, "at": row.at, "payload": row.payload, "audience": row.audience,
                "actor_id": row.actor_id} for row in rows]
        db.session.remove()
    return log
