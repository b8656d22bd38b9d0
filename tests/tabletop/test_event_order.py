"""Every stream gets every event once, in order, with no gap, whichever process committed it.

Two academy servers (P and Q, one gevent worker each, as two workers of one deployment would be) share one
database: a SQLite file or PostgreSQL without a relay, PostgreSQL with Redis, and PostgreSQL with LISTEN/NOTIFY.
The trainer acts on both; streams are read on P. What a stream receives is compared with the log: for each
stream the ids are exactly the visible events' numbers, strictly increasing, none missing, none twice.

P and Q run with the log poller off, so that only the mechanism under test can bring another process's event; a
third server with the poller on measures how long events take without a relay.
"""
import math
import os
import statistics
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest

from tests.server_process import EventStream, ServerProcess, settle
from tests.tabletop.server_world import fresh_database, signed_cookie

SECRET = "event-order-test-secret"
GUESTS = 20
ROLES = ("diplomat", "cert", "operator")
WAIT = 20.0  # the longest wait for an event; reached only when something is broken
POLL_SECONDS = 1.0  # the poller's default interval (LIVE_POLL_SECONDS)
SAMPLES = 20  # delays measured per case: the p95 is the 19th, so one stall of a loaded machine is not the figure
RELAYS = [pytest.param("none", id="no-relay"),
          pytest.param("redis", id="redis", marks=pytest.mark.multiworker),
          pytest.param("postgres", id="postgres", marks=pytest.mark.multiworker)]


@dataclass(frozen=True)
class Viewer:
    cookie: str
    csrf: str
    participant_id: int | None = None  # None: the trainer
    role: str | None = None


@dataclass
class World:
    app: object
    relay: str
    session_id: int
    trainer: Viewer
    guests: list[Viewer]
    env: dict


@pytest.fixture(scope="module", params=RELAYS)
def world(request, tmp_path_factory):
    """A running session, paused so the clock releases nothing, with 20 guests in the three roles."""
    from academy import create_app
    from academy.extensions import db
    from academy.tabletop import services
    from tests.conftest import build_settings

    relay = request.param
    database, redis_url = os.environ.get("TEST_DATABASE_URL", ""), os.environ.get("TEST_REDIS_URL", "")
    if relay != "none" and not (database.startswith("postgresql") and redis_url.startswith("redis")):
        pytest.fail("the relay cases need TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL: run them under "
                    "scripts/ci-services, as make test does")
    root = tmp_path_factory.mktemp(f"order-{relay}")
    database = database or f"sqlite:///{root / 'academy.db'}"
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=database, SECRET_KEY=SECRET))

    def viewer(values: dict, participant=None) -> Viewer:
        cookie, csrf = signed_cookie(app, values)
        return Viewer(cookie, csrf, participant.id if participant else None, participant.role if participant else None)

    with app.app_context():
        trainer, scenario = fresh_database(root, "trainer@order.example")
        live = services.create_session(trainer, scenario, f"Event order ({relay})", allow_guests=True)
        guests = []
        for n in range(GUESTS):
            guest = services.join(live, guest_name=f"Guest {n}", guest_institution="Test")
            services.assign_role(live, guest, ROLES[n % len(ROLES)], trainer)
            guests.append(guest)
        services.run_command(live, "start", trainer)
        services.run_command(live, "pause", trainer)
        db.session.commit()
        built = World(app, relay, live.id, viewer({"_user_id": trainer.get_id(), "_fresh": True}),
                      [viewer({"guest_participants": {str(live.id): g.guest_token}}, g) for g in guests], {})
        db.session.remove()
    built.env = {"DATABASE_URL": database, "SECRET_KEY": SECRET, "ACADEMY_ENV": "development",
                 "LIVE_RELAY": relay, "REDIS_URL": redis_url if relay == "redis" else "",
                 "TABLETOP_REDIS_CHANNEL": f"academy:test:order:{uuid.uuid4().hex}",
                 "TABLETOP_PG_CHANNEL": f"academy_test_order_{uuid.uuid4().hex}", "LIVE_POLL_SECONDS": "0"}
    yield built
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def servers(world, tmp_path_factory):
    """P and Q: two single-worker servers on the same database (and relay), the poller off."""
    folder = tmp_path_factory.mktemp(f"servers-{world.relay}")
    pair = [ServerProcess(world.env, folder / f"{name}.log") for name in ("p", "q")]
    try:
        for server in pair:
            server.start()
        yield pair
    finally:
        for server in pair:
            server.stop()


