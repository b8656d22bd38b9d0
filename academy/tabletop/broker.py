"""Fan-out of committed session events to the live streams of this process, and through a relay to every other one.

The relay is Redis pub/sub when there is a REDIS_URL, else PostgreSQL LISTEN/NOTIFY when the database is
PostgreSQL (LIVE_RELAY chooses otherwise); on SQLite events stay in their process.
"""

import abc
import contextlib
import json
import logging
import os
import queue
import threading
import uuid
from collections import defaultdict
from typing import cast

from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError

from academy.config import ConfigError
from academy.extensions import db

log = logging.getLogger(__name__)


class Broker:
    """In-process publish/subscribe keyed by session id; each stream owns one queue."""

    def __init__(self):
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[queue.SimpleQueue]] = defaultdict(set)
        # Takes a committed event to the session's hub, which folds it once and hands it out in order (set by hub.py;
        # a broker on its own hands events out as they come).
        self.prepare = self.deliver
        # Reads from the log what this process's streams have not had, and hands it to them (set by hub.py).
        self.refresh = lambda session_ids: 0
        self.context = contextlib.nullcontext  # what refresh runs in: the application context (set by init_app)
        self.relay: Relay | None = None  # carries events between processes
        # Told of every committed event this process hears of, whether or not a stream here watches its session, and
        # of None when the relay may have missed some: the ticker (tabletop/ticker.py) wakes on what moves its clock.
        self.observers: list = []

    def use_redis(self, url: str | None, channel: str) -> None:
        """Relay events through Redis (url), or keep them in this process (None)."""
        self._use(
            ("redis", url, channel) if url else None,
            lambda: RedisRelay(cast(str, url), channel, self.publish_locally, self.catch_up),
        )  # url is set here

    def use_postgres(self, engine, channel: str) -> None:
        """Relay events through LISTEN/NOTIFY on the PostgreSQL database of this SQLAlchemy engine."""
        self._use(
            ("postgres", engine, channel), lambda: PostgresRelay(engine, channel, self.publish_locally, self.catch_up)
        )

    def stop_relay(self) -> None:
        """Keep events in this process."""
        self._use(None, lambda: None)

    def _use(self, key, make) -> None:
        if self.relay is not None and self.relay.key == key:
            return
        if self.relay is not None:
            self.relay.close()
        self.relay = make() if key is not None else None

    def listen(self) -> None:
        """Hear the other processes' events from now on, even with no stream open here."""
        relay = self.relay
        if relay is not None:
            relay.ensure_listening()

    def subscribe(self, session_id: int) -> queue.SimpleQueue:
        relay = self.relay
        if relay is not None:
            relay.ensure_listening()
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            self._subscribers[session_id].add(inbox)
        return inbox

    def unsubscribe(self, session_id: int, inbox: queue.SimpleQueue) -> None:
        with self._lock:
            self._subscribers[session_id].discard(inbox)
            if not self._subscribers[session_id]:
                del self._subscribers[session_id]

    def publish(self, session_id: int, event: dict) -> int:
        """Send a committed event to the other processes (by the relay) and to this one's streams; returns how many."""
        relay = self.relay
        if relay is not None:
            relay.send(session_id, event)
        return self.publish_locally(session_id, event)

    def publish_locally(self, session_id: int, event: dict) -> int:
        """Hand a committed event to the session's hub in this process, if anyone here watches it."""
        self._tell_observers(event)
        with self._lock:
            if not self._subscribers.get(session_id):
                return 0
        return self.prepare(session_id, event)

    def deliver(self, session_id: int, item) -> int:
        """Hand an item the hub prepared (in order) to every stream of the session; returns how many streams."""
        with self._lock:
            inboxes = list(self._subscribers.get(session_id, ()))
        for inbox in inboxes:
            inbox.put(item)
        return len(inboxes)

    def catch_up(self, session_ids: set[int] | None = None):
        """Hand the streams of these sessions (None: all) what the log holds that the relay did not bring."""
        self._tell_observers(None)
        with self.context():
            return self.refresh(session_ids)

    def _tell_observers(self, event: dict | None) -> None:
        for observer in list(self.observers):
            try:
                observer(event)
            except Exception:  # an observer must never cost a stream its event
                log.exception("a live-event observer failed")

    def forget_subscribers(self) -> None:
        """Drop every subscription of this process (its streams are gone: a test's application was torn down)."""
        with self._lock:
            self._subscribers.clear()

    def subscriber_count(self, session_id: int) -> int:
        with self._lock:
            return len(self._subscribers.get(session_id, ()))


