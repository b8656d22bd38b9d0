"""The ticker: scheduled injects are released when they fall due, by one process at a time.

When. Each running session keeps `next_due_at` (models.LiveSession), never later than its next scheduled inject.
The ticker sleeps until the earliest of them, found by one indexed query, and then looks only at the sessions whose
time has come: it releases what is due in each and writes that session's exact next due time (engine.next_due_at).
No log is read while nothing is due. A start, a resume or a decision that unlocks a follow-up sets the session's time
to the moment of that event (services.check_clock_at), and wakes the ticker: the broker tells it of every event
committed in this process and, through the relay, in the others. Pauses and ends wake it too, to plan again.
Without a relay (SQLite) other processes' events are not heard, so the ticker looks every LIVE_POLL_SECONDS, as the
log poller does; in any case it never sleeps longer than MAX_SLEEP_SECONDS, the safety net for a lost message.

Who. Every process that serves live pages starts a ticker, but only one releases; the others stand by and try to
take over every STANDBY_SECONDS. On PostgreSQL the releasing process holds a session-level advisory lock on a
connection of its own: when the process dies, its connection closes and PostgreSQL frees the lock. On other
databases (SQLite) the releasing process holds the row of `ticker_lease` and keeps pushing its expiry forward;
another process takes the row, with an UPDATE conditional on what it read, once the lease has expired or at once
when the holder's process has ended (a SQLite database is a file of one host, where that can be asked).

Why releasing stays idempotent. A lock does not make a second release impossible: a holder whose connection died
without a word releases once more before it notices, and a lease can expire under a holder stalled longer than it.
So releasing is guarded as it always was, and the lock only saves the work: the ticker takes the session's row lock
before it reads the log, skips injects the log shows released, and the `release:<inject>` dedupe key
(services.release, services.append) has the database refuse a second event for the same inject. Two processes
releasing at once still make one event. No request releases scheduled injects: the ticker is the one place.
"""

import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, create_engine, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from academy.core.models import utcnow
from academy.extensions import db
from academy.tabletop import engine, services
from academy.tabletop.broker import PostgresRelay, broker
from academy.tabletop.models import LiveSession, SessionEvent, TickerLease

log = logging.getLogger(__name__)

MAX_SLEEP_SECONDS = 60.0  # the longest sleep, whatever the sessions say: a lost wake-up costs at most this
STANDBY_SECONDS = 2.0  # how often a process that does not release tries to take over
LEASE_SECONDS = 15.0  # how long a lease lasts unrenewed; its holder renews it every third of that
RETRY_SECONDS = 5.0  # after an error, and before a session whose release failed is tried again
# Events that move a session's next due time earlier, or make the plan moot.
WAKING = frozenset({engine.STARTED, engine.PAUSED, engine.RESUMED, engine.ENDED, engine.DECIDED})
ADVISORY_KEY = int.from_bytes(b"tabletop", "big")  # the advisory lock's number: "tabletop" in ASCII


# --- releasing -------------------------------------------------------------------------------------------------------


def tick(session: LiveSession, now: datetime | None = None) -> list[SessionEvent]:
    """Release whatever the clock says is due in one session; idempotent, so safe from any process at any time
    (the ticker is the only caller outside the tests)."""
    now = now or utcnow()
    released = []
    for inject in engine.due_injects(services.state_of(session), services.scenario_of(session), now):
        # Another process may have released it, and more, while this one waited for the session's row: a refused
        # event drops the state, and state_of reads the log again.
        state = services.state_of(session)
        if inject.id in state.releases or state.status != engine.RUNNING:
            continue
        row = services.release(session, inject.id, "unlocked" if inject.follow_up else "scheduled", now=now)
        if row is not None:
            released.append(row)
    return released


def release_due(now: datetime | None = None) -> int:
    """Release what is due in each running session whose next due time has come, one commit each; returns how many."""
    now = now or utcnow()
    due = db.session.scalars(
        select(LiveSession.id)
        .where(LiveSession.status == engine.RUNNING, LiveSession.next_due_at <= now)
        .order_by(LiveSession.next_due_at)
    ).all()
    released = 0
    for session_id in due:
        try:
            released += _release_session(session_id, now)
            db.session.commit()
        except Exception:  # one broken session must not stop the clock of the others, nor take all its time
            db.session.rollback()
            log.exception("releasing the due injects of session %s failed", session_id)
            _plan(session_id, now + timedelta(seconds=RETRY_SECONDS))
            db.session.commit()
    return released


