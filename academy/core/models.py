"""Base model mixins, the audit log and the translations of content."""

from datetime import UTC, date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from academy.extensions import Model


def utcnow() -> datetime:
    """Naive UTC now: stored the same way on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Model):
    """One line of the audit trail: who did what to what, when and from where."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    actor_email: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(255))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id", ondelete="SET NULL"), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class HealthProbe(Model):
    """The one row /healthz rewrites (academy/core/health.py): a committed change is the only write that a full disk
    refuses, so this is how the health check learns that the database can no longer take one."""

    __tablename__ = "health_probe"

    id: Mapped[int] = mapped_column(primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContentTranslation(Model):
    """A unit of content (course, module, lesson, question, or a scenario's text) in one language, as synced from the
    translation files next to its source (academy/core/content/translations.py). Only units whose every segment has a
    current translation are kept: any other is read in English."""

    __tablename__ = "content_translation"
    __table_args__ = (UniqueConstraint("kind", "key", "locale", name="uq_content_translation_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # course, module, lesson, question, scenario, coverage-*
    key: Mapped[str] = mapped_column(String(200))  # the unit's slug (a question: "<module>/<slug>")
    locale: Mapped[str] = mapped_column(String(16))  # a tag of core.locales
    fields: Mapped[dict] = mapped_column(JSON, default=dict)  # what the unit shows, translated
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | reviewed
    reviewed_by: Mapped[str | None] = mapped_column(String(120))
    reviewed_on: Mapped[date | None] = mapped_column(Date)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_draft(self) -> bool:
        return self.status != "reviewed"
