"""Two gunicorn workers, one PostgreSQL and one Redis: live events and rate limits are shared, as in production.

Live events cross workers through Redis pub/sub, and, on a server without REDIS_URL, through PostgreSQL
LISTEN/NOTIFY: the live-event tests run against one server of each kind. Needs TEST_DATABASE_URL (PostgreSQL) and
TEST_REDIS_URL; `scripts/ci-services` provides both, as `make test` does.
"""
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import psutil
import pytest

from tests.server_process import PRODUCTION_SETTINGS
from tests.tabletop.server_world import fresh_database

pytestmark = pytest.mark.multiworker

ROOT = Path(__file__).resolve().parents[2]
SECRET = "multiworker-test-secret"
WORKERS = 2
PARTICIPANTS = 40
STREAMS_PER_WORKER = 3
DELIVERY_SECONDS = 3.0  # far below the 15 s keepalive at which a stream would read the log by itself
RELAYS = ("redis", "postgres")  # what carries live events between the workers of a server
TOKEN_LIMIT, LOGIN_LIMIT = 6, 4


@pytest.fixture(scope="module")
def backends():
    """The real PostgreSQL and Redis of the CI run; without them this test fails rather than pass unseen."""
    database, redis_url = os.environ.get("TEST_DATABASE_URL", ""), os.environ.get("TEST_REDIS_URL", "")
    if not database.startswith("postgresql") or not redis_url.startswith("redis"):
        pytest.fail("the multi-worker tests need TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL (Redis): "
                    "run them as `scripts/ci-services .venv/bin/python -m pytest -m multiworker` (make test does)")
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()  # rate-limit counters of an earlier run
    client.close()
    return database, redis_url


@pytest.fixture(scope="module")
def exercise(backends, tmp_path_factory):
    """The fixture scenario in a paused session per relay kind, with guests in every role, and one nobody joined."""
    from flask import session as flask_session
    from flask_wtf.csrf import generate_csrf

    from academy import create_app
    from academy.extensions import db
    from academy.tabletop import services
    from tests.conftest import build_settings

    root = tmp_path_factory.mktemp("multiworker")
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=backends[0], SECRET_KEY=SECRET))
    with app.app_context():
        trainer, scenario = fresh_database(root, "trainer@multi.example")
        serializer = app.session_interface.get_signing_serializer(app)
        sessions = {relay: _paused_session(trainer, scenario, serializer, relay) for relay in RELAYS}
        quiet = services.create_session(trainer, scenario, "Nobody here", allow_guests=False)
        db.session.commit()
        with app.test_request_context():
            flask_session["_user_id"], flask_session["_fresh"] = trainer.get_id(), True
            trainer_csrf = generate_csrf()
            trainer_cookie = serializer.dumps(dict(flask_session))
            visitor_cookie = serializer.dumps({"csrf_token": flask_session["csrf_token"]})  # signed out
        quiet_id = quiet.id
        db.session.remove()
        db.engine.dispose()
    return {"sessions": sessions, "quiet_session_id": quiet_id,
            "trainer": (trainer_cookie, trainer_csrf), "visitor": (visitor_cookie, trainer_csrf)}


def _paused_session(trainer, scenario, serializer, relay: str) -> dict:
    """A session with guests in every role, started and paused: the ticker releases nothing; the trainer does."""
    from academy.tabletop import services

    live = services.create_session(trainer, scenario, f"Two workers ({relay})", allow_guests=True)
    definition = services.scenario_of(live)
    roles = [role.code for role in definition.roles]
    cookies = []
    for n in range(PARTICIPANTS):
        participant = services.join(live, guest_name=f"Guest {n}", guest_institution="Test")
        services.assign_role(live, participant, roles[n % len(roles)], trainer)
        cookies.append(serializer.dumps({"guest_participants": {str(live.id): participant.guest_token}}))
    services.run_command(live, "start", trainer)
    services.run_command(live, "pause", trainer)
    injects = [inject.id for inject in definition.injects
               if inject.audience == "all" and not inject.follow_up and inject.offset > 0]
    return {"session_id": live.id, "cookies": cookies, "injects": injects}