class Relay(abc.ABC):
    """One channel for all sessions, and one listener per process that feeds the local streams.

    A process delivers its own events at commit, without the round trip, and skips them when they come back.
    Each time the listener (re)starts listening it has the streams read the log, so nothing committed while it
    was away is missed; streams also read the log at their keepalive.
    """

    RETRY_SECONDS = (0.5, 1, 2, 5)
    name = "relay"

    def __init__(self, key: tuple, channel: str, deliver, catch_up):
        self.key, self.channel = key, channel
        self._deliver, self._catch_up = deliver, catch_up
        self._lock = threading.Lock()
        self._token = uuid.uuid4().hex
        self._listener: threading.Thread | None = None
        self._listener_pid = 0
        self._ready = threading.Event()
        self._stop = threading.Event()

    def _origin_id(self) -> str:
        # The pid tells apart the workers a gunicorn --preload master forks with one relay.
        return f"{self._token}:{os.getpid()}"

    def _message(self, session_id: int, event: dict | None) -> str:
        message = {"origin": self._origin_id(), "session_id": session_id}
        if event is not None:
            message["event"] = event
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False)

    @abc.abstractmethod
    def send(self, session_id: int, event: dict) -> None:
        """Carry a committed event to the other processes."""

    @abc.abstractmethod
    def _listen(self, ready: threading.Event, stop: threading.Event) -> None:
        """Hand what other processes send to this one's streams until `stop` is set."""

    def ensure_listening(self, wait: float = 2.0) -> None:
        """Start this process's listener once (again after a fork); the first time, wait for it to listen."""
        with self._lock:
            alive = self._listener is not None and self._listener.is_alive()
            if alive and self._listener_pid == os.getpid():
                return
            self._ready, self._stop = threading.Event(), threading.Event()
            self._listener = threading.Thread(
                target=self._listen, args=(self._ready, self._stop), name=f"tabletop-{self.name}", daemon=True
            )
            self._listener_pid = os.getpid()
            self._listener.start()
            ready = self._ready
        # An event another process commits before the subscription holds would wait for the keepalive.
        ready.wait(wait)

    def close(self) -> None:
        with self._lock:
            self._stop.set()
            listener, self._listener = self._listener, None
        if listener is not None and listener.is_alive() and self._listener_pid == os.getpid():
            listener.join(timeout=3)

    def _listening(self, ready: threading.Event) -> None:
        """The listener holds the channel (again): what was committed while it did not is in the log."""
        ready.set()
        try:
            self._catch_up(None)
        except Exception:  # the log is read again at the next keepalive; the listener must keep listening
            log.exception("the %s listener could not read the log after (re)connecting", self.name)

    def _retry(self, attempt: int, error: Exception, stop: threading.Event) -> None:
        delay = self.RETRY_SECONDS[min(attempt, len(self.RETRY_SECONDS) - 1)]
        log.warning("the %s listener lost %s (%s); retrying in %ss", self.name, self.channel, error, delay)
        stop.wait(delay)

    def _receive(self, data: str | bytes) -> None:
        try:
            message = json.loads(data)
            if message.get("origin") == self._origin_id():
                return  # delivered here at commit
            session_id = int(message["session_id"])
            if "event" in message:
                self._deliver(session_id, message["event"])
            else:  # too big to carry: the session's streams read it from the log
                self._catch_up({session_id})
        except Exception:  # one bad message must not stop the fan-out of the others
            log.exception("the %s listener could not deliver a message on %s", self.name, self.channel)


class RedisRelay(Relay):
    """Redis pub/sub: one channel, which several academies sharing a Redis keep apart by name."""

    name = "redis"

    def __init__(self, url: str, channel: str, deliver, catch_up):
        import redis

        super().__init__(("redis", url, channel), channel, deliver, catch_up)
        self.url = url
        self._errors = redis.RedisError
        self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2, health_check_interval=30)

    def send(self, session_id: int, event: dict) -> None:
        try:
            self._client.publish(self.channel, self._message(session_id, event))
        except self._errors as error:
            log.warning(
                "Redis did not take event %s of session %s (%s); other processes read it from the log",
                event.get("id"),
                session_id,
                error,
            )

    def close(self) -> None:
        super().close()
        self._client.close()

    def _listen(self, ready: threading.Event, stop: threading.Event) -> None:
        attempt = 0
        while not stop.is_set():
            pubsub = self._client.pubsub()
            try:
                pubsub.subscribe(self.channel)
                while not stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        attempt = 0
                        self._listening(ready)
                    elif message["type"] == "message":
                        self._receive(message["data"])
            except self._errors as error:
                self._retry(attempt, error, stop)
                attempt += 1
            finally:
                pubsub.close()


