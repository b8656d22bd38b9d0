"""Fan-out of committed session events to the live streams of this process."""
import queue
import threading
from collections import defaultdict


class Broker:
    """In-process publish/subscribe keyed by session id; each stream owns one queue."""

    def __init__(self):
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[queue.SimpleQueue]] = defaultdict(set)
        # Turns a committed event into what streams send, once for all of them (set by the stream module).
        self.prepare = lambda session_id, event: event

    def subscribe(self, session_id: int) -> queue.SimpleQueue:
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
        """Prepare a committed event once and hand it to every stream of the session; returns how many."""
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


broker = Broker()
