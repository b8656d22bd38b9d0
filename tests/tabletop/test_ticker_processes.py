"""Two academy servers on one database: one of them releases scheduled injects, and the other takes over when it dies.

P and Q (gunicorn, one gevent worker each, the ticker on as in production) share a SQLite file, where the releasing
process holds the lease row, or a PostgreSQL database, where it holds the advisory lock and the LISTEN/NOTIFY relay
carries events. Sessions are started from this process, backdated so that an inject falls due a few seconds later:
which process holds the lock or lease is read from the database, and each release must come once, on time.
"""
import os
import time
from datetime import timedelta

import psutil
import pytest
from sqlalchemy import text

from academy import create_app
from academy.accounts.models import User
from academy.core.models import utcnow
from academy.extensions import db
from academy.tabletop import engine, services
from academy.tabletop.models import LiveSession, Scenario, SessionEvent, TickerLease
from tests.conftest import build_settings
from tests.server_process import EventStream, ServerProcess
from tests.tabletop.server_world import fresh_database, signed_cookie

SECRET = "ticker-processes-test-secret"
LEAD = 2.5  # seconds between a start and the inject (5:00) it makes due
LATE = 1.5  # how late a release may come: the releasing process sleeps until the due time
WAIT = 20.0  # the longest wait; reached only when something is broken
DUE_OFFSET = 300  # seconds: "bank-call" is scheduled at 5:00
CASES = [pytest.param("sqlite", id="sqlite-lease"),
         pytest.param("postgres", id="postgres-advisory-lock", marks=pytest.mark.multiworker)]


@pytest.fixture(scope="module", params=CASES)
def world(request, tmp_path_factory):
    """A trainer, the fixture scenario, and this process relaying events as the servers do."""
    case = request.param
    root = tmp_path_factory.mktemp(f"ticker-{case}")
    if case == "sqlite":
        database, relay = f"sqlite:///{root / 'academy.db'}", "none"
    else:
        database, relay = os.environ.get("TEST_DATABASE_URL", ""), "postgres"
        if not database.startswith("postgresql"):
            pytest.fail("the advisory lock case needs TEST_DATABASE_URL (PostgreSQL): run it under "
                        "scripts/ci-services, as make test does")
    # The servers' NOTIFY channel is the default one (a channel is per database): this process sends on it too.
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=database, SECRET_KEY=SECRET, LIVE_RELAY=relay))
    with app.app_context():
        trainer, scenario = fresh_database(root, "trainer@ticker.example")
        db.session.commit()
        cookie = signed_cookie(app, {"_user_id": trainer.get_id(), "_fresh": True})[0]
        ids = (trainer.id, scenario.id)
        db.session.remove()
    env = {"DATABASE_URL": database, "SECRET_KEY": SECRET, "ACADEMY_ENV": "development", "LIVE_RELAY": relay,
           "REDIS_URL": "", "LIVE_POLL_SECONDS": "1" if case == "sqlite" else "0"}
    yield {"case": case, "app": app, "ids": ids, "cookie": cookie, "env": env}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def servers(world, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"ticker-servers-{world['case']}")
    pair = {name: ServerProcess(world["env"], folder / f"{name}.log") for name in ("p", "q")}
    try:
        for server in pair.values():
            server.start()
        yield pair
    finally:
        for server in pair.values():
            server.stop()


def test_one_process_releases_on_time_and_the_other_takes_over_when_it_dies(world, servers):
    lobby = create_session(world, "Opened on both servers")
    streams = [EventStream(server, f"/exercises/sessions/{lobby}/stream", world["cookie"])
               for server in servers.values()]  # a live page starts each server's ticker
    try:
        assert all(stream.ready.wait(WAIT) for stream in streams), tails(servers)
        workers = {worker_pid(server): name for name, server in servers.items()}
        assert wait_until(lambda: releasers(world) and both_tick(world, workers), WAIT), tails(servers)
        holder = releasers(world)
        for _ in range(10):  # one releaser, the same one, while both run
            time.sleep(0.3)
            assert releasers(world) == holder, (holder, releasers(world))
            assert both_tick(world, workers)
        assert len(holder) == 1 and holder <= set(workers)
        first = start_backdated(world, "While both run")
        check_released_once_on_time(world, first, servers)

        dead = workers[next(iter(holder))]
        servers[dead].kill()
        killed_at = time.monotonic()
        survivor = next(pid for pid, name in workers.items() if name != dead)
        assert wait_until(lambda: releasers(world) == {survivor}, WAIT), tails(servers)
        takeover = time.monotonic() - killed_at
        print(f"\n{world['case']}: the standby took over {takeover:.2f} s after the releasing process was killed")
        assert takeover <= 2 * 2.0 + 1.0  # two standby intervals, and the database noticing the death
        second = start_backdated(world, "After the kill")
        check_released_once_on_time(world, second, servers)
        assert released_injects(world, first["id"]) == ["alert-bank-portal", "bank-call"]  # nothing twice since
    finally:
        for stream in streams:
            stream.close()


