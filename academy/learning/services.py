"""Courses as a learner meets them: catalogue, enrolment, lesson progress and completion."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import abort
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, lazyload

from academy.core.models import utcnow
from academy.extensions import db
from academy.learning.certificates import issue_certificate
from academy.learning.models import (Certificate, Course, Enrolment, Lesson, LessonProgress, Module, QuizAttempt,
                                     Track)


# A course's pages walk all its modules and lessons (order, progress, previous / next): load the tree with the
# course in one query, not one query per module. Pages show lessons' HTML, never their Markdown source.
WITH_TREE = joinedload(Course.modules).joinedload(Module.lessons).defer(Lesson.body_markdown)
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
    return db.session.scalar(db.select(Enrolment).where(Enrolment.user_id == user.id, Enrolment.course_id == course.id))


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
        return enrolment_for(user, course)
    return enrolment


def enrolment_and_progress(user, course: Course, lesson: Lesson) -> tuple[Enrolment | None, LessonProgress | None]:
    """The learner's enrolment in the course and their progress row of one of its lessons, in one query."""
    progress = (LessonProgress.user_id == Enrolment.user_id) & (LessonProgress.lesson_id == lesson.id)
    # The course is in the session already: no need to join it again for the enrolment.
    row = db.session.execute(db.select(Enrolment, LessonProgress).outerjoin(LessonProgress, progress)
                             .where(Enrolment.user_id == user.id, Enrolment.course_id == course.id)
                             .options(lazyload(Enrolment.course))).first()
    return (row[0], row[1]) if row else (None, None)


def lesson_progress(user, lesson: Lesson) -> LessonProgress | None:
    return db.session.scalar(db.select(LessonProgress).where(
        LessonProgress.user_id == user.id, LessonProgress.lesson_id == lesson.id))


def record_view(user, enrolment: Enrolment, lesson: Lesson, progress: LessonProgress | None = None,
                now: datetime | None = None) -> LessonProgress:
    """Remember where the learner is; the first view creates the progress row (`progress`: the row, if read).

    Reading the same lesson again within ACTIVITY_RESOLUTION writes nothing: a page view must not take the
    database's write lock each time someone scrolls back or reloads.
    """
    now = now or utcnow()
    if enrolment.last_lesson_id != lesson.id or now - enrolment.last_activity_at >= ACTIVITY_RESOLUTION:
        enrolment.last_lesson_id = lesson.id
        enrolment.last_activity_at = now
    progress = progress or lesson_progress(user, lesson)
    if progress is None:
        try:
            with db.session.begin_nested():
                progress = LessonProgress(user_id=user.id, lesson_id=lesson.id)
                db.session.add(progress)
        except IntegrityError:
            progress = lesson_progress(user, lesson)
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
    lesson_ids = [lesson.id for lesson in lessons]
    done = set(db.session.scalars(db.select(LessonProgress.lesson_id).where(
        LessonProgress.user_id == user.id, LessonProgress.lesson_id.in_(lesson_ids),
        LessonProgress.done_at.is_not(None)))) if lesson_ids else set()
    passed = set(db.session.scalars(db.select(QuizAttempt.module_id).where(
        QuizAttempt.user_id == user.id, QuizAttempt.module_id.in_([m.id for m in modules]),
        QuizAttempt.passed.is_(True)))) if modules else set()
    return CourseProgress(len(lessons), len(done), len(modules), len(passed), done, passed)


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