def _release_session(session_id: int, now: datetime) -> int:
    # The claim writes the row first: it stays locked (on SQLite, the database) until commit, so the log read next is
    # complete and no event of another process comes between it and the next due time written from it. A claim that
    # finds nothing due (another ticker was quicker) ends here.
    claim = cast(
        CursorResult,
        db.session.execute(
            update(LiveSession)
            .where(LiveSession.id == session_id, LiveSession.status == engine.RUNNING, LiveSession.next_due_at <= now)
            .values(next_due_at=None)
            .execution_options(synchronize_session=False)
        ),
    )
    live = db.session.get(LiveSession, session_id)
    if claim.rowcount != 1 or live is None:
        return 0
    released = tick(live, now=now)
    _plan(session_id, engine.next_due_at(services.state_of(live), services.scenario_of(live)))
    return len(released)


def _plan(session_id: int, moment: datetime | None) -> None:
    db.session.execute(
        update(LiveSession)
        .where(LiveSession.id == session_id)
        .values(next_due_at=moment)
        .execution_options(synchronize_session=False)
    )


def next_due() -> datetime | None:
    """The earliest next due time of the running sessions."""
    return db.session.scalar(select(func.min(LiveSession.next_due_at)).where(LiveSession.status == engine.RUNNING))


# --- who releases ----------------------------------------------------------------------------------------------------


class AdvisoryLock:
    """PostgreSQL: a session-level advisory lock, on a connection of the ticker's own, named in pg_stat_activity."""

    renew_seconds = MAX_SLEEP_SECONDS  # nothing to renew; the connection is checked at each step
    APPLICATION_NAME = "academy-ticker"

    def __init__(self, database_engine):
        options = {**PostgresRelay.CONNECT_OPTIONS, "application_name": f"{self.APPLICATION_NAME} {os.getpid()}"}
        self._engine = create_engine(
            database_engine.url, poolclass=NullPool, connect_args=options, isolation_level="AUTOCOMMIT"
        )
        self._connection = None
        self.held = False

    def hold(self) -> bool:
        """Keep the lock, or take it if no other process holds it."""
        try:
            if self._connection is None:
                self._connection = self._engine.connect()
            if self.held:
                self._connection.execute(text("SELECT 1"))  # the session, and so the lock, is still there
            else:
                self.held = bool(
                    self._connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY})
                )
        except SQLAlchemyError:
            self.let_go()
            raise
        return self.held

    def let_go(self) -> None:
        connection, held, self._connection, self.held = self._connection, self.held, None, False
        if connection is None:
            return
        try:
            if held:  # at once: the server ends a closed session's backend, and frees its locks, a moment later
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            connection.close()
        except SQLAlchemyError:
            pass  # a connection that is gone holds nothing
        self._engine.dispose()


class Lease:
    """Other databases (SQLite): the one row of `ticker_lease`, held while its holder keeps renewing it."""

    def __init__(self, seconds: float = LEASE_SECONDS, clock=utcnow):
        self.seconds, self.clock = seconds, clock
        self.renew_seconds = seconds / 3
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.held = False

    def hold(self) -> bool:
        """Renew the lease, or take it if it has expired or its holder's process has ended."""
        now = self.clock()
        row = db.session.execute(select(TickerLease.holder, TickerLease.expires_at).where(TickerLease.id == 1)).first()
        until = now + timedelta(seconds=self.seconds)
        if row is None:  # a database made by create_all
            try:
                with db.session.begin_nested():
                    db.session.execute(insert(TickerLease).values(id=1, holder=self.me, expires_at=until))
                taken = True
            except IntegrityError:
                taken = False
        elif row.holder == self.me and row.expires_at - now > timedelta(seconds=self.seconds - self.renew_seconds):
            taken = True  # renewed less than renew_seconds ago: no write
        elif row.holder == self.me or row.expires_at <= now or holder_gone(row.holder):
            # Unchanged since it was read, or another process took it first: of two that saw it free, one wins.
            taken = (
                cast(
                    CursorResult,
                    db.session.execute(
                        update(TickerLease)
                        .where(
                            TickerLease.id == 1,
                            TickerLease.holder == row.holder,
                            TickerLease.expires_at == row.expires_at,
                        )
                        .values(holder=self.me, expires_at=until)
                    ),
                ).rowcount
                == 1
            )
        else:
            taken = False
        db.session.commit()
        self.held = taken
        return taken

    def let_go(self) -> None:
        """Give the lease up, so that another process takes over at its next try."""
        if self.held:
            db.session.execute(
                update(TickerLease)
                .where(TickerLease.id == 1, TickerLease.holder == self.me)
                .values(expires_at=self.clock())
            )
            db.session.commit()
        self.held = False


