"""Fan-out of committed session events to the live streams of this process, and (with Redis) of every other one."""
import json
import logging
import os
import queue
import threading
import uuid
from collections import defaultdict

log = logging.getLogger(__name__)


class Broker:
    """In-process publish/subscribe keyed by session id; each stream owns one queue."""

    def __init__(self):
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[queue.SimpleQueue]] = defaultdict(set)
        # Turns a committed event into what streams send, once for all of them (set by the stream module).
        self.prepare = lambda session_id, event: event
        self.relay: "RedisRelay | None" = None  # carries events between processes when REDIS_URL is set

    def use_redis(self, url: str | None, channel: str) -> None:
        """Relay events through Redis (url), or keep them in this process (None)."""
        if self.relay is not None and (self.relay.url, self.relay.channel) == (url, channel):
            return
        if self.relay is not None:
            self.relay.close()
        self.relay = RedisRelay(url, channel, self.publish_locally) if url else None

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
        """Send a committed event to the other processes (with Redis) and to this one's streams; returns how many."""
        relay = self.relay
        if relay is not None:
            relay.send(session_id, event)
        return self.publish_locally(session_id, event)

    def publish_locally(self, session_id: int, event: dict) -> int:
        """Prepare an event once and hand it to every stream of the session in this process; returns how many."""
        with self._lock:
            if not self._subscribers.get(session_id):
                return 0
        item = self.prepare(session_id, event)
        return self.deliver(session_id, item) if item is not None else 0

    def deliver(self, session_id: int, item) -> int:
        """Hand an already prepared item to every stream of the session."""
        with self._lock:
            inboxes = list(self._subscribers.get(session_id, ()))
        for inbox in inboxes:
            inbox.put(item)
        return len(inboxes)

    def subscriber_count(self, session_id: int) -> int:
        with self._lock:
            return len(self._subscribers.get(session_id, ()))


class RedisRelay:
    """One Redis pub/sub channel for all sessions, and one listener thread per process that feeds the local streams.

    A process delivers its own events at commit, without the round trip, and skips them when they come back.
    Whatever the relay misses (Redis restarting, a process starting to listen) streams still read from the
    log at their next keepalive.
    """

    RETRY_SECONDS = (0.5, 1, 2, 5)

    def __init__(self, url: str, channel: str, deliver):
        import redis

        self.url, self.channel, self._deliver = url, channel, deliver
        self._errors = redis.RedisError
        self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2,
                                            health_check_interval=30)
        self._lock = threading.Lock()
        self._token = uuid.uuid4().hex
        self._listener: threading.Thread | None = None
        self._listener_pid = 0
        self._ready = threading.Event()
        self._stop = threading.Event()

    def _origin_id(self) -> str:
        # The pid tells apart the workers a gunicorn --preload master forks with one relay.
        return f"{self._token}:{os.getpid()}"

    def send(self, session_id: int, event: dict) -> None:
        message = json.dumps({"origin": self._origin_id(), "session_id": session_id, "event": event},
                             separators=(",", ":"))
        try:
            self._client.publish(self.channel, message)
        except self._errors as error:
            log.warning("Redis did not take event %s of session %s (%s); other processes read it from the log",
                        event.get("id"), session_id, error)

    def ensure_listening(self, wait: float = 2.0) -> None:
        """Start this process's listener once (again after a fork); the first time, wait for Redis to confirm it."""
        with self._lock:
            alive = self._listener is not None and self._listener.is_alive()
            if alive and self._listener_pid == os.getpid():
                return
            self._ready, self._stop = threading.Event(), threading.Event()
            self._listener = threading.Thread(target=self._listen, args=(self._ready, self._stop),
                                              name="tabletop-redis", daemon=True)
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
                        ready.set()
                        attempt = 0
                    elif message["type"] == "message":
                        self._receive(message["data"])
            except self._errors as error:
                delay = self.RETRY_SECONDS[min(attempt, len(self.RETRY_SECONDS) - 1)]
                attempt += 1
                log.warning("the Redis listener lost %s (%s); retrying in %ss", self.channel, error, delay)
                stop.wait(delay)
            finally:
                pubsub.close()

    def _receive(self, data: bytes) -> None:
        try:
            message = json.loads(data)
            if message.get("origin") == self._origin_id():
                return  # delivered here at commit
            self._deliver(int(message["session_id"]), message["event"])
        except Exception:  # one bad message must not stop the fan-out of the others
            log.exception("the Redis listener could not deliver a message on %s", self.channel)


broker = Broker()


def init_app(app) -> None:
    """Relay live-session events through Redis when the application has a REDIS_URL."""
    broker.use_redis(app.config.get("REDIS_URL"), app.config["TABLETOP_REDIS_CHANNEL"])
