"""Published courses as the course and lesson pages show them, kept by each process until the content changes.

Courses, modules and lessons change through `flask content sync`, which records a ContentRelease with every run;
yet every page used to read a course with all its modules and lessons (their HTML too) again. A page now reads the
latest release, one row, and uses the outline its process made of the course since that release. Changes made by
this process itself (the sync command, the tests) are noticed when they are committed or rolled back, whatever
release they belong to. Outlines hold only plain values: nothing in them belongs to a database session.
"""

import itertools
from dataclasses import dataclass, field, replace
from datetime import date

from flask import current_app, request
from flask_babel import get_locale
from markupsafe import Markup
from sqlalchemy import event
from sqlalchemy.orm import Session, joinedload

from academy.core import locales
from academy.core.models import ContentTranslation
from academy.extensions import db
from academy.learning.models import ContentRelease, Course, Lesson, Module


@dataclass(frozen=True, eq=False)
class Translated:
    """How a unit in another language came to be: its translation's status, and who reviewed it when."""

    status: str
    reviewed_by: str | None
    reviewed_on: date | None

    @property
    def is_draft(self) -> bool:
        return self.status != "reviewed"


@dataclass(frozen=True, eq=False)
class LessonOutline:
    id: int
    slug: str
    title: str
    minutes: int
    sections: tuple[str, ...]
    body_html: str
    translated: Translated | None = None  # None: in English (the language of the page, or for want of a translation)
    is_archived = False


@dataclass(frozen=True, eq=False)
class ModuleOutline:
    id: int
    slug: str
    title: str
    summary: str
    pass_mark: int
    lessons: tuple[LessonOutline, ...]
    sections: dict = field(default_factory=dict, repr=False)  # its section of the course page, as rendered
    is_archived = False


@dataclass(frozen=True, eq=False)
class CourseOutline:
    """A published course with its live modules and lessons, in order (services.live_modules etc. read it too)."""

    id: int
    slug: str
    title: str
    summary: str
    modules: tuple[ModuleOutline, ...]
    language: str = locales.DEFAULT  # the language its texts are in where they have a current translation
    published = True
    is_archived = False

    def __str__(self) -> str:
        return self.title


@dataclass
class _Outlines:
    version: tuple
    courses: dict


# A course's pages walk all its modules and lessons (order, progress, previous / next): load the tree with the
# course in one query, not one query per module. Pages show lessons' HTML, never their Markdown source.
WITH_TREE = joinedload(Course.modules).joinedload(Module.lessons).defer(Lesson.body_markdown)
# Of the table, not the model: a plain SELECT of two columns costs half as much without the ORM's compilation.
_RELEASE = ContentRelease.__table__.c
LATEST_RELEASE = db.select(_RELEASE.id, _RELEASE.synced_at).order_by(_RELEASE.id.desc()).limit(1)
CONTENT = (Course, Module, Lesson, ContentRelease, ContentTranslation)
_changes = itertools.count()
_generation = next(_changes)  # this process's own committed or abandoned content changes


def content_version() -> tuple:
    """Changes whenever courses, modules or lessons may have: this process's own changes and the latest release."""
    latest = db.session.execute(LATEST_RELEASE).first()
    return own_content_changes(), tuple(latest) if latest else None


def own_content_changes() -> int:
    """The half of content_version that needs no query: this process's own committed or abandoned content changes
    (a page that reads the latest release in a query of its own puts the two together)."""
    return _generation


def course_outline(slug: str, tag: str = locales.DEFAULT) -> CourseOutline | None:
    """The outline of a published, non-archived course, or None; its texts in language `tag` where they have a
    current translation (learning/translations.py), else in English."""
    version = content_version()
    outlines = current_app.extensions.get("course_outlines")  # per app: each has its own database
    if outlines is None or outlines.version != version:
        outlines = current_app.extensions["course_outlines"] = _Outlines(version, {})
    outline = outlines.courses.get((slug, tag))
    if outline is None:
        outline = _outline(slug)
        if outline is not None and tag != locales.DEFAULT:
            outline = _in_language(outline, tag)
        if outline is not None:  # unknown slugs are not kept: anyone can ask for any number of them
            outlines.courses[(slug, tag)] = outline
    return outline