@pytest.fixture(scope="module", params=RELAYS)
def server(request, backends, exercise, tmp_path_factory):
    """The academy under gunicorn with two gevent workers, as the README starts it in production.

    With REDIS_URL its workers relay live events through Redis; without it, on PostgreSQL, through LISTEN/NOTIFY
    (LIVE_RELAY=auto chooses).
    """
    database, redis_url = backends
    relay = request.param
    log = tmp_path_factory.mktemp(f"gunicorn-{relay}") / "server.log"
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "LIVE_RELAY")}
    env.update({"DATABASE_URL": database, "SECRET_KEY": SECRET, "ACADEMY_ENV": "development",
                "TOKEN_RATE_LIMIT": f"{TOKEN_LIMIT} per hour", "LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT} per hour",
                "XDG_RUNTIME_DIR": str(log.parent)})  # gunicorn's control socket: a folder per server
    if relay == "redis":
        env["REDIS_URL"] = redis_url
    command = [sys.executable, "-m", "gunicorn", *PRODUCTION_SETTINGS, "--workers", str(WORKERS),
               "--bind", f"127.0.0.1:{port}", "--keep-alive", "60", "--graceful-timeout", "2",
               "--log-level", "warning", "wsgi:app"]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        _wait_until_serving(process, port, log)
        yield Server(process, port, log, relay)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Server:
    def __init__(self, process: subprocess.Popen, port: int, log: Path, relay: str):
        self.process, self.port, self.log, self.relay = process, port, log, relay
        self.opened: list[http.client.HTTPConnection] = []

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def worker_of(self, connection: http.client.HTTPConnection) -> int | None:
        """The pid of the worker holding this client connection (it must have been answered once)."""
        port = connection.sock.getsockname()[1]
        for worker in self.workers():
            for held in worker.net_connections(kind="tcp"):
                if held.raddr and held.raddr.port == port and held.laddr.port == self.port:
                    return worker.pid
        return None

    def connect(self) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.opened.append(connection)
        return connection

    def close_connections(self) -> None:
        while self.opened:
            self.opened.pop().close()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


