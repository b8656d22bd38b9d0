"""A content folder as plain dataclasses, ready to check and to sync."""

import hashlib
from dataclasses import dataclass, field

from academy.core.content.files import Problem
from academy.learning.models import DEFAULT_REVIEW


@dataclass
class LessonData:
    slug: str
    title: str
    sections: list[str]
    minutes: int
    body_markdown: str
    body_html: str = ""
    position: int = 0


@dataclass
class QuestionData:
    slug: str
    type: str
    prompt: str
    sections: list[str]
    explanation: str
    data: dict
    position: int = 0
    hint: str | None = None


@dataclass
class ModuleData:
    slug: str
    title: str
    summary: str
    pass_mark: int
    questions_per_attempt: int
    max_attempts: int
    position: int = 0
    review: str = DEFAULT_REVIEW
    lessons: list[LessonData] = field(default_factory=list)
    questions: list[QuestionData] = field(default_factory=list)


@dataclass
class CourseData:
    slug: str
    title: str
    summary: str
    tracks: list[str]
    published: bool
    position: int = 0
    modules: list[ModuleData] = field(default_factory=list)


@dataclass
class TrackData:
    code: str
    title: str
    summary: str
    course_slugs: list[str]
    position: int = 0


@dataclass
class ContentTree:
    courses: list[CourseData] = field(default_factory=list)
    tracks: list[TrackData] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    translations: list = field(default_factory=list)  # learning.translations.CourseTranslation

    @property
    def modules(self) -> list[ModuleData]:
        return [module for course in self.courses for module in course.modules]

    @property
    def lessons(self) -> list[LessonData]:
        return [lesson for module in self.modules for lesson in module.lessons]

    @property
    def questions(self) -> list[QuestionData]:
        return [question for module in self.modules for question in module.questions]

    def summary(self) -> str:
        return (
            f"{len(self.courses)} courses, {len(self.modules)} modules, "
            f"{len(self.lessons)} lessons, {len(self.questions)} questions"
        )


def stable_id(text: str) -> str:
    """An id derived from the text itself, so it survives reordering."""
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:10]


def question_payload(kind: str, loaded: dict) -> dict:
    """The type-specific part of a question, with stable ids for options, items and pairs."""
    if kind in ("single", "multiple"):
        return {
            "options": [
                {"id": stable_id(option["text"]), "text": option["text"], "correct": option["correct"]}
                for option in loaded["options"]
            ]
        }
    if kind == "true_false":
        return {"answer": loaded["answer"]}
    if kind == "ordering":
        return {"items": [{"id": stable_id(item), "text": item} for item in loaded["items"]]}
    # The right side has its own id: showing rights under the pair's id would give the answer away.
    return {
        "pairs": [
            {
                "id": stable_id(pair["left"]),
                "left": pair["left"],
                "right": pair["right"],
                "right_id": stable_id(pair["right"]),
            }
            for pair in loaded["pairs"]
        ]
    }
