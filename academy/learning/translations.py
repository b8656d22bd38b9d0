"""Courses in other languages: `courses/<course>/translations/<tag>.po` next to the English, and what a learner sees.

The segments of a course (academy/core/content/translations.py says how translation files work): its title and
summary, each module's title and summary, each lesson's title and body blocks, each question's prompt, explanation,
hint and the texts of its options, items and pairs, keyed by the same ids as the English (so an answer scores the
same in any language). `content sync` keeps the units translated in full as ContentTranslation rows; the pages
read them through `for_locale`.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from academy.core import locales
from academy.core.content.files import Problems
from academy.core.content.markdown import render_lesson
from academy.core.content.translations import Checked, Segment, TranslationFile, blocks, load_folder
from academy.core.models import ContentTranslation
from academy.extensions import db
from academy.learning.tree import CourseData, QuestionData

FOLDER = "translations"
# The parts of a question's payload that carry text, with the key of each part's id and text.
_PARTS = {
    "options": (("option", "id", "text"),),
    "items": (("item", "id", "text"),),
    "pairs": (("left", "id", "left"), ("right", "right_id", "right")),
}


@dataclass
class CourseTranslation:
    course: str
    tag: str
    checked: Checked
    derived_from: str | None = None  # sr-Latn: made from sr-Cyrl


def course_segments(course: CourseData) -> list[Segment]:
    segments = [Segment("course/title", course.title, "course"), Segment("course/summary", course.summary, "course")]
    for module in course.modules:
        unit = f"module/{module.slug}"
        segments += [Segment(f"{unit}/title", module.title, unit), Segment(f"{unit}/summary", module.summary, unit)]
        for lesson in module.lessons:
            unit = f"lesson/{lesson.slug}"
            segments.append(Segment(f"{unit}/title", lesson.title, unit))
            segments += _unique(Segment(f"{unit}/body", block, unit) for block in blocks(lesson.body_markdown))
        for question in module.questions:
            segments += question_segments(module.slug, question)
    return segments


def question_segments(module: str, question: QuestionData) -> list[Segment]:
    unit = f"question/{module}/{question.slug}"
    found = [
        Segment(f"{unit}/prompt", question.prompt, unit),
        Segment(f"{unit}/explanation", question.explanation, unit),
    ]
    if question.hint:
        found.append(Segment(f"{unit}/hint", question.hint, unit))
    for key, parts in _PARTS.items():
        for entry in question.data.get(key, []):
            for name, id_key, text_key in parts:
                found.append(Segment(f"{unit}/{name}/{entry[id_key]}", entry[text_key], unit))
    return found


def _unique(segments) -> list[Segment]:
    seen: dict[tuple[str, str], Segment] = {}
    for segment in segments:
        seen.setdefault((segment.context, segment.source), segment)
    return list(seen.values())


def load_translations(course_dir: Path, course: CourseData, display, problems: Problems) -> list[CourseTranslation]:
    """Read and check `<course>/translations/*.po` against the course; sr-Cyrl brings its sr-Latn twin."""
    folder = course_dir / FOLDER
    if not folder.is_dir():
        return []
    return [
        CourseTranslation(course.slug, tag, checked, derived_from=source)
        for tag, checked, source in load_folder(folder, course_segments(course), display, problems)
    ]


def translated_rows(course: CourseData, translation: CourseTranslation, lesson_courses) -> list[dict]:
    """The ContentTranslation rows of the units of one course translated in full in one language."""
    text = translation.checked.current
    done = translation.checked.units_done

    def get(context: str, source: str) -> str:
        return text[(context, source)]

    rows: list[tuple[str, str, dict[str, Any]]] = []
    if "course" in done:
        rows.append(
            (
                "course",
                course.slug,
                {"title": get("course/title", course.title), "summary": get("course/summary", course.summary)},
            )
        )
    for module in course.modules:
        unit = f"module/{module.slug}"
        if unit in done:
            rows.append(
                (
                    "module",
                    module.slug,
                    {"title": get(f"{unit}/title", module.title), "summary": get(f"{unit}/summary", module.summary)},
                )
            )
        for lesson in module.lessons:
            unit = f"lesson/{lesson.slug}"
            if unit not in done:
                continue
            body = "\n\n".join(get(f"{unit}/body", block) for block in blocks(lesson.body_markdown))
            rows.append(
                (
                    "lesson",
                    lesson.slug,
                    {
                        "title": get(f"{unit}/title", lesson.title),
                        "body_html": render_lesson(body, lesson_courses).html,
                    },
                )
            )
        for question in module.questions:
            unit = f"question/{module.slug}/{question.slug}"
            if unit not in done:
                continue
            fields: dict[str, Any] = {
                "prompt": get(f"{unit}/prompt", question.prompt),
                "explanation": get(f"{unit}/explanation", question.explanation),
                "hint": get(f"{unit}/hint", question.hint) if question.hint else None,
                "texts": {},
            }
            for key, parts in _PARTS.items():
                for entry in question.data.get(key, []):
                    for name, id_key, text_key in parts:
                        fields["texts"][f"{name}/{entry[id_key]}"] = get(
                            f"{unit}/{name}/{entry[id_key]}", entry[text_key]
                        )
            rows.append(("question", f"{module.slug}/{question.slug}", fields))
    counted = [segment for segment in course_segments(course) if segment.unit.startswith(("lesson/", "question/"))]
    share = sum((segment.context, segment.source) in text for segment in counted) / max(len(counted), 1)
    title = text.get(("course/title", course.title), course.title)
    rows.append(("coverage-course", course.slug, {"share": round(share, 4), "segments": len(counted), "title": title}))
    file: TranslationFile = translation.checked.file
    return [
        {
            "kind": kind,
            "key": key,
            "locale": translation.tag,
            "fields": fields,
            "status": file.status,
            "reviewed_by": file.reviewed_by,
            "reviewed_on": file.reviewed_on,
        }
        for kind, key, fields in rows
    ]


def for_locale(kind: str, keys: list[str], tag: str) -> dict[str, ContentTranslation]:
    """The synced translations of these units in one language, by key (English: none)."""
    if tag == locales.DEFAULT or not keys:
        return {}
    rows = db.session.scalars(
        db.select(ContentTranslation).where(
            ContentTranslation.kind == kind, ContentTranslation.locale == tag, ContentTranslation.key.in_(keys)
        )
    )
    return {row.key: row for row in rows}


def one(kind: str, key: str, tag: str) -> ContentTranslation | None:
    return for_locale(kind, [key], tag).get(key)


class LocalisedQuestion:
    """A question as a reader of another language sees it: translated texts, the same ids, flags and sections."""

    def __init__(self, question, fields: dict, is_draft: bool = True):
        self._question = question
        self.is_draft = is_draft
        self.prompt, self.explanation = fields["prompt"], fields["explanation"]
        self.hint = fields.get("hint") if question.hint else None
        texts = fields.get("texts", {})
        data = dict(question.data)
        for key, parts in _PARTS.items():
            if key in data:
                data[key] = [
                    {
                        **entry,
                        **{
                            text_key: texts.get(f"{name}/{entry[id_key]}", entry[text_key])
                            for name, id_key, text_key in parts
                        },
                    }
                    for entry in data[key]
                ]
        self.data = data
        self.translated = True

    def __getattr__(self, name):
        return getattr(self._question, name)


def localised_questions(questions: dict, module_slug: str, tag: str) -> dict:
    """Questions by id, each in `tag` where it has a current translation (else as written)."""
    rows = for_locale("question", [f"{module_slug}/{q.slug}" for q in questions.values()], tag)
    if not rows:
        return questions
    return {
        key: LocalisedQuestion(
            question, rows[f"{module_slug}/{question.slug}"].fields, rows[f"{module_slug}/{question.slug}"].is_draft
        )
        if f"{module_slug}/{question.slug}" in rows
        else question
        for key, question in questions.items()
    }