def holder_gone(holder: str) -> bool:
    """Whether the process a lease names has ended; only one on this host can be asked, another counts as alive."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, but another user's
        return False
    return False


def leadership_for(database_engine):
    return AdvisoryLock(database_engine) if database_engine.dialect.name == "postgresql" else Lease()


# --- the thread ------------------------------------------------------------------------------------------------------


class Ticker:
    """This process's ticker: stands by, or releases what is due and sleeps until the next due time or a wake-up."""

    def __init__(self, app, leadership, *, clock=utcnow, max_sleep: float = MAX_SLEEP_SECONDS):
        self.app, self.leadership, self.clock, self.max_sleep = app, leadership, clock, max_sleep
        self.woken, self.stopped = threading.Event(), threading.Event()
        self.thread: threading.Thread | None = None
        self.steps = 0

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def wake(self, event: dict | None = None) -> None:
        """The broker's observer: an event that may change when the next inject is due (None: events were missed)."""
        if event is None or event.get("kind") in WAKING:
            self.woken.set()

    def step(self) -> float:
        """Release what is due if this process is the releasing one; returns the seconds until the next step."""
        self.steps += 1
        with self.app.app_context():
            if not self.leadership.hold():
                return STANDBY_SECONDS
            release_due(self.clock())
            upcoming = next_due()
        limit = min(self.max_sleep, self.leadership.renew_seconds)
        if upcoming is None:
            return limit
        return min(limit, max(0.0, (upcoming - self.clock()).total_seconds()))

    def start(self) -> None:
        broker.observers.append(self.wake)
        self.thread = threading.Thread(target=self._run, name="tabletop-ticker", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped.set()
        self.woken.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout)

    def _run(self) -> None:
        broker.listen()  # other processes' events wake it even when no stream here watches their session
        try:
            while not self.stopped.is_set():
                self.woken.clear()
                try:
                    delay = self.step()
                except Exception:  # it must outlive a bad moment (a database restart, a lost connection)
                    log.exception("the tabletop ticker failed; it tries again in %s s", RETRY_SECONDS)
                    delay = RETRY_SECONDS
                # A process standing by is not woken by events: only the releasing one acts on them.
                (self.woken if self.leadership.held else self.stopped).wait(delay)
        finally:
            if self.wake in broker.observers:
                broker.observers.remove(self.wake)
            try:
                with self.app.app_context():
                    self.leadership.let_go()
            except Exception:
                log.exception("the tabletop ticker could not give up releasing")


_start_lock = threading.Lock()


def ensure_ticker(app) -> Ticker | None:
    """Start this process's ticker on first use, unless the configuration turns it off (as the tests do)."""
    if not app.config.get("TABLETOP_TICKER", True):
        return None
    with _start_lock:
        ticker = app.extensions.get("tabletop_ticker")
        if ticker is not None and ticker.alive:
            return ticker
        with app.app_context():
            leadership = leadership_for(db.engine)
        # Without a relay, events of other processes reach nobody here: look as often as the log poller does.
        poll = app.config.get("LIVE_POLL_SECONDS") if broker.relay is None else 0
        ticker = Ticker(app, leadership, max_sleep=min(MAX_SLEEP_SECONDS, poll or MAX_SLEEP_SECONDS))
        app.extensions["tabletop_ticker"] = ticker
        ticker.start()
        return ticker


def stop_ticker(app) -> None:
    """Stop this process's ticker, if it runs, and let another process release."""
    ticker = app.extensions.pop("tabletop_ticker", None)
    if ticker is not None:
        ticker.stop()
