"""Scenarios synced from exercises/ with their immutable versions, and the live sessions that run them."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.core.models import TimestampMixin, utcnow
from academy.extensions import Model


class Scenario(TimestampMixin, Model):
    """A scenario file by slug; what it says lives in its versions, the current one copied here for lists."""

    __tablename__ = "scenario"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    duration_minutes: Mapped[int]
    # use_alter: scenario and scenario_version point at each other, so one key is added after both tables.
    current_version_id: Mapped[int | None] = mapped_column(ForeignKey("scenario_version.id", use_alter=True))
    archived_at: Mapped[datetime | None]

    # post_update: the version needs the scenario's id, then the scenario points at the version.
    current_version: Mapped["ScenarioVersion | None"] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )
    versions: Mapped[list["ScenarioVersion"]] = relationship(
        back_populates="scenario", foreign_keys="ScenarioVersion.scenario_id", order_by="ScenarioVersion.number"
    )

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def __str__(self) -> str:
        return self.title


class ScenarioVersion(TimestampMixin, Model):
    """One content of a scenario file, never changed once written: a live session pins one."""

    __tablename__ = "scenario_version"
    __table_args__ = (
        UniqueConstraint("scenario_id", "number", name="uq_scenario_version_scenario_id_number"),
        UniqueConstraint("scenario_id", "content_hash", name="uq_scenario_version_scenario_id_content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenario.id"))  # indexed by the unique constraints
    number: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict] = mapped_column(JSON)  # the whole checked scenario: Scenario.from_definition()

    scenario: Mapped[Scenario] = relationship(back_populates="versions", foreign_keys=[scenario_id])

    def __str__(self) -> str:
        return f"{self.scenario.slug} v{self.number}"


@event.listens_for(ScenarioVersion, "before_update")
def _versions_are_immutable(mapper, connection, version: ScenarioVersion) -> None:
    raise ValueError(f"scenario version {version.id} is immutable: a changed file makes a new version")


class LiveSession(TimestampMixin, Model):
    """A run of a scenario by a trainer, pinned to one scenario version; its truth is its event log."""

    __tablename__ = "live_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_version_id: Mapped[int] = mapped_column(ForeignKey("scenario_version.id"), index=True)
    trainer_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    join_code: Mapped[str] = mapped_column(String(12), unique=True)
    allow_guests: Mapped[bool] = mapped_column(default=False)
    # Copied from the event log for lists and lookups; the log stays the source of truth.
    status: Mapped[str] = mapped_column(String(16), default="lobby")
    ended_at: Mapped[datetime | None]
    # The number of the session's newest event. Appending takes it up by one in the same transaction, which
    # locks this row until commit: a session's events are numbered 1, 2, 3 … in the order they are committed.
    last_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    # When the ticker next looks at the session: never later than its next scheduled inject. A start, a resume or
    # a decision that unlocks a follow-up sets it to the moment of that event; the ticker sets the exact time.
    next_due_at: Mapped[datetime | None] = mapped_column(index=True)

    scenario_version: Mapped[ScenarioVersion] = relationship(lazy="joined")

    def __str__(self) -> str:
        return self.title


class Participant(TimestampMixin, Model):
    """Someone in a session: a signed-in user, or a guest the trainer allowed in with a name."""

    __tablename__ = "participant"
    __table_args__ = (UniqueConstraint("session_id", "user_id", name="uq_participant_session_id_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_session.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    institution_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str | None] = mapped_column(String(24))
    guest_token: Mapped[str | None] = mapped_column(String(64), unique=True)


class SessionEvent(Model):
    """One entry of a session's append-only log.

    `seq` numbers a session's events without a gap in commit order: it is the event id that streams, pages and
    reports show, and what Last-Event-ID resumes from. The table's own `id` orders nothing across processes.
    """

    __tablename__ = "session_event"
    __table_args__ = (
        UniqueConstraint("session_id", "dedupe_key", name="uq_session_event_session_id_dedupe_key"),
        UniqueConstraint("session_id", "seq", name="uq_session_event_session_id_seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_session.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON)
    audience: Mapped[dict] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    dedupe_key: Mapped[str | None] = mapped_column(String(120))

    def as_engine_event(self):
        from academy.tabletop.engine import Event

        return Event(self.seq, self.kind, self.at, self.payload)

    def as_stream_dict(self) -> dict:
        return {
            "id": self.seq,
            "kind": self.kind,
            "at": self.at.isoformat() + "Z",
            "payload": self.payload,
            "audience": self.audience,
        }


class TickerLease(Model):
    """The one row naming the process that releases scheduled injects, on a database without advisory locks.

    The holder keeps pushing `expires_at` forward; another process takes the row over only once it has expired or
    its holder is gone (tabletop/ticker.py).
    """

    __tablename__ = "ticker_lease"

    id: Mapped[int] = mapped_column(primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime]