@pytest.fixture
def opened():
    streams: list[EventStream] = []
    yield streams
    for stream in streams:
        stream.close()


def test_an_event_committed_elsewhere_first_reaches_the_stream_first_and_a_resume_misses_nothing(
        world, servers, opened):
    p, q = servers
    stream = watch(p, world, world.trainer, opened)
    for n in range(8):  # X on Q, then Y on P, at once: the stream on P must not show Y before X, nor lose X
        x = send(q, world, f"X{n}")
        y = send(p, world, f"Y{n}")
        assert stream.wait_for(lambda event, y=y: event["id"] == y, WAIT), p.tail()
        assert x in ids(stream), f"{x} (from Q) is missing before {y}: {ids(stream)}"
    resumed = watch(p, world, world.trainer, opened, last_id=stream.last_id)
    z = send(q, world, "after the resume")
    send(p, world, "and one more")
    assert resumed.wait_for(lambda event: event["id"] > z, WAIT), p.tail()
    settle([stream, resumed])
    assert_exact(world, stream)
    assert_exact(world, resumed)


def test_a_second_stream_connecting_does_not_keep_an_event_from_the_first(world, servers, opened):
    p, q = servers
    first = watch(p, world, world.guests[0], opened)
    z = send(q, world, "committed elsewhere")
    second = watch(p, world, world.guests[1], opened)  # reads the log, and so learns of Z on P
    assert second.wait_for(lambda event: event["id"] == z, WAIT), p.tail()
    # The first stream gets Z at once, not at its keepalive (15 s) nor never.
    assert first.wait_for(lambda event: event["id"] == z, 3.0), f"Z={z} never reached the first stream: {ids(first)}"
    settle([first, second])
    assert_exact(world, first)
    assert_exact(world, second)


def test_crash_drill_every_stream_resumes_with_nothing_missing_twice_or_out_of_order(world, servers, opened):
    """20 guest streams on P and the trainer's; P is killed (master and worker) mid-session and restarted."""
    p, q = servers
    viewers = [world.trainer, *world.guests]
    before = {viewer: watch(p, world, viewer, opened) for viewer in viewers}
    producer = Producer(world, servers)
    producer.start()
    try:
        time.sleep(1.5)
        p.kill()
        producer.p_down.set()  # while P is down, only Q commits
        assert all(stream.ended.wait(WAIT) for stream in before.values())
        time.sleep(2.0)
        p.start()
        producer.p_down.clear()
        after = {viewer: watch(p, world, viewer, opened, last_id=before[viewer].last_id) for viewer in viewers}
        time.sleep(1.5)
    finally:
        producer.finish()
    for viewer, stream in after.items():
        last = visible_ids(world, viewer)[-1]
        assert stream.wait_for(lambda event, last=last: event["id"] == last, WAIT), (viewer, p.tail())
    settle(list(after.values()))
    report = []
    for viewer in viewers:
        received = [event["id"] for event in before[viewer].events + after[viewer].events]
        expected = visible_ids(world, viewer)
        report.append((viewer.participant_id, missing(received, expected), twice(received), disorder(received)))
        assert received == expected, report[-1]
    assert all(m == d == o == 0 for _, m, d, o in report), report


def test_events_of_another_process_arrive_within_the_stated_bound(world, servers, opened, tmp_path_factory):
    """With a relay: within 1 s (p95). Without one: within the poll interval the README states (1 s).

    The delay runs from the event's time in the log (taken as the other server appends it, just before its commit)
    to its arrival in this stream: what the relay or the poller adds, not how long the other server's request took.
    The samples are sent one after another, spread over the poll interval, without waiting for each to arrive: each
    delay is still its own event's, and twenty samples no longer take twenty poll intervals.
    """
    p, q = servers
    if world.relay == "none":
        reader = ServerProcess({**world.env, "LIVE_POLL_SECONDS": str(POLL_SECONDS)},
                               tmp_path_factory.mktemp("poller") / "r.log")
        reader.start()
        bound = POLL_SECONDS + 0.5  # the interval, plus reading the log and sending
    else:
        reader, bound = p, 1.0
    try:
        stream = watch(reader, world, world.trainer, opened)
        sent = []
        for n in range(SAMPLES):
            sent.append(send(q, world, f"timed {n}"))
            time.sleep(0.13 * (n % 4))  # spread the commits over the poll interval
        delays = []
        for event_id in sent:
            event = stream.wait_for(lambda event, i=event_id: event["id"] == i, WAIT)
            assert event is not None, reader.tail()
            committed = datetime.fromisoformat(event["data"]["at"].removesuffix("Z")).replace(tzinfo=timezone.utc)
            delays.append(event["received_at"] - committed.timestamp())
    finally:
        if reader is not p:
            reader.stop()
    p95 = sorted(delays)[math.ceil(0.95 * len(delays)) - 1]
    print(f"\n{world.relay}: cross-process delay p50 {statistics.median(delays):.3f} s, p95 {p95:.3f} s, "
          f"max {max(delays):.3f} s (bound {bound} s)")
    assert p95 <= bound, sorted(delays)
    assert_exact(world, stream)


