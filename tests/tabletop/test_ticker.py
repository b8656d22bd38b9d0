"""The ticker: it sleeps until the next due inject, plans again when the clock changes, and one releaser at a time.

Most tests drive `Ticker.step` on a frozen clock and read the sleep it asks for; one runs the thread on the real clock
and counts its wake-ups. They use a SQLite file (or the suite's PostgreSQL), not a shared in-memory connection, so
that threads have connections of their own. Two real server processes are in test_ticker_processes.py.
"""
import os
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from academy import create_app
from academy.core.models import utcnow
from academy.extensions import db
from academy.tabletop import engine, services
from academy.tabletop import ticker as ticker_module
from academy.tabletop.ticker import tick
from academy.tabletop.broker import broker
from academy.tabletop.models import LiveSession, SessionEvent, TickerLease
from academy.tabletop.ticker import (
    AdvisoryLock,
    Lease,
    Ticker,
    ensure_ticker,
    holder_gone,
    next_due,
    release_due,
    stop_ticker,
)
from tests.conftest import build_settings

pytestmark = pytest.mark.committed  # the ticker's thread, and a second releaser, have connections of their own

T0 = datetime(2026, 11, 27, 9, 0, 0)
FAR = 10 * 24 * 3600.0  # a lease and a safety net that never cut a planned sleep short in these tests
POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def settings(tmp_path):
    return {} if POSTGRES else {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'ticker.db'}"}


