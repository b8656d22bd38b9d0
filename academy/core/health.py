"""Whether the database can take a write: a real one, committed, at most once every PROBE_SECONDS per process."""

import logging
import threading
import time
from collections.abc import Callable

from flask import current_app
from sqlalchemy import insert, update
from sqlalchemy.exc import SQLAlchemyError

from academy.core.models import HealthProbe, utcnow
from academy.extensions import db

log = logging.getLogger(__name__)

# A load balancer polls every few seconds from each of its nodes: they share one answer per process.
PROBE_SECONDS = 5.0


class WriteProbe:
    """The last answer of the write probe, reused for `interval` seconds of `clock` (tests pass a frozen one)."""

    def __init__(self, interval: float = PROBE_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.interval, self.clock = interval, clock
        self.checked_at: float | None = None
        self.ok = False
        self.lock = threading.Lock()  # one probe at a time; the others wait for its answer

    def writable(self) -> bool:
        with self.lock:
            now = self.clock()
            if self.checked_at is None or now - self.checked_at >= self.interval:
                self.ok, self.checked_at = try_write(), now
            return self.ok


def try_write() -> bool:
    """Rewrite the probe row and commit, on a connection of its own; False if the database refuses.

    Only a commit of a changed row reaches the disk: a write rolled back, or one that changes nothing, succeeds on a
    full disk (SQLite in WAL mode keeps it in memory), so neither would notice one. A read-only database (file
    permissions, a PostgreSQL standby or default_transaction_read_only) refuses the UPDATE itself."""
    try:
        with db.engine.begin() as connection:
            now = utcnow()
            if not connection.execute(update(HealthProbe).where(HealthProbe.id == 1).values(checked_at=now)).rowcount:
                connection.execute(insert(HealthProbe).values(id=1, checked_at=now))  # a database made by create_all
    except SQLAlchemyError as error:
        log.error("Health check: the database refused a write: %s", error)
        return False
    return True


def database_writable() -> bool:
    """This process's cached answer to "can the database take a write?"."""
    return current_app.extensions.setdefault("health_write_probe", WriteProbe()).writable()
