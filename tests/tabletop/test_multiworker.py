"""Two gunicorn workers, one PostgreSQL and one Redis: live events and rate limits are shared, as in production.

Needs TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL; `scripts/ci-services` provides both, as `make test` does.
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

from tests.content_fixture import ContentFolder
from tests.tabletop.scenario_fixture import ScenarioFolder

pytestmark = pytest.mark.multiworker

ROOT = Path(__file__).resolve().parents[2]
SECRET = "multiworker-test-secret"
WORKERS = 2
PARTICIPANTS = 40
STREAMS_PER_WORKER = 3
DELIVERY_SECONDS = 3.0  # far below the 15 s keepalive at which a stream would read the log by itself
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
    """The fixture scenario in a paused session with a trainer and guest participants in every role."""
    from flask import session as flask_session
    from flask_wtf.csrf import generate_csrf

    from academy import create_app
    from academy.accounts.models import Role
    from academy.extensions import db
    from academy.institutions.services import ensure_countries
    from academy.learning.sync import sync_content
    from academy.tabletop import services
    from academy.tabletop.models import Scenario
    from academy.tabletop.scenario_sync import sync_scenarios
    from tests import factories
    from tests.conftest import build_settings

    root = tmp_path_factory.mktemp("multiworker")
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=backends[0], SECRET_KEY=SECRET))
    with app.app_context():
        db.drop_all()
        db.create_all()
        ensure_countries()
        sync_content(ContentFolder(root).folder)
        sync_scenarios(ScenarioFolder(root).folder, {"first-module"})
        trainer = factories.make_user("trainer@multi.example", roles=(Role.TRAINER,), institution=None, track=None)
        scenario = db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))
        live = services.create_session(trainer, scenario, "Two workers", allow_guests=True)
        definition = services.scenario_of(live)
        roles = [role.code for role in definition.roles]
        serializer = app.session_interface.get_signing_serializer(app)
        cookies = []
        for n in range(PARTICIPANTS):
            participant = services.join(live, guest_name=f"Guest {n}", guest_institution="Test")
            services.assign_role(live, participant, roles[n % len(roles)], trainer)
            cookies.append(serializer.dumps({"guest_participants": {str(live.id): participant.guest_token}}))
        services.run_command(live, "start", trainer)
        services.run_command(live, "pause", trainer)  # the ticker releases nothing; the trainer does
        db.session.commit()
        injects = [inject.id for inject in definition.injects
                   if inject.audience == "all" and not inject.follow_up and inject.offset > 0]
        with app.test_request_context():
            flask_session["_user_id"], flask_session["_fresh"] = trainer.get_id(), True
            trainer_csrf = generate_csrf()
            trainer_cookie = serializer.dumps(dict(flask_session))
            visitor_cookie = serializer.dumps({"csrf_token": flask_session["csrf_token"]})  # signed out
        session_id = live.id
        db.session.remove()
        db.engine.dispose()
    return {"session_id": session_id, "cookies": cookies, "injects": injects,
            "trainer": (trainer_cookie, trainer_csrf), "visitor": (visitor_cookie, trainer_csrf)}


@pytest.fixture(scope="module")
def server(backends, exercise, tmp_path_factory):
    """The academy under gunicorn with two gevent workers, as the README starts it in production."""
    database, redis_url = backends
    log = tmp_path_factory.mktemp("gunicorn") / "server.log"
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database, "REDIS_URL": redis_url, "SECRET_KEY": SECRET,
           "ACADEMY_ENV": "development", "TOKEN_RATE_LIMIT": f"{TOKEN_LIMIT} per hour",
           "LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT} per hour"}
    command = [sys.executable, "-m", "gunicorn", "--worker-class", "gevent", "--workers", str(WORKERS),
               "--bind", f"127.0.0.1:{port}", "--keep-alive", "60", "--graceful-timeout", "2",
               "--log-level", "warning", "wsgi:app"]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        _wait_until_serving(process, port, log)
        yield Server(process, port, log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Server:
    def __init__(self, process: subprocess.Popen, port: int, log: Path):
        self.process, self.port, self.log = process, port, log
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
def streams(server, exercise):
    """Streams opened until each worker holds a few; closed after the test."""
    opened: list[Stream] = []
    try:
        for cookie in exercise["cookies"]:
            opened.append(Stream(server, exercise["session_id"], cookie))
            counts = _per_worker(opened)
            if len(counts) == WORKERS and min(counts.values()) >= STREAMS_PER_WORKER:
                break
        assert all(stream.ready.wait(10) for stream in opened), "a stream did not start"
        yield opened
    finally:
        for stream in opened:
            stream.close()


def test_an_inject_released_on_one_worker_reaches_the_streams_of_every_worker(server, exercise, streams):
    counts = _per_worker(streams)
    assert len(counts) == WORKERS and None not in counts, f"streams per worker: {counts}\n{server.tail()}"
    for stream in streams:
        stream.drain()
    inject = exercise["injects"][0]
    console, releasing_worker = _connection_on(server)
    sent = time.monotonic()
    status = _release(console, exercise, inject)
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


def test_a_stream_reconnecting_with_last_event_id_catches_up_on_any_worker(server, exercise, streams):
    last_ids = {}
    for stream in streams:
        stream.drain()
        last_ids[id(stream)] = max(event["id"] for event in stream.seen)
        stream.close()
    inject = exercise["injects"][1]
    console, _ = _connection_on(server)
    assert _release(console, exercise, inject) == 200, server.tail()
    reopened = []
    try:
        for stream, cookie in zip(streams, exercise["cookies"]):
            again = Stream(server, exercise["session_id"], cookie, last_event_id=last_ids[id(stream)])
            reopened.append(again)
            assert again.wait_for(inject, time.monotonic() + DELIVERY_SECONDS), f"worker {again.worker}"
            assert min(event["id"] for event in again.seen) > last_ids[id(stream)], "events sent twice"
        assert len({stream.worker for stream in reopened}) == WORKERS
    finally:
        for stream in reopened:
            stream.close()


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


def _release(connection: http.client.HTTPConnection, exercise: dict, inject: str) -> int:
    cookie, csrf = exercise["trainer"]
    connection.request("POST", f"/exercises/sessions/{exercise['session_id']}/release",
                       body=urlencode({"csrf_token": csrf, "inject_id": inject}),
                       headers={"Cookie": f"session={cookie}", "Accept": "application/json",
                                "Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    response.read()
    return response.status