class Stream:
    """An EventSource-like reader on its own thread: the events it got, each with the time it arrived."""

    def __init__(self, server: Server, session_id: int, cookie: str, last_event_id: int | None = None):
        headers = {"Accept": "text/event-stream", "Cookie": f"session={cookie}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.connection = server.connect()
        self.connection.request("GET", f"/exercises/sessions/{session_id}/stream", headers=headers)
        response = self.connection.getresponse()
        assert response.status == 200, response.status
        self.worker = server.worker_of(self.connection)
        self.events: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, args=(response,), daemon=True)
        self.reader.start()

    def _read(self, response) -> None:
        fields: dict[str, str] = {}
        try:
            for raw in iter(response.readline, b""):
                line = raw.decode().rstrip("\r\n")
                if line:
                    name, _, value = line.partition(":")
                    fields[name] = value.lstrip()
                    continue
                if "retry" in fields:
                    self.ready.set()
                if "id" in fields:
                    self.events.put({"id": int(fields["id"]), "kind": fields.get("event"),
                                     "data": json.loads(fields["data"]), "at": time.monotonic()})
                fields = {}
        except (OSError, ValueError, http.client.HTTPException):
            pass  # closed by the test

    def wait_for(self, inject_id: str, deadline: float) -> dict | None:
        """The first event about this inject if it arrived before the deadline (monotonic), else None."""
        while True:
            for event in self.seen:
                if event["data"].get("payload", {}).get("inject_id") == inject_id:
                    return event if event["at"] <= deadline else None
            try:
                self.seen.append(self.events.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                return None

    def drain(self, settle: float = 0.3) -> list[dict]:
        """What has arrived so far (the catch-up), once nothing new came for `settle` seconds."""
        while True:
            try:
                self.seen.append(self.events.get(timeout=settle))
            except queue.Empty:
                return self.seen

    def close(self) -> None:
        if self.connection.sock is not None:
            try:
                self.connection.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader
            except OSError:
                pass
        self.reader.join(timeout=5)
        self.connection.close()


@pytest.fixture(autouse=True)
def _close_connections(request):
    yield
    if "server" in request.fixturenames:
        request.getfixturevalue("server").close_connections()


@pytest.fixture
def live_session(server, exercise):
    """The session of this server's kind: each kind releases the same injects in its own session."""
    return exercise["sessions"][server.relay]


@pytest.fixture
def streams(server, live_session):
    """Streams opened until each worker holds a few; closed after the test."""
    opened: list[Stream] = []
    try:
        for cookie in live_session["cookies"]:
            opened.append(Stream(server, live_session["session_id"], cookie))
            counts = _per_worker(opened)
            if len(counts) == WORKERS and min(counts.values()) >= STREAMS_PER_WORKER:
                break
        assert all(stream.ready.wait(10) for stream in opened), "a stream did not start"
        yield opened
    finally:
        for stream in opened:
            stream.close()


def test_an_inject_released_on_one_worker_reaches_the_streams_of_every_worker(server, exercise, live_session, streams):
    counts = _per_worker(streams)
    assert len(counts) == WORKERS and None not in counts, f"streams per worker: {counts}\n{server.tail()}"
    for stream in streams:
        stream.drain()
    inject = live_session["injects"][0]
    console, releasing_worker = _connection_on(server)
    sent = time.monotonic()
    status = _release(console, exercise, live_session, inject)
    assert status == 200, server.tail()
    deadline = sent + DELIVERY_SECONDS
    arrivals = {id(stream): stream.wait_for(inject, deadline) for stream in streams}
    late = [stream.worker for stream in streams if arrivals[id(stream)] is None]
    assert not late, f"no event within {DELIVERY_SECONDS} s on workers {late} (release on {releasing_worker})"
    elsewhere = [stream for stream in streams if stream.worker != releasing_worker]
    assert elsewhere, "every stream was on the releasing worker"
    slowest = max(arrivals[id(stream)]["at"] - sent for stream in elsewhere)
    assert slowest < DELIVERY_SECONDS
    assert {arrivals[id(stream)]["id"] for stream in streams} == {arrivals[id(streams[0])]["id"]}


def test_a_stream_reconnecting_with_last_event_id_catches_up_on_any_worker(server, exercise, live_session, streams):
    last_ids = {}
    for stream in streams:
        stream.drain()
        last_ids[id(stream)] = max(event["id"] for event in stream.seen)
        stream.close()
    inject = live_session["injects"][1]
    console, _ = _connection_on(server)
    assert _release(console, exercise, live_session, inject) == 200, server.tail()
    reopened = []
    # Which worker takes a new connection is the kernel's choice: reconnect (a stream again, as a browser may)
    # until every worker has served some of them.
    plan = list(zip(streams, live_session["cookies"])) * 8
    try:
        for n, (stream, cookie) in enumerate(plan):
            if n >= len(streams) and len({again.worker for again in reopened}) == WORKERS:
                break
            again = Stream(server, live_session["session_id"], cookie, last_event_id=last_ids[id(stream)])
            reopened.append(again)
            assert again.wait_for(inject, time.monotonic() + DELIVERY_SECONDS), f"worker {again.worker}"
            assert min(event["id"] for event in again.seen) > last_ids[id(stream)], "events sent twice"
        assert len({stream.worker for stream in reopened}) == WORKERS
    finally:
        for stream in reopened:
            stream.close()


@pytest.mark.parametrize("server", ["redis"], indirect=True)  # the counters are in Redis
def test_the_token_rate_limit_is_counted_across_workers(server):
    connections = _one_connection_per_worker(server)
    body = json.dumps({"email": "nobody@multi.example", "password": "wrong"})
    statuses = []
    for n in range(TOKEN_LIMIT + 2):
        connection = connections[n % WORKERS]
        connection.request("POST", "/api/v1/auth/token", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    assert statuses == [401] * TOKEN_LIMIT + [429, 429], statuses


@pytest.mark.parametrize("server", ["redis"], indirect=True)
def test_the_login_throttle_is_counted_across_workers(server, exercise):
    connections = _one_connection_per_worker(server)
    cookie, csrf = exercise["visitor"]
    statuses = []
    for n in range(LOGIN_LIMIT + 2):
        connection = connections[n % WORKERS]
        form = urlencode({"csrf_token": csrf, "email": f"nobody{n}@multi.example", "password": "wrong"})
        connection.request("POST", "/account/login", body=form,
                           headers={"Content-Type": "application/x-www-form-urlencoded",
                                    "Cookie": f"session={cookie}"})
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    assert statuses == [200] * LOGIN_LIMIT + [429, 429], statuses


def test_the_redis_relay_delivers_other_processes_events_once(backends):
    from academy.tabletop.broker import Broker

    channel = f"academy:test:{uuid.uuid4().hex}"
    here, there = Broker(), Broker()
    try:
        for broker in (here, there):
            broker.use_redis(backends[1], channel)
        mine, theirs = here.subscribe(7), there.subscribe(7)
        here.publish(7, {"id": 1, "kind": "released"})
        assert theirs.get(timeout=DELIVERY_SECONDS) == {"id": 1, "kind": "released"}
        assert mine.get(timeout=0.1) == {"id": 1, "kind": "released"}  # at commit, without Redis
        time.sleep(0.3)
        assert mine.empty() and theirs.empty()  # its own message coming back is skipped
    finally:
        for broker in (here, there):
            broker.use_redis(None, channel)


def test_the_postgres_relay_delivers_other_processes_events_once(postgres_engine):
    from academy.tabletop.broker import Broker

    channel = _pg_channel()
    here, there = Broker(), Broker()
    try:
        for broker in (here, there):
            broker.use_postgres(postgres_engine, channel)
        mine, theirs = here.subscribe(7), there.subscribe(7)
        first, second, third = ({"id": n, "kind": "released"} for n in (1, 2, 3))
        here.publish(7, first)
        assert mine.get_nowait() == first  # at commit, without the round trip
        assert theirs.get(timeout=DELIVERY_SECONDS) == first
        there.publish(7, second)
        assert theirs.get_nowait() == second
        # A listener hears notifications in commit order: its own first one would have come before this.
        assert mine.get(timeout=DELIVERY_SECONDS) == second
        here.publish(7, third)
        assert mine.get_nowait() == third
        assert theirs.get(timeout=DELIVERY_SECONDS) == third
        assert mine.empty() and theirs.empty()
    finally:
        for broker in (here, there):
            broker.stop_relay()


def test_an_event_too_big_for_a_notification_is_read_from_the_log(postgres_engine):
    from academy.tabletop.broker import Broker

    channel = _pg_channel()
    here, there = Broker(), Broker()
    asked: queue.SimpleQueue = queue.SimpleQueue()
    there.refresh = lambda session_ids: asked.put(session_ids)
    try:
        for broker in (here, there):
            broker.use_postgres(postgres_engine, channel)
        theirs = there.subscribe(7)
        assert asked.get(timeout=DELIVERY_SECONDS) is None  # once listening, every session reads the log
        observation = {"id": 1, "kind": "observed", "payload": {"text": "Ћ" * 4000}}  # 8,000 bytes in UTF-8
        here.publish(7, observation)
        assert asked.get(timeout=DELIVERY_SECONDS) == {7}
        small = {"id": 2, "kind": "released"}
        here.publish(7, small)
        assert theirs.get(timeout=DELIVERY_SECONDS) == small  # the big one never came as an event
    finally:
        for broker in (here, there):
            broker.stop_relay()


def test_the_postgres_listener_reconnects_after_its_connection_is_killed_and_catches_up(backends, exercise,
                                                                                      postgres_engine):
    from sqlalchemy import text

    from academy import create_app
    from academy.extensions import db
    from academy.tabletop import services
    from academy.tabletop.broker import Broker, broker
    from academy.tabletop.hub import hubs
    from academy.tabletop.models import LiveSession
    from tests.conftest import build_settings

    channel = _pg_channel()
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=backends[0], SECRET_KEY=SECRET, LIVE_RELAY="postgres",
                                    TABLETOP_PG_CHANNEL=channel))
    read_log, catch_ups = broker.refresh, queue.SimpleQueue()

    def spy(session_ids):
        delivered = read_log(session_ids)
        catch_ups.put((session_ids, delivered))
        return delivered

    broker.refresh = spy
    other = Broker()  # another process
    other.use_postgres(postgres_engine, channel)
    session_id = exercise["quiet_session_id"]
    inbox = None
    try:
        with app.app_context():
            inbox = broker.subscribe(session_id)
            assert catch_ups.get(timeout=DELIVERY_SECONDS)[0] is None  # listening: every hub reads the log
            live = db.session.get(LiveSession, session_id)
            hub = hubs.get(live, services.scenario_of(live), {"trainer": "/t/__inject__", "participant": "/p"})
            hub.refresh(force=True)
            missed = _observe(session_id, "noted while its notification was lost")
            listener = broker.relay.backend_pid
            assert db.session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": listener})
            db.session.commit()
            assert inbox.get(timeout=DELIVERY_SECONDS).id == missed.seq  # read from the log once listening again
            assert catch_ups.get(timeout=DELIVERY_SECONDS) == (None, 1)
            assert broker.relay.backend_pid not in (None, listener)
            later = _observe(session_id, "noted by another process")
            other.publish(session_id, later.as_stream_dict())
            assert inbox.get(timeout=DELIVERY_SECONDS).id == later.seq
            assert inbox.empty() and catch_ups.empty()
    finally:
        if inbox is not None:
            broker.unsubscribe(session_id, inbox)
            hubs.release(session_id)
        broker.refresh = read_log
        broker.stop_relay()
        other.stop_relay()
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("config, kind", [
    ({"LIVE_RELAY": "auto", "REDIS_URL": "redis://r/0", "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://d/a"},
     "redis"),
    ({"LIVE_RELAY": "auto", "REDIS_URL": None, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://d/a"}, "postgres"),
    ({"LIVE_RELAY": "auto", "REDIS_URL": None, "SQLALCHEMY_DATABASE_URI": "sqlite:///a.db"}, "none"),
    ({"LIVE_RELAY": "postgres", "REDIS_URL": "redis://r/0", "SQLALCHEMY_DATABASE_URI": "postgresql://d/a"},
     "postgres"),
    ({"LIVE_RELAY": "none", "REDIS_URL": "redis://r/0", "SQLALCHEMY_DATABASE_URI": "postgresql://d/a"}, "none"),
    ({"LIVE_RELAY": "redis", "REDIS_URL": None, "SQLALCHEMY_DATABASE_URI": "postgresql://d/a"}, "error"),
    ({"LIVE_RELAY": "postgres", "REDIS_URL": None, "SQLALCHEMY_DATABASE_URI": "sqlite:///a.db"}, "error"),
    ({"LIVE_RELAY": "kafka", "REDIS_URL": None, "SQLALCHEMY_DATABASE_URI": "sqlite:///a.db"}, "error"),
])
def test_live_relay_chooses_redis_then_postgres_and_refuses_what_cannot_work(config, kind):
    from academy.config import ConfigError
    from academy.tabletop.broker import relay_kind

    if kind == "error":
        with pytest.raises(ConfigError):
            relay_kind(config)
    else:
        assert relay_kind(config) == kind


def test_an_unknown_live_relay_in_the_environment_is_refused():
    from academy.config import Config, ConfigError

    assert Config.from_environ({"LIVE_RELAY": " Postgres "})["LIVE_RELAY"] == "postgres"
    with pytest.raises(ConfigError):
        Config.from_environ({"LIVE_RELAY": "kafka"})


@pytest.fixture(scope="module")
def postgres_engine(backends):
    """An engine on the CI database, as a worker's application has one."""
    from sqlalchemy import create_engine

    engine = create_engine(backends[0])
    yield engine
    engine.dispose()


def _pg_channel() -> str:
    """A NOTIFY channel of one test: the servers of this module listen on the default one."""
    return f"academy_test_{uuid.uuid4().hex}"


def _observe(session_id: int, note: str):
    """A trainer's observation written straight into the log: committed, but announced to no stream."""
    from academy.tabletop import engine
    from tests.tabletop.another_process import commit_unannounced

    return commit_unannounced(session_id, engine.OBSERVED, {"text": note, "inject_id": None, "objective": None},
                              dict(engine.TRAINER_ONLY))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_serving(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"gunicorn stopped:\n{log.read_text(errors='replace')}"
        workers = psutil.Process(process.pid).children()
        if len(workers) == WORKERS:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                connection.close()
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not start:\n{log.read_text(errors='replace')}")


def _per_worker(streams: list[Stream]) -> dict:
    counts: dict = {}
    for stream in streams:
        counts[stream.worker] = counts.get(stream.worker, 0) + 1
    return counts


def _connection_on(server: Server) -> tuple[http.client.HTTPConnection, int]:
    """A kept-alive connection answered once, and the worker that holds it."""
    connection = server.connect()
    connection.request("GET", "/healthz")
    connection.getresponse().read()
    return connection, server.worker_of(connection)


def _one_connection_per_worker(server: Server) -> list[http.client.HTTPConnection]:
    held: dict[int, http.client.HTTPConnection] = {}
    for _ in range(50):
        connection, worker = _connection_on(server)
        if worker is not None:
            held.setdefault(worker, connection)
        if len(held) == WORKERS:
            return list(held.values())
    raise AssertionError("the connections all went to one worker")


def _release(connection: http.client.HTTPConnection, exercise: dict, live_session: dict, inject: str) -> int:
    cookie, csrf = exercise["trainer"]
    connection.request("POST", f"/exercises/sessions/{live_session['session_id']}/release",
                       body=urlencode({"csrf_token": csrf, "inject_id": inject}),
                       headers={"Cookie": f"session={cookie}", "Accept": "application/json",
                                "Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    response.read()
    return response.status