def _in_language(outline: CourseOutline, tag: str) -> CourseOutline:
    keys = (
        [outline.slug]
        + [m.slug for m in outline.modules]
        + [lesson.slug for m in outline.modules for lesson in m.lessons]
    )
    rows = {
        (row.kind, row.key): row
        for row in db.session.scalars(
            db.select(ContentTranslation).where(
                ContentTranslation.locale == tag,
                ContentTranslation.kind.in_(("course", "module", "lesson")),
                ContentTranslation.key.in_(keys),
            )
        )
    }

    def lesson_in(lesson: LessonOutline) -> LessonOutline:
        row = rows.get(("lesson", lesson.slug))
        if row is None:
            return lesson
        done = Translated(row.status, row.reviewed_by, row.reviewed_on)
        return replace(lesson, title=row.fields["title"], body_html=row.fields["body_html"], translated=done)

    def module_in(module: ModuleOutline) -> ModuleOutline:
        row = rows.get(("module", module.slug))
        texts = {"title": row.fields["title"], "summary": row.fields["summary"]} if row else {}
        return replace(module, **texts, lessons=tuple(lesson_in(lesson) for lesson in module.lessons), sections={})

    course = rows.get(("course", outline.slug))
    texts = {"title": course.fields["title"], "summary": course.fields["summary"]} if course else {}
    return replace(outline, **texts, modules=tuple(module_in(module) for module in outline.modules), language=tag)


def _outline(slug: str) -> CourseOutline | None:
    course = db.session.scalars(db.select(Course).where(Course.slug == slug).options(WITH_TREE)).unique().one_or_none()
    if course is None or not course.published or course.is_archived:
        return None
    modules = tuple(
        ModuleOutline(
            module.id,
            module.slug,
            module.title,
            module.summary,
            module.pass_mark,
            tuple(
                LessonOutline(
                    lesson.id, lesson.slug, lesson.title, lesson.minutes, tuple(lesson.sections or ()), lesson.body_html
                )
                for lesson in module.lessons
                if not lesson.is_archived
            ),
        )
        for module in course.modules
        if not module.is_archived
    )
    return CourseOutline(course.id, course.slug, course.title, course.summary, modules)


SECTIONS_KEPT = 64  # rendered sections per module and process; when full, it starts again


def module_section(course: CourseOutline, module: ModuleOutline, number: int, enrolled: bool, progress) -> Markup:
    """A module's section of the course page (templates/learning/_course_parts.html), the same for every learner at
    the same point of it: rendered once per language, script root and such point, kept with the module's outline."""
    done = frozenset(lesson.id for lesson in module.lessons if lesson.id in progress.done_lesson_ids)
    passed = module.id in progress.passed_module_ids
    environment = current_app.jinja_env
    key = (str(get_locale()), request.script_root, course.slug, number, enrolled, done, passed)
    html = None if environment.auto_reload else module.sections.get(key)
    if html is None:
        macro = environment.get_template("learning/_course_parts.html").module.module_section  # type: ignore[attr-defined]
        html = Markup(macro(course, module, number, enrolled, done, passed))
        if len(module.sections) >= SECTIONS_KEPT:
            module.sections.clear()
        module.sections[key] = html
    return html


@event.listens_for(Session, "after_flush")
def _note_content_changes(session, _flush_context) -> None:
    if any(isinstance(row, CONTENT) for rows in (session.new, session.dirty, session.deleted) for row in rows):
        session.info["content_changed"] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_outlines(session, transaction) -> None:
    # Committed or not: an outline made inside the transaction may hold what it changed.
    global _generation
    if transaction.parent is None and session.info.pop("content_changed", False):
        _generation = next(_changes)