class PostgresRelay(Relay):
    """PostgreSQL LISTEN/NOTIFY on the academy's own database: no other server to run.

    A process notifies after commit on a connection of its pool, and listens on one connection of its own.
    A notification holds less than 8000 bytes: a bigger event travels as its session id, and is read from the log.
    """

    name = "postgres"
    NOTIFY_LIMIT = 8000  # bytes; PostgreSQL refuses a payload this long
    POLL_SECONDS = 0.5  # how soon the listener notices close()
    APPLICATION_NAME = "academy-live"  # how the listeners show in pg_stat_activity
    # A listener on a connection that died without a word (a dropped network) notices within a minute.
    CONNECT_OPTIONS = {
        "connect_timeout": 5,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }

    def __init__(self, engine, channel: str, deliver, catch_up):
        super().__init__(("postgres", engine, channel), channel, deliver, catch_up)
        self._engine = engine
        self.backend_pid: int | None = None  # of the listening connection, once it listens
        args, options = engine.dialect.create_connect_args(engine.url)
        self._connect_args = (
            args,
            {**self.CONNECT_OPTIONS, **options, "autocommit": True, "application_name": self.APPLICATION_NAME},
        )

    def send(self, session_id: int, event: dict) -> None:
        message = self._message(session_id, event)
        if len(message.encode()) >= self.NOTIFY_LIMIT:
            message = self._message(session_id, None)
        try:
            with self._engine.connect() as connection:
                connection.execute(
                    text("SELECT pg_notify(:channel, :message)"), {"channel": self.channel, "message": message}
                )
                connection.commit()
        except SQLAlchemyError as error:
            log.warning(
                "PostgreSQL did not notify event %s of session %s (%s); other processes read it from the log",
                event.get("id"),
                session_id,
                error,
            )

    def _listen(self, ready: threading.Event, stop: threading.Event) -> None:
        # psycopg waits through gevent's select when gunicorn's gevent worker has patched it: this cooperates.
        import psycopg
        from psycopg import sql

        args, options = self._connect_args
        attempt = 0
        while not stop.is_set():
            try:
                with psycopg.connect(*args, **options) as connection:
                    connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self.backend_pid = connection.info.backend_pid
                    attempt = 0
                    self._listening(ready)
                    while not stop.is_set():
                        for notification in connection.notifies(timeout=self.POLL_SECONDS):
                            self._receive(notification.payload)
            except (psycopg.Error, OSError) as error:
                self._retry(attempt, error, stop)
                attempt += 1


broker = Broker()

RELAYS = ("auto", "redis", "postgres", "none")


def relay_kind(config) -> str:
    """LIVE_RELAY made definite: auto is Redis with a REDIS_URL, else LISTEN/NOTIFY on PostgreSQL, else none."""
    choice = config.get("LIVE_RELAY", "auto")
    if choice not in RELAYS:
        raise ConfigError(f"LIVE_RELAY must be one of {', '.join(RELAYS)}, not {choice!r}.")
    on_postgres = make_url(config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "postgresql"
    if choice == "auto":
        return "redis" if config.get("REDIS_URL") else "postgres" if on_postgres else "none"
    if choice == "redis" and not config.get("REDIS_URL"):
        raise ConfigError("LIVE_RELAY=redis needs REDIS_URL.")
    if choice == "postgres" and not on_postgres:
        raise ConfigError("LIVE_RELAY=postgres needs a PostgreSQL DATABASE_URL.")
    return choice


def init_app(app) -> None:
    """Relay live-session events between processes as LIVE_RELAY says (by default: Redis, else PostgreSQL)."""
    kind = relay_kind(app.config)
    broker.context = app.app_context
    if kind == "redis":
        broker.use_redis(app.config["REDIS_URL"], app.config["TABLETOP_REDIS_CHANNEL"])
    elif kind == "postgres":
        with app.app_context():
            engine = db.engine
        broker.use_postgres(engine, app.config["TABLETOP_PG_CHANNEL"])
    else:
        broker.stop_relay()