class Clock:
    """A frozen clock the test moves by hand."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def ticker(app, clock):
    """A ticker that is told of events, stepped by the test on the frozen clock: no thread."""
    ticker = Ticker(app, Lease(seconds=FAR), clock=clock, max_sleep=FAR)
    broker.observers.append(ticker.wake)
    yield ticker
    broker.observers.remove(ticker.wake)


def released(live) -> list[str]:
    rows = db.session.scalars(db.select(SessionEvent).where(SessionEvent.session_id == live.session.id,
                                                            SessionEvent.kind == engine.RELEASED)
                              .order_by(SessionEvent.seq))
    return [row.payload["inject_id"] for row in rows]


def command(live, trainer, name: str, now: datetime) -> None:
    services.run_command(db.session.get(LiveSession, live.session.id), name, trainer, now=now)
    db.session.commit()


class Statements:
    """The SQL the database is sent while the block runs."""

    def __init__(self):
        self.seen: list[str] = []

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._record)

    def _record(self, connection, cursor, statement, parameters, context, executemany):
        self.seen.append(statement)


# --- when the next inject is due -------------------------------------------------------------------------------------

def test_next_due_at_is_the_first_moment_the_clock_releases_something(live, world):
    command(live, world.trainer, "start", at(0))
    state, scenario = services.state_of(live.session), services.scenario_of(live.session)
    assert engine.next_due_at(state, scenario) == at(0)  # minute 0
    tick(live.session, now=at(0))
    command(live, world.trainer, "pause", at(2) + timedelta(microseconds=500_000))
    state = services.state_of(live.session)
    assert engine.next_due_at(state, scenario) is None  # paused: never, until the resume
    command(live, world.trainer, "resume", at(30))
    state = services.state_of(live.session)
    due = engine.next_due_at(state, scenario)
    assert due == at(30) + timedelta(minutes=3) - timedelta(microseconds=500_000)  # 5:00 on the exercise clock
    assert [i.id for i in engine.due_injects(state, scenario, due)] == ["bank-call"]
    assert engine.due_injects(state, scenario, due - timedelta(microseconds=1)) == []
    command(live, world.trainer, "end", at(32))
    assert engine.next_due_at(services.state_of(live.session), scenario) is None


# --- the ticker sleeps until then ------------------------------------------------------------------------------------

def test_the_ticker_sleeps_until_the_next_due_inject_and_reads_no_log_before(live, world, ticker, clock):
    command(live, world.trainer, "start", at(0))
    clock.now = at(0) + timedelta(seconds=1)
    assert ticker.step() == 299.0  # minute 0 released; bank-call at 5:00
    assert released(live) == ["alert-bank-portal"]
    clock.now = at(3)
    with Statements() as statements:
        assert ticker.step() == 120.0  # woken early (a lost message, the safety net): it goes back to sleep
    assert not [s for s in statements.seen if "session_event" in s]  # without reading any log
    clock.now = at(5)
    assert ticker.step() == 180.0  # embassy-note at 8:00
    assert released(live) == ["alert-bank-portal", "bank-call"]
    assert ticker.step() == 180.0 and released(live) == ["alert-bank-portal", "bank-call"]  # released once


def test_the_ticker_plans_again_on_a_start_a_pause_a_resume_and_an_unlocking_decision(live, world, ticker, clock):
    limit = min(ticker.max_sleep, ticker.leadership.renew_seconds)
    assert ticker.step() == limit  # nothing runs
    clock.now = at(0)
    ticker.woken.clear()
    command(live, world.trainer, "start", at(0))
    assert ticker.woken.is_set()
    assert ticker.step() == 300.0
    ticker.woken.clear()
    clock.now = at(2)
    command(live, world.trainer, "pause", at(2))
    assert ticker.woken.is_set()
    assert ticker.step() == limit  # paused: nothing will fall due
    ticker.woken.clear()
    clock.now = at(10)
    command(live, world.trainer, "resume", at(10))
    assert ticker.woken.is_set()
    assert ticker.step() == 180.0  # 3 minutes of exercise time left to 5:00
    clock.now = at(16)
    ticker.step()  # bank-call (5:00) and embassy-note (8:00)
    assert ticker.step() == 420.0  # news-report at 15:00; neighbour-confirms (10:00) waits to be unlocked
    ticker.woken.clear()
    clock.now = at(17)
    services.decide(live.session, live.cert.participant, "alert-bank-portal", "call-neighbour", "Ask them",
                    now=at(17))
    db.session.commit()
    assert ticker.woken.is_set()
    assert ticker.step() == 60.0  # the follow-up is due at 10:00, before the news at 15:00
    clock.now = at(18)
    assert ticker.step() == 300.0
    assert released(live)[-1] == "neighbour-confirms"


def test_an_observation_does_not_wake_the_ticker(live, world, ticker):
    command(live, world.trainer, "start", at(0))
    ticker.woken.clear()
    services.observe(live.session, "Quiet start", world.trainer)
    db.session.commit()
    assert not ticker.woken.is_set()


def test_release_due_releases_only_running_sessions_whose_time_has_come(live, world, scenario):
    command(live, world.trainer, "start", at(0))
    lobby = services.create_session(world.trainer, scenario, "Not started", allow_guests=False)
    db.session.commit()
    assert release_due(now=at(9)) == 3
    assert release_due(now=at(9)) == 0  # released once, however often it runs
    assert released(live) == ["alert-bank-portal", "bank-call", "embassy-note"]
    assert services.state_of(lobby).releases == {}
    assert next_due() == at(15)


def test_a_session_whose_release_fails_is_tried_again_later_not_at_once(live, world, monkeypatch):
    command(live, world.trainer, "start", at(0))

    def broken(session, now=None):
        raise RuntimeError("a bad row")

    monkeypatch.setattr(ticker_module, "tick", broken)
    assert release_due(now=at(1)) == 0
    db.session.expire_all()
    assert db.session.get(LiveSession, live.session.id).next_due_at == at(1) + timedelta(seconds=5)


def test_the_ticker_thread_wakes_for_a_start_and_at_the_due_time_not_every_second(app, live, world):
    """On the real clock: the session is started (in this process) with bank-call due in LEAD seconds."""
    lead = 1.5
    app.config["TABLETOP_TICKER"] = True
    ticker = ensure_ticker(app)
    try:
        assert ensure_ticker(app) is ticker and ticker.thread.daemon
        assert wait_until(lambda: ticker.steps >= 1 and ticker.leadership.held, 10)
        idle = ticker.steps
        time.sleep(2.5)
        assert ticker.steps == idle  # asleep while nothing runs (it used to look every second)
        started = utcnow() - timedelta(seconds=300 - lead)
        command(live, world.trainer, "start", started)
        assert wait_until(lambda: "alert-bank-portal" in released(live), 3.0)  # woken by the start, not in 60 s
        assert wait_until(lambda: "bank-call" in released(live), lead + 5)
        release = db.session.scalar(db.select(SessionEvent).where(SessionEvent.session_id == live.session.id,
                                                                  SessionEvent.kind == engine.RELEASED)
                                    .order_by(SessionEvent.seq.desc()).limit(1))
        late = (release.at - (started + timedelta(seconds=300))).total_seconds()
        assert 0 <= late <= 1.0, late
        assert ticker.steps - idle <= 4, ticker.steps - idle  # the start, the due time, and not much else
    finally:
        stop_ticker(app)
        app.config["TABLETOP_TICKER"] = False
    assert not ticker.alive and ticker.wake not in broker.observers
    assert "tabletop_ticker" not in app.extensions


def test_the_ticker_is_off_when_configured_off(app):
    assert ensure_ticker(app) is None and "tabletop_ticker" not in app.extensions


# --- one releaser at a time ------------------------------------------------------------------------------------------

@pytest.fixture
def sqlite_app(tmp_path):
    """An application on a SQLite file, whichever database the suite runs on: the lease is SQLite's way."""
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'lease.db'}"))
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_one_process_holds_the_lease_until_it_expires(sqlite_app, clock):
    first, second = Lease(seconds=15, clock=clock), Lease(seconds=15, clock=clock)
    assert first.hold() and not second.hold()
    clock.now += timedelta(seconds=4)
    assert first.hold() and not second.hold()  # renewed less than 5 s ago: no write, still held
    clock.now += timedelta(seconds=2)
    assert first.hold()  # renewed: until 6 + 15 s
    clock.now += timedelta(seconds=14)
    assert not second.hold()
    clock.now += timedelta(seconds=2)  # first stalled past its lease
    assert second.hold() and not first.hold()
    assert db.session.get(TickerLease, 1).holder == second.me