# --- helpers -------------------------------------------------------------------------------------------------------

class Producer(threading.Thread):
    """The trainer sending ad-hoc injects, to everyone or to one role, alternately through P and Q."""

    def __init__(self, world: World, servers):
        super().__init__(daemon=True)
        self.world, self.servers = world, servers
        self.p_down, self.done = threading.Event(), threading.Event()
        self.sent: list[int] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        n = 0
        try:
            while not self.done.is_set():
                server = self.servers[1] if self.p_down.is_set() or n % 2 else self.servers[0]
                role = None if n % 3 == 0 else ROLES[n % len(ROLES)]
                try:
                    self.sent.append(send(server, self.world, f"drill {n}", role=role))
                except (OSError, AssertionError):
                    if server is not self.servers[0]:
                        raise  # only P is ever down
                n += 1
                time.sleep(0.05)
        except BaseException as error:  # reported by finish()
            self.error = error

    def finish(self) -> None:
        self.done.set()
        self.join(timeout=WAIT)
        assert self.error is None, self.error
        assert len(self.sent) > 20, self.sent


def watch(server: ServerProcess, world: World, viewer: Viewer, opened: list, last_id: int | None = None):
    path = f"/exercises/sessions/{world.session_id}/stream"
    stream = EventStream(server, path, viewer.cookie, last_id)
    stream.viewer, stream.after = viewer, last_id or 0
    opened.append(stream)
    assert stream.ready.wait(WAIT), server.tail()
    return stream


def send(server: ServerProcess, world: World, title: str, role: str | None = None) -> int:
    """An ad-hoc inject sent through this server; returns its event id (read back from the log)."""
    fields = {"csrf_token": world.trainer.csrf, "title": title, "body": f"{title} — body",
              "audience": "roles" if role else "all"}
    if role:
        fields["roles"] = role
    reply = server.request("POST", f"/exercises/sessions/{world.session_id}/adhoc", body=urlencode(fields),
                           headers={"Cookie": f"session={world.trainer.cookie}", "Accept": "application/json",
                                    "Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 200, f"{reply.status}: {reply.text[:300]}\n{server.tail()}"
    return next(event["id"] for event in reversed(log_of(world)) if event["payload"].get("title") == title)


def log_of(world: World) -> list[dict]:
    from academy.extensions import db
    from academy.tabletop.models import SessionEvent

    with world.app.app_context():
        rows = db.session.scalars(db.select(SessionEvent).where(SessionEvent.session_id == world.session_id)
                                  .order_by(SessionEvent.seq))
        log = [{"id": row.seq, "kind": row.kind, "payload": row.payload, "audience": row.audience} for row in rows]
        db.session.remove()
    return log


def visible_ids(world: World, viewer: Viewer, after: int = 0) -> list[int]:
    from academy.tabletop import engine

    return [event["id"] for event in log_of(world) if event["id"] > after and (
        viewer.participant_id is None or engine.sees(event["audience"], viewer.participant_id, viewer.role))]


def assert_exact(world: World, stream: EventStream) -> None:
    """The stream's ids are the visible log's after the id it resumed from: none missing, none twice, in order."""
    received = ids(stream)
    expected = visible_ids(world, stream.viewer, after=stream.after)
    assert received == expected, (missing(received, expected), twice(received), disorder(received))


def ids(stream: EventStream) -> list[int]:
    return [event["id"] for event in stream.events]


def missing(received: list[int], expected: list[int]) -> int:
    return len(set(expected) - set(received))


def twice(received: list[int]) -> int:
    return len(received) - len(set(received))


def disorder(received: list[int]) -> int:
    return sum(1 for a, b in zip(received, received[1:]) if b <= a)