# --- helpers ---------------------------------------------------------------------------------------------------------

def create_session(world, title: str) -> int:
    with world["app"].app_context():
        trainer_id, scenario_id = world["ids"]
        live = services.create_session(db.session.get(User, trainer_id), db.session.get(Scenario, scenario_id),
                                       title, allow_guests=True)
        db.session.commit()
        session_id = live.id
        db.session.remove()
    return session_id


def start_backdated(world, title: str) -> dict:
    """A session started so that bank-call (5:00) falls due LEAD seconds from now; committed here, not on a server."""
    session_id = create_session(world, title)
    with world["app"].app_context():
        started = utcnow() - timedelta(seconds=DUE_OFFSET - LEAD)
        services.run_command(db.session.get(LiveSession, session_id), "start",
                             db.session.get(User, world["ids"][0]), now=started)
        db.session.commit()  # on PostgreSQL the relay tells the servers; on SQLite the releasing one looks each second
        db.session.remove()
    return {"id": session_id, "due": started + timedelta(seconds=DUE_OFFSET)}


def check_released_once_on_time(world, session: dict, servers) -> None:
    assert wait_until(lambda: "bank-call" in released_injects(world, session["id"]), LEAD + WAIT), tails(servers)
    time.sleep(0.5)  # a second release, were there one, would be in by now
    events = released_events(world, session["id"])
    assert [event["inject_id"] for event in events] == ["alert-bank-portal", "bank-call"]
    bank_call = events[-1]
    late = (bank_call["at"] - session["due"]).total_seconds()
    print(f"{world['case']}: released {late:.3f} s after its due time")
    assert 0 <= late <= LATE, late
    assert bank_call["how"] == "scheduled" and bank_call["actor_id"] is None


def released_events(world, session_id: int) -> list[dict]:
    with world["app"].app_context():
        rows = db.session.scalars(db.select(SessionEvent).where(SessionEvent.session_id == session_id,
                                                                SessionEvent.kind == engine.RELEASED)
                                  .order_by(SessionEvent.seq))
        events = [{"inject_id": row.payload["inject_id"], "how": row.payload["how"], "at": row.at,
                   "actor_id": row.actor_id} for row in rows]
        db.session.remove()
    return events


def released_injects(world, session_id: int) -> list[str]:
    return [event["inject_id"] for event in released_events(world, session_id)]


def releasers(world) -> set[int]:
    """The pids of the processes that hold the advisory lock, or the unexpired lease."""
    with world["app"].app_context():
        if world["case"] == "sqlite":
            lease = db.session.get(TickerLease, 1)
            found = {int(lease.holder.split(":")[1])} if lease and lease.expires_at > utcnow() else set()
        else:
            names = db.session.scalars(text(
                "SELECT activity.application_name FROM pg_locks AS lock JOIN pg_stat_activity AS activity "
                "USING (pid) WHERE lock.locktype = 'advisory' AND lock.granted "
                "AND activity.datname = current_database()")).all()  # another xdist worker has its own database
            found = {int(name.split()[-1]) for name in names if name.startswith("academy-ticker ")}
        db.session.remove()
    return found


def both_tick(world, workers: dict) -> bool:
    """Each server runs a ticker, releasing or standing by: on PostgreSQL each holds its connection. (A lease shows
    only its holder.)"""
    if world["case"] == "sqlite":
        return True
    with world["app"].app_context():
        names = db.session.scalars(text("SELECT application_name FROM pg_stat_activity "
                                        "WHERE application_name LIKE 'academy-ticker %' "
                                        "AND datname = current_database()")).all()
        db.session.remove()
    return {int(name.split()[-1]) for name in names} == set(workers)


def worker_pid(server: ServerProcess) -> int:
    (worker,) = psutil.Process(server.process.pid).children()
    return worker.pid


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return bool(condition())


def tails(servers) -> str:
    return "\n".join(f"--- {name} ---\n{server.tail(2000)}" for name, server in servers.items())
