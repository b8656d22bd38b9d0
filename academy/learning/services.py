"""Courses as a learner meets them: catalogue, enrolment, lesson progress and completion."""

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from flask import abort
from sqlalchemy import BindParameter, bindparam, literal, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from academy.accounts.languages import current_tag
from academy.accounts.models import User
from academy.core import locales
from academy.core.models import utcnow
from academy.extensions import db
from academy.learning.certificates import issue_certificate
from academy.learning.models import Certificate, Course, Enrolment, Lesson, LessonProgress, Module, QuizAttempt, Track
from academy.learning.outlines import WITH_TREE, CourseOutline, course_outline

# How precisely "last activity" follows lesson views: reports show it to the day, "continue" goes to the last lesson.
ACTIVITY_RESOLUTION = timedelta(minutes=5)


def published_courses(track: str | None = None) -> list[Course]:
    """Published, non-archived courses in catalogue order, optionally for one role track."""
    query = db.select(Course).where(Course.published.is_(True), Course.archived_at.is_(None)).options(WITH_TREE)
    courses = list(db.session.scalars(query.order_by(Course.position, Course.title)).unique())
    if track:
        order = _track_order(track)
        courses = [c for c in courses if track in (c.tracks or [])]
        courses.sort(key=lambda c: order.get(c.slug, len(order)))
    return courses


def _track_order(code: str) -> dict[str, int]:
    track = db.session.scalar(db.select(Track).where(Track.code == code, Track.archived_at.is_(None)))
    return {slug: n for n, slug in enumerate(track.course_slugs)} if track else {}


def tracks() -> list[Track]:
    return list(db.session.scalars(db.select(Track).where(Track.archived_at.is_(None)).order_by(Track.position)))


def load_course(slug: str) -> Course:
    """A published course, or 404: unpublished and archived courses are not there for learners."""
    course = db.session.scalars(db.select(Course).where(Course.slug == slug).options(WITH_TREE)).unique().one_or_none()
    if course is None or not course.published or course.is_archived:
        abort(404)
    return course


def localised(item: Course | Module | CourseOutline, field: str = "title", tag: str | None = None) -> str:
    """A course's or module's title or summary in the request's language (or `tag`) where it has a current
    translation, else as written."""
    english = getattr(item, field)
    tag = tag or current_tag()
    if tag == locales.DEFAULT:
        return english
    if isinstance(item, Course | CourseOutline):
        outline = course_outline(item.slug, tag)
        return getattr(outline, field) if outline is not None else english
    outline = course_outline(item.course.slug, tag) if isinstance(item, Module) else None
    found = next((m for m in outline.modules if m.slug == item.slug), None) if outline is not None else None
    return getattr(found, field) if found is not None else english


def load_course_outline(slug: str, tag: str | None = None) -> CourseOutline:
    """A published course as its pages show it, in the request's language (or `tag`) where it is translated, kept by
    the process until the content changes (outlines.py), or 404."""
    outline = course_outline(slug, tag or current_tag())
    if outline is None:
        abort(404)
    return outline


def live_modules(course: Course) -> list[Module]:
    return [m for m in course.modules if not m.is_archived]


def live_lessons(module: Module) -> list[Lesson]:
    return [lesson for lesson in module.lessons if not lesson.is_archived]


def course_lessons(course: Course) -> list[Lesson]:
    return [lesson for module in live_modules(course) for lesson in live_lessons(module)]


def load_lesson(course: Course, slug: str) -> Lesson:
    """A live lesson of this course, or 404."""
    lesson = next((lesson for lesson in course_lessons(course) if lesson.slug == slug), None)
    if lesson is None:
        abort(404)
    return lesson


def load_module(course: Course, slug: str) -> Module:
    module = next((m for m in live_modules(course) if m.slug == slug), None)
    if module is None:
        abort(404)
    return module


def enrolment_for(user, course: Course) -> Enrolment | None:
    return db.session.scalar(_statements().enrolment, {"user_id": user.id, "course_id": course.id})


def enrol(user, course: Course) -> Enrolment:
    """Enrol once: a second click, or a race between two, finds the first enrolment."""
    existing = enrolment_for(user, course)
    if existing:
        return existing
    try:
        with db.session.begin_nested():
            enrolment = Enrolment(user_id=user.id, course_id=course.id)
            db.session.add(enrolment)
    except IntegrityError:
        raced = enrolment_for(user, course)
        assert raced is not None  # the clash means a parallel request has just enrolled them
        return raced
    return enrolment


