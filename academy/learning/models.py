"""Courses, modules, lessons, quiz questions and tracks, as synced from courses/."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.core.models import TimestampMixin, utcnow
from academy.extensions import Model


class ContentItemMixin(TimestampMixin):
    """What every synced item carries: its order, its hash and whether it was removed."""

    position: Mapped[int] = mapped_column(default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    archived_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Course(ContentItemMixin, Model):
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


# When a quiz's feedback shows the keyed answers (courses/README.md); the first is the default. Answers revealed
# to a learner who may try again make the next attempt a copy, so the default waits for a pass or the last attempt.
REVIEW_POLICIES = ("after_pass_or_last_attempt", "after_last_attempt", "always", "never")
DEFAULT_REVIEW = REVIEW_POLICIES[0]


class Module(ContentItemMixin, Model):
    __tablename__ = "module"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    pass_mark: Mapped[int]
    questions_per_attempt: Mapped[int]
    max_attempts: Mapped[int] = mapped_column(default=0)
    review: Mapped[str] = mapped_column(String(32), default=DEFAULT_REVIEW, server_default=DEFAULT_REVIEW)

    course: Mapped[Course] = relationship(back_populates="modules")
    lessons: Mapped[list["Lesson"]] = relationship(back_populates="module", order_by="Lesson.position")
    questions: Mapped[list["Question"]] = relationship(back_populates="module", order_by="Question.position")

    def __str__(self) -> str:
        return self.title


class Lesson(ContentItemMixin, Model):
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


class Question(ContentItemMixin, Model):
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
    hint: Mapped[str | None] = mapped_column(Text)  # for a wrong answer while the keyed answer is withheld
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    module: Mapped[Module] = relationship(back_populates="questions")


class Track(ContentItemMixin, Model):
    """A role's learning path: courses in recommended order."""

    __tablename__ = "track"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    course_slugs: Mapped[list] = mapped_column(JSON, default=list)

    def __str__(self) -> str:
        return self.title


class ContentRelease(Model):
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


class Enrolment(TimestampMixin, Model):
    """A learner taking a course; completed_at is set once, when every lesson and quiz is done."""

    __tablename__ = "enrolment"
    __table_args__ = (UniqueConstraint("user_id", "course_id", name="uq_enrolment_user_id_course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    last_lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lesson.id"))
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    course: Mapped[Course] = relationship(lazy="joined")


class LessonProgress(Model):
    """A learner's reading of one lesson: first opened, and marked as done."""

    __tablename__ = "lesson_progress"
    __table_args__ = (UniqueConstraint("user_id", "lesson_id", name="uq_lesson_progress_user_id_lesson_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id"), index=True)
    viewed_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]


class QuizAttempt(Model):
    """One attempt at a module's quiz: the paper drawn at the start, then the scored answers."""

    __tablename__ = "quiz_attempt"
    __table_args__ = (UniqueConstraint("user_id", "module_id", "number", name="uq_quiz_attempt_user_module_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"), index=True)
    number: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    paper: Mapped[list] = mapped_column(JSON, default=list)
    answers: Mapped[dict | None] = mapped_column(JSON)
    correct: Mapped[int | None]
    total: Mapped[int]
    score: Mapped[int | None]
    passed: Mapped[bool | None]

    module: Mapped[Module] = relationship(lazy="joined")

    @property
    def is_open(self) -> bool:
        return self.submitted_at is None


class Certificate(Model):
    """Proof of a completed course, verifiable by its code without signing in; revocable."""

    __tablename__ = "certificate"
    __table_args__ = (UniqueConstraint("user_id", "course_id", name="uq_certificate_user_id_course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    holder_name: Mapped[str] = mapped_column(String(120))
    course_title: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    course: Mapped[Course] = relationship(lazy="joined")

    @property
    def is_valid(self) -> bool:
        return self.revoked_at is None
