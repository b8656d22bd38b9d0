"""Scenarios as synced from exercises/, each with its immutable versions."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.core.models import TimestampMixin
from academy.extensions import db


class Scenario(TimestampMixin, db.Model):
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
    current_version: Mapped["ScenarioVersion | None"] = relationship(foreign_keys=[current_version_id],
                                                                     post_update=True)
    versions: Mapped[list["ScenarioVersion"]] = relationship(back_populates="scenario",
                                                             foreign_keys="ScenarioVersion.scenario_id",
                                                             order_by="ScenarioVersion.number")

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def __str__(self) -> str:
        return self.title


class ScenarioVersion(TimestampMixin, db.Model):
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