def enrolment_and_progress(user, course: Course, lesson: Lesson) -> tuple[Enrolment | None, LessonProgress | None]:
    """The learner's enrolment in the course and their progress row of one of its lessons, in one query."""
    row = db.session.execute(
        _statements().enrolment_and_progress, {"user_id": user.id, "course_id": course.id, "lesson_id": lesson.id}
    ).first()
    return (row[0], row[1]) if row else (None, None)


@dataclass(frozen=True)
class Place:
    """Where a learner stands in a course, as its pages read it on every view: plain values, in one plain query."""

    enrolment_id: int
    last_lesson_id: int | None
    last_activity_at: datetime
    lesson_opened: bool  # of the lesson asked about: whether it has its progress row
    lesson_done: bool
    certificate_code: str | None


def place_in_course(user, course: Course, lesson: Lesson | None = None) -> Place | None:
    """The learner's place in a course (and in one of its lessons); None when they are not enrolled."""
    row = db.session.execute(
        _statements().place, {"user_id": user.id, "course_id": course.id, "lesson_id": lesson.id if lesson else None}
    ).first()
    return None if row is None else Place(row[0], row[1], row[2], bool(row[3]), bool(row[4]), row[5])


def view_changes_place(place: Place, lesson: Lesson, now: datetime | None = None) -> bool:
    """Whether a view of the lesson has anything for record_view to write."""
    return not place.lesson_opened or _moves_on(place.last_lesson_id, place.last_activity_at, lesson, now)


def _moves_on(last_lesson_id: int | None, last_activity_at: datetime, lesson: Lesson, now: datetime | None) -> bool:
    return last_lesson_id != lesson.id or (now or utcnow()) - last_activity_at >= ACTIVITY_RESOLUTION


def lesson_progress(user, lesson: Lesson) -> LessonProgress | None:
    return db.session.scalar(
        db.select(LessonProgress).where(LessonProgress.user_id == user.id, LessonProgress.lesson_id == lesson.id)
    )


def record_view(
    user, enrolment: Enrolment, lesson: Lesson, progress: LessonProgress | None = None, now: datetime | None = None
) -> LessonProgress:
    """Remember where the learner is; the first view creates the progress row (`progress`: the row, if read).

    Reading the same lesson again within ACTIVITY_RESOLUTION writes nothing: a page view must not take the
    database's write lock each time someone scrolls back or reloads.
    """
    now = now or utcnow()
    if _moves_on(enrolment.last_lesson_id, enrolment.last_activity_at, lesson, now):
        enrolment.last_lesson_id = lesson.id
        enrolment.last_activity_at = now
    progress = progress or lesson_progress(user, lesson)
    if progress is None:
        try:
            with db.session.begin_nested():
                progress = LessonProgress(user_id=user.id, lesson_id=lesson.id)
                db.session.add(progress)
        except IntegrityError:
            raced = lesson_progress(user, lesson)
            assert raced is not None  # the clash means a parallel request has just made their row
            progress = raced
    return progress


def mark_done(user, enrolment: Enrolment, lesson: Lesson) -> Certificate | None:
    """Mark a lesson as done (idempotent); returns the certificate if that completed the course."""
    progress = record_view(user, enrolment, lesson)
    if progress.done_at is None:
        progress.done_at = utcnow()
    return complete_if_done(user, enrolment)


@dataclass
class CourseProgress:
    lessons_total: int
    lessons_done: int
    quizzes_total: int
    quizzes_passed: int
    done_lesson_ids: set
    passed_module_ids: set

    @property
    def steps_total(self) -> int:
        return self.lessons_total + self.quizzes_total

    @property
    def steps_done(self) -> int:
        return self.lessons_done + self.quizzes_passed

    @property
    def percent(self) -> int:
        return round(100 * self.steps_done / self.steps_total) if self.steps_total else 0

    @property
    def complete(self) -> bool:
        return self.steps_total > 0 and self.steps_done == self.steps_total


def progress_for(user, course: Course) -> CourseProgress:
    """Where a learner stands in one course, counting only live lessons and quizzes."""
    lessons = course_lessons(course)
    modules = live_modules(course)
    done: set[int] = set()
    passed: set[int] = set()
    if lessons or modules:
        rows = db.session.execute(
            _statements().progress,
            {"user_id": user.id, "lesson_ids": [x.id for x in lessons], "module_ids": [m.id for m in modules]},
        )
        for kind, item_id in rows:
            (done if kind == "lesson" else passed).add(item_id)
    return CourseProgress(len(lessons), len(done), len(modules), len(passed), done, passed)


