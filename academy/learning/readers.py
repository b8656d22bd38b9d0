"""Reading one lesson file or one quiz's questions, with every problem's line."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from academy.core.content import fields
from academy.core.content.files import Problems, YamlDocument, load_with, parse_yaml, read_text
from academy.learning import schemas
from academy.learning.tree import LessonData, QuestionData, question_payload


@dataclass
class LessonFile:
    """A lesson as read, with where it was written: for the messages that point back at it."""

    lesson: LessonData
    course_slug: str
    display: str
    slug_line: int
    body_line: int
    listed: bool = False


def read_yaml(path: Path, display: str, problems: Problems) -> YamlDocument | None:
    text = read_text(path, display, problems)
    return None if text is None else parse_yaml(text, display, problems)


class LessonReader:
    """One lesson file: YAML front matter between `---` lines, then the Markdown body."""

    def __init__(self, path: Path, display: str, problems: Problems):
        self.path, self.display, self.problems = path, display, problems

    def read(self, course_slug: str) -> LessonFile | None:
        """The lesson as far as it could be read: its body is checked even when its front matter is not."""
        text = read_text(self.path, self.display, self.problems)
        if text is None:
            return None
        lines = text.splitlines(keepends=True)
        if not lines or lines[0].strip() != "---":
            self.problems.add(self.display, 1, "a lesson starts with YAML front matter between '---' lines")
            return None
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is None:
            self.problems.add(self.display, 1, "the front matter is not closed by a '---' line")
            return None
        body = "".join(lines[end + 1 :])
        if not body.strip():
            self.problems.add(self.display, end + 1, "the lesson body is empty")
        doc = parse_yaml("".join(lines[1:end]), self.display, self.problems, first_line=2, what="the front matter")
        loaded: dict[str, Any] = {}
        slug_line = 1
        if doc is not None:
            loaded, _ = load_with(schemas.LessonFrontMatterSchema(), doc.data, doc, self.display, self.problems)
            slug_line = doc.lines.line(("slug",))
        slug = loaded.get("slug")
        if slug and slug != self.path.stem:
            self.problems.add(self.display, slug_line, f"slug '{slug}' does not match the file name '{self.path.name}'")
        lesson = LessonData(
            slug=slug or "",
            title=loaded.get("title", ""),
            sections=loaded.get("sections", []),
            minutes=loaded.get("minutes", 0),
            body_markdown=body,
        )
        return LessonFile(lesson, course_slug, self.display, slug_line, body_line=end + 2)


class QuizReader:
    """The questions of one quiz file, each checked by the schema of its type."""

    def __init__(self, doc: YamlDocument, display: str, problems: Problems):
        self.doc, self.display, self.problems = doc, display, problems

    def questions(self, raw_questions: list) -> list[QuestionData]:
        found: list[QuestionData] = []
        slugs: set[str] = set()
        for index, raw in enumerate(raw_questions):
            question = self._question(index, raw)
            if question is None:
                continue
            if question.slug in slugs:
                line = self.doc.lines.line(("questions", index, "slug"))
                self.problems.add(self.display, line, f"duplicate question slug '{question.slug}' in this quiz")
                continue
            slugs.add(question.slug)
            question.position = len(found)
            found.append(question)
        return found

    def _question(self, index: int, raw: object) -> QuestionData | None:
        prefix = ("questions", index)
        if not isinstance(raw, dict):
            self.problems.add(self.display, self.doc.lines.line(prefix), "a question is a mapping of keys to values")
            return None
        kind = raw.get("type")
        schema = schemas.QUESTION_SCHEMAS.get(kind) if isinstance(kind, str) else None
        if schema is None or not isinstance(kind, str):
            message = (
                "missing required key 'type'"
                if kind is None
                else f"unknown question type '{kind}' (expected one of: {', '.join(schemas.QUESTION_SCHEMAS)})"
            )
            self.problems.add(self.display, self.doc.lines.line(prefix + (("type",) if kind else ())), message)
            return None
        loaded, ok = load_with(schema(), raw, self.doc, self.display, self.problems, prefix)
        for key in ("prompt", "explanation", "hint"):
            for ref in fields.unknown_inline_sections(loaded.get(key) or ""):
                line = self.doc.lines.line(prefix + (key,))
                self.problems.add(self.display, line, f"{key}: unknown section reference '{ref}'")
        if not ok:
            return None
        return QuestionData(
            slug=loaded["slug"],
            type=kind,
            prompt=loaded["prompt"],
            sections=loaded["sections"],
            explanation=loaded["explanation"],
            hint=loaded["hint"],
            data=question_payload(kind, loaded),
        )
