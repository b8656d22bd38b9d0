"""The learner's pages: catalogue, course, lessons and their own learning overview."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import lazyload

from academy.accounts.languages import current_tag
from academy.accounts.models import Track
from academy.core import locales
from academy.core.content.sections import SECTIONS
from academy.core.permissions import SIGNED_IN, allow
from academy.extensions import db
from academy.learning import outlines, services
from academy.learning.models import Certificate, Enrolment

bp = Blueprint("learning", __name__)


@bp.app_template_filter("section_title")
def section_title(reference: str) -> str:
    return SECTIONS.get(reference, "")


@bp.app_template_filter("localised")
def localised(item, field: str = "title") -> str:
    return services.localised(item, field)


@bp.get("/learning")
@allow(SIGNED_IN)
def home():
    """The learner's overview: courses in progress, completed, certificates, suggestions."""
    enrolments = db.session.scalars(
        db.select(Enrolment).where(Enrolment.user_id == current_user.id).order_by(Enrolment.last_activity_at.desc())
    ).all()
    rows = [
        (e, services.progress_for(current_user, e.course))
        for e in enrolments
        if e.course.published and not e.course.is_archived
    ]
    enrolled = {e.course_id for e in enrolments}
    track = current_user.track.value if current_user.track else None
    suggestions = [c for c in services.published_courses(track) if c.id not in enrolled][:4]
    certificates = db.session.scalars(
        db.select(Certificate).where(Certificate.user_id == current_user.id).order_by(Certificate.issued_at.desc())
    ).all()
    return render_template("learning/home.html", rows=rows, suggestions=suggestions, certificates=certificates)


@bp.get("/courses")
@allow(SIGNED_IN)
def catalogue():
    """All published courses, filterable by role track."""
    all_tracks = services.tracks()
    track = request.args.get("track", "")
    if track not in {t.value for t in Track}:
        track = ""
    courses = services.published_courses(track or None)
    enrolled = set(db.session.scalars(db.select(Enrolment.course_id).where(Enrolment.user_id == current_user.id)))
    current_track = next((t for t in all_tracks if t.code == track), None)
    return render_template(
        "learning/catalogue.html",
        courses=courses,
        tracks=all_tracks,
        track=track,
        current_track=current_track,
        enrolled=enrolled,
        lesson_counts={c.id: len(services.course_lessons(c)) for c in courses},
    )


@bp.get("/courses/<slug>")
@allow(SIGNED_IN)
def course(slug):
    """A course's modules and lessons with the learner's progress and where to continue."""
    course = services.load_course_outline(slug)
    place = services.place_in_course(current_user, course)
    progress = services.progress_for(current_user, course)
    return render_template(
        "learning/course.html",
        course=course,
        enrolment=place,
        progress=progress,
        modules=course.modules,
        module_section=outlines.module_section,
        next_step=services.next_step(course, progress, place),
        certificate_code=place.certificate_code if place else None,
    )


@bp.post("/courses/<slug>/enrol")
@allow(SIGNED_IN)
def enrol(slug):
    """Enrol in a course (a second click changes nothing) and open its first step."""
    course = services.load_course(slug)
    services.enrol(current_user, course)
    db.session.commit()
    flash(_('You are enrolled in "%(title)s". Your progress is saved as you go.', title=course.title), "success")
    return redirect(url_for("learning.course", slug=course.slug))


def _lesson_for_learner(slug, lesson_slug):
    """Course, lesson, enrolment and the lesson's progress row; no enrolment when the learner must enrol first."""
    course = services.load_course_outline(slug)
    lesson = services.load_lesson(course, lesson_slug)
    enrolment, progress = services.enrolment_and_progress(current_user, course, lesson)
    return course, lesson, enrolment, progress


def _enrol_first(course):
    flash(_("Enrol in the course to open its lessons."), "info")
    return redirect(url_for("learning.course", slug=course.slug))


@bp.get("/courses/<slug>/lessons/<lesson_slug>")
@allow(SIGNED_IN)
def lesson(slug, lesson_slug):
    """One lesson, rendered from the course files, with previous / next."""
    original = bool(request.args.get("original"))  # the English, asked for beside a translation
    course = services.load_course_outline(slug, locales.DEFAULT if original else None)
    lesson = services.load_lesson(course, lesson_slug)
    place = services.place_in_course(current_user, course, lesson)
    if place is None:
        return _enrol_first(course)
    lessons = services.course_lessons(course)
    index = lessons.index(lesson)
    # Rendered before the write, which holds the write lock briefly.
    page = render_template(
        "learning/lesson.html",
        course=course,
        lesson=lesson,
        translated=lesson.translated,
        language=locales.LOCALES[current_tag()],
        original=original,
        done=place.lesson_done,
        previous=lessons[index - 1] if index else None,
        next=lessons[index + 1] if index + 1 < len(lessons) else None,
        position=index + 1,
        count=len(lessons),
    )
    if services.view_changes_place(place, lesson):  # a lesson read again within minutes writes nothing
        enrolment = db.session.get(Enrolment, place.enrolment_id, options=[lazyload(Enrolment.course)])
        services.record_view(current_user, enrolment, lesson)
        db.session.commit()
    return page


@bp.post("/courses/<slug>/lessons/<lesson_slug>/done")
@allow(SIGNED_IN)
def mark_done(slug, lesson_slug):
    """Mark a lesson as done and go on to the next step of the course."""
    course, lesson, enrolment, _progress = _lesson_for_learner(slug, lesson_slug)
    if enrolment is None:
        return _enrol_first(course)
    certificate = services.mark_done(current_user, enrolment, lesson)
    db.session.commit()
    if certificate is not None:
        flash(_("Course complete! Your certificate is ready."), "success")
        return redirect(url_for("learning.course", slug=course.slug))
    step = services.next_step(course, services.progress_for(current_user, course), enrolment)
    if step is None:
        return redirect(url_for("learning.course", slug=course.slug))
    kind, module, next_lesson = step
    if kind == "lesson":
        return redirect(url_for("learning.lesson", slug=course.slug, lesson_slug=next_lesson.slug))
    return redirect(url_for("learning.quiz", slug=course.slug, module_slug=module.slug))


# The rest of the learning pages add their routes to this blueprint: create_app registers it whole.
from academy.learning import certificate_views, quiz_views  # noqa: E402, F401