@functools.cache
def _statements() -> SimpleNamespace:
    """The statements the course and lesson pages run on every view, built once: SQLAlchemy then finds their compiled
    SQL without building and hashing a new statement each time. Enrolments come without their course (the page has
    it)."""
    user: BindParameter[int] = bindparam("user_id")
    course: BindParameter[int] = bindparam("course_id")
    # Progress rows may join the enrolment without the course: it is in the session already.
    progress = (LessonProgress.user_id == Enrolment.user_id) & (LessonProgress.lesson_id == bindparam("lesson_id"))
    # Columns of the tables, not of the models: plain SELECTs skip the ORM's compilation.
    read, attempt = LessonProgress.__table__.c, QuizAttempt.__table__.c
    done = db.select(literal("lesson"), read.lesson_id).where(
        read.user_id == user, read.lesson_id.in_(bindparam("lesson_ids", expanding=True)), read.done_at.is_not(None)
    )
    passed = db.select(literal("quiz"), attempt.module_id).where(
        attempt.user_id == user,
        attempt.module_id.in_(bindparam("module_ids", expanding=True)),
        attempt.passed.is_(True),
    )
    return SimpleNamespace(
        enrolment=db.select(Enrolment)
        .where(Enrolment.user_id == user, Enrolment.course_id == course)
        .options(lazyload(Enrolment.course)),
        enrolment_and_progress=db.select(Enrolment, LessonProgress)
        .outerjoin(LessonProgress, progress)
        .where(Enrolment.user_id == user, Enrolment.course_id == course)
        .options(lazyload(Enrolment.course)),
        progress=union_all(done, passed),
        place=_place_statement(user, course),
    )


def _place_statement(user, course):
    enrolments, reads, certificates = Enrolment.__table__, LessonProgress.__table__, Certificate.__table__
    read = (reads.c.user_id == enrolments.c.user_id) & (reads.c.lesson_id == bindparam("lesson_id"))
    issued = (certificates.c.user_id == enrolments.c.user_id) & (certificates.c.course_id == enrolments.c.course_id)
    return (
        db.select(
            enrolments.c.id,
            enrolments.c.last_lesson_id,
            enrolments.c.last_activity_at,
            reads.c.id.is_not(None),
            reads.c.done_at.is_not(None),
            certificates.c.code,
        )
        .select_from(enrolments.outerjoin(reads, read).outerjoin(certificates, issued))
        .where(enrolments.c.user_id == user, enrolments.c.course_id == course)
    )


def next_step(course: Course, progress: CourseProgress, enrolment: Enrolment | None):
    """Continue where the learner left off: the first unfinished lesson or quiz, in order."""
    for module in live_modules(course):
        for lesson in live_lessons(module):
            if lesson.id not in progress.done_lesson_ids:
                return "lesson", module, lesson
        if module.id not in progress.passed_module_ids:
            return "quiz", module, None
    return None


def complete_if_done(user, enrolment: Enrolment) -> Certificate | None:
    """Set the completion date and issue the certificate once every step is done."""
    if enrolment.completed_at is not None:
        return None
    if not progress_for(user, enrolment.course).complete:
        return None
    enrolment.completed_at = utcnow()
    return issue_certificate(user, enrolment.course)


def latest_activity(*, user_ids: list[int] | None = None, institution_id: int | None = None) -> dict[int, datetime]:
    """Each person's latest lesson view, lesson done or quiz submission, in one query: of the given people, or of
    an institution's members."""
    where = []
    if user_ids is not None:
        if not user_ids:
            return {}
        where.append(lambda column: column.in_(user_ids))
    moments = db.union_all(
        db.select(LessonProgress.user_id.label("user_id"), LessonProgress.viewed_at.label("at")).where(
            *[rule(LessonProgress.user_id) for rule in where]
        ),
        db.select(LessonProgress.user_id, LessonProgress.done_at).where(
            LessonProgress.done_at.is_not(None), *[rule(LessonProgress.user_id) for rule in where]
        ),
        db.select(QuizAttempt.user_id, QuizAttempt.submitted_at).where(
            QuizAttempt.submitted_at.is_not(None), *[rule(QuizAttempt.user_id) for rule in where]
        ),
    ).subquery()
    query = db.select(moments.c.user_id, db.func.max(moments.c.at)).group_by(moments.c.user_id)
    if institution_id is not None:
        query = query.join(User, User.id == moments.c.user_id).where(User.institution_id == institution_id)
    return dict(db.session.execute(query).all())
