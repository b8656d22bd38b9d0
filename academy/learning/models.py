"""Courses, modules, lessons, quiz questions and tracks, as synced from courses/."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.core.models import TimestampMixin, utcnow
from academy.extensions import db


class ContentItemMixin(TimestampMixin):
    """What every synced item carries: its order, its hash and whether it was removed."""

    position: Mapped[int] = mapped_column(default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    archived_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Course(ContentItemMixin, db.Model):
    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    tracks: Mapped[list] = mapped_column(JSON, default=list)
    published: Mapped[bool] = mapped_column(default=False)

    modules: Mapped[list["Module"]] = relationship(back_populates="course", order_by="Module.position")

    def __str__(self) -> str:
        return self.title


class Module(ContentItemMixin, db.Model):
    __tablename__ = "module"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    pass_mark: Mapped[int]
    questions_per_attempt: Mapped[int]
    max_attempts: Mapped[int] = mapped_column(default=0)

    course: Mapped[Course] = relationship(back_populates="modules")
    lessons: Mapped[list["Lesson"]] = relationship(back_populates="module", order_by="Lesson.position")
    questions: Mapped[list["Question"]] = relationship(back_populates="module", order_by="Question.position")

    def __str__(self) -> str:
        return self.title


class Lesson(ContentItemMixin, db.Model):
    __tablename__ = "lesson"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    sections: Mapped[list] = mapped_column(JSON, default=list)
    minutes: Mapped[int]
    body_markdown: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)

    module: Mapped[Module] = relationship(back_populates="lessons")

    def __str__(self) -> str:
        return self.title


class Question(ContentItemMixin, db.Model):
    """One question of a module's bank; `data` holds the type's payload with stable ids."""

    __tablename__ = "question"
    __table_args__ = (UniqueConstraint("module_id", "slug", name="uq_question_module_id_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"))  # indexed by the unique constraint
    slug: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(Text)
    sections: Mapped[list] = mapped_column(JSON, default=list)
    explanation: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    module: Mapped[Module] = relationship(back_populates="questions")


class Track(ContentItemMixin, db.Model):
    """A role's learning path: courses in recommended order."""

    __tablename__ = "track"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    course_slugs: Mapped[list] = mapped_column(JSON, default=list)

    def __str__(self) -> str:
        return self.title


class ContentRelease(db.Model):
    """One run of `content sync`: when, which tree, and what it changed."""

    __tablename__ = "content_release"

    id: Mapped[int] = mapped_column(primary_key=True)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)
    tree_hash: Mapped[str] = mapped_column(String(64))
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    archived: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