def test_a_lease_whose_holder_has_ended_is_taken_over_at_once(sqlite_app, clock):
    first, second = Lease(seconds=15, clock=clock), Lease(seconds=15, clock=clock)
    first.me = f"{socket.gethostname()}:{ended_pid()}:gone"
    assert first.hold()  # then its process ends: the lease still has 15 s to run
    assert holder_gone(first.me) and not holder_gone(second.me)
    assert not holder_gone(f"another-host:{ended_pid()}:x")  # a process elsewhere cannot be asked
    assert second.hold()


def test_a_lease_given_up_is_taken_at_the_next_try(sqlite_app, clock):
    first, second = Lease(seconds=15, clock=clock), Lease(seconds=15, clock=clock)
    assert first.hold() and not second.hold()
    first.let_go()
    assert second.hold() and not first.hold()


def test_of_two_leases_reading_the_same_expired_row_one_wins(sqlite_app, clock):
    assert Lease(seconds=15, clock=clock).hold()
    clock.now += timedelta(seconds=20)  # expired
    barrier, won = threading.Barrier(2), []

    def take(lease):
        with sqlite_app.app_context():
            barrier.wait()
            won.append(lease.hold())

    threads = [threading.Thread(target=take, args=(lease,)) for lease in (Lease(clock=clock), Lease(clock=clock))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(won) == [False, True]


@pytest.mark.postgresql
def test_one_process_holds_the_advisory_lock_and_a_dead_connection_frees_it(app):
    if not POSTGRES:
        pytest.fail("the advisory lock needs TEST_DATABASE_URL (PostgreSQL): run it as "
                    "`scripts/ci-services .venv/bin/python -m pytest -m postgresql` (make test does)")
    first, second = AdvisoryLock(db.engine), AdvisoryLock(db.engine)
    try:
        assert first.hold() and not second.hold()
        assert first.hold() and not second.hold()  # kept
        backend = first._connection.scalar(text("SELECT pg_backend_pid()"))
        db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        db.session.commit()
        assert wait_until(second.hold, 5)  # PostgreSQL freed the lock with the session
        with pytest.raises(OperationalError):
            first.hold()  # its connection is gone: it knows it no longer releases
        assert not first.hold()
        second.let_go()
        assert first.hold()  # given up: free at once
    finally:
        first.let_go()
        second.let_go()


@pytest.mark.parametrize("releaser", ["ticker", "console"])
def test_a_due_inject_is_released_once_when_two_releasers_compete(app, live, world, releaser):
    """Both at the same moment, as two processes that each believe they release (or the console and the ticker)."""
    command(live, world.trainer, "start", at(0))
    session_id, barrier = live.session.id, threading.Barrier(2)

    def release() -> int:
        with app.app_context():
            barrier.wait()
            if releaser == "ticker":
                return release_due(now=at(9))
            count = len(tick(db.session.get(LiveSession, session_id), now=at(9)))
            db.session.commit()
            return count

    with ThreadPoolExecutor(2) as pool:
        counts = [future.result(timeout=60) for future in [pool.submit(release) for _ in range(2)]]
    assert released(live) == ["alert-bank-portal", "bank-call", "embassy-note"]
    assert sum(counts) == 3


def test_a_release_refused_as_a_duplicate_leaves_the_other_events_of_its_transaction_announced(live, world):
    command(live, world.trainer, "start", at(0))
    assert release_due(now=at(0)) == 1
    heard: list = []
    broker.observers.append(heard.append)
    try:
        services.observe(live.session, "The CERT calls the bank", world.trainer)
        payload = {"inject_id": "alert-bank-portal", "how": "scheduled", "title": "", "audience": {"all": True},
                   "elapsed_seconds": 0}
        assert services.append(live.session, engine.RELEASED, payload, {"all": True},
                               dedupe_key="release:alert-bank-portal") is None  # as a second releaser's would be
        db.session.commit()
    finally:
        broker.observers.remove(heard.append)
    assert [event["kind"] for event in heard] == [engine.OBSERVED]
    assert released(live) == ["alert-bank-portal"]


# --- helpers ---------------------------------------------------------------------------------------------------------

def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        db.session.rollback()  # read what other connections committed since
        time.sleep(0.05)
    return bool(condition())


def ended_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
