"""Marshmallow schemas for the content files; unknown keys are rejected."""
import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from academy.accounts.models import Track as TrackCode
from academy.learning.models import DEFAULT_REVIEW, REVIEW_POLICIES
from academy.learning.sections import SECTIONS

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
SECTION_RE = re.compile(r"^§\d+(\.\d+){0,2}$")
INLINE_SECTION_RE = re.compile(r"§\d+(?:\.\d+)*")
TRACK_CODES = tuple(code.value for code in TrackCode)
# As long or as large as the database columns: what passes the check must never fail the sync.
SLUG_MAX, TITLE_MAX, INTEGER_MAX = 80, 200, 2**31 - 1


class StrictBoolean(fields.Boolean):
    """Only YAML's true and false: "yes" in quotes is a typo, not a boolean."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be empty")


def is_slug(value: str) -> bool:
    """Whether a name can be a slug, and so a file name: a longer one would be refused by the file system."""
    return bool(SLUG_RE.match(value)) and len(value) <= SLUG_MAX


def _slug(value: str) -> None:
    if not SLUG_RE.match(value):
        raise ValidationError(f"bad slug '{value}': use lower-case words joined by hyphens")
    if len(value) > SLUG_MAX:
        raise ValidationError(f"{len(value)} characters long, more than the {SLUG_MAX} allowed")


def _title_length(value: str) -> None:
    if len(value) > TITLE_MAX:
        raise ValidationError(f"{len(value)} characters long, more than the {TITLE_MAX} allowed")


def _section(value: str) -> None:
    if value not in SECTIONS:
        hint = "" if SECTION_RE.match(value) else " (write §N, §N.N or §N.N.N)"
        raise ValidationError(f"unknown section reference '{value}'{hint}")


def unknown_inline_sections(text: str) -> list[str]:
    """Section references cited in running text (`see §4.5`) that name no section of the report."""
    return [ref for ref in INLINE_SECTION_RE.findall(text) if ref not in SECTIONS]


def _track_code(value: str) -> None:
    if value not in TRACK_CODES:
        raise ValidationError(f"unknown track '{value}' (expected one of: {', '.join(TRACK_CODES)})")


def _review(value: str) -> None:
    if value not in REVIEW_POLICIES:
        raise ValidationError(f"unknown review policy '{value}' (expected one of: {', '.join(REVIEW_POLICIES)})")


def _count(noun: str, low: int, high: int | None = None):
    def check(values: list) -> None:
        if len(values) < low or (high is not None and len(values) > high):
            span = f"{low}–{high}" if high is not None else f"at least {low}"
            raise ValidationError(f"needs {span} {noun}, found {len(values)}")

    return check


def _unique(noun: str):
    def check(values: list) -> None:
        seen = set()
        for value in values:
            if value in seen:
                raise ValidationError(f"duplicate {noun} '{value}'")
            seen.add(value)

    return check


def text(**kwargs) -> fields.String:
    return fields.String(required=True, validate=_not_blank, **kwargs)


def title() -> fields.String:
    return fields.String(required=True, validate=[_not_blank, _title_length])


def slug() -> fields.String:
    return fields.String(required=True, validate=_slug)


def sections() -> fields.List:
    return fields.List(fields.String(validate=_section), required=True,
                       validate=[_count("section references", 1), _unique("section reference")])


def slug_list(noun: str) -> fields.List:
    return fields.List(fields.String(validate=_slug), required=True, validate=[_count(noun, 1), _unique(noun[:-1])])


def integer(low: int, high: int | None = None) -> fields.Integer:
    if high is not None:
        checks = [validate.Range(min=low, max=high, error=f"must be between {low} and {high}")]
    else:
        checks = [validate.Range(min=low, error=f"must be at least {low}"),
                  validate.Range(max=INTEGER_MAX, error=f"must be at most {INTEGER_MAX}")]
    return fields.Integer(strict=True, required=True, validate=checks)


class QuizSettingsSchema(Schema):
    pass_mark = integer(1, 100)
    questions_per_attempt = integer(1)
    max_attempts = integer(0)
    review = fields.String(load_default=DEFAULT_REVIEW, validate=_review)


class ModuleSchema(Schema):
    slug = slug()
    title = title()
    summary = text()
    lessons = slug_list("lessons")
    quiz = fields.Nested(QuizSettingsSchema, required=True)


class CourseSchema(Schema):
    slug = slug()
    title = title()
    summary = text()
    tracks = fields.List(fields.String(validate=_track_code), required=True,
                         validate=[_count("tracks", 1), _unique("track")])
    published = StrictBoolean(load_default=False)
    modules = fields.List(fields.Nested(ModuleSchema), required=True, validate=_count("modules", 1))


class LessonFrontMatterSchema(Schema):
    slug = slug()
    title = title()
    sections = sections()
    minutes = integer(1)


class TrackSchema(Schema):
    code = fields.String(required=True, validate=_track_code)
    title = title()
    summary = text()
    courses = slug_list("courses")


class TracksFileSchema(Schema):
    tracks = fields.List(fields.Nested(TrackSchema), required=True, validate=_count("tracks", 1))


class QuizFileSchema(Schema):
    module = slug()
    questions = fields.List(fields.Raw(), required=True, validate=_count("questions", 1))


class QuestionSchema(Schema):
    """What every question has; each type adds its own payload."""

    slug = slug()
    type = fields.String(required=True)
    sections = sections()
    prompt = text()
    explanation = text()
    hint = fields.String(load_default=None, validate=_not_blank)


class OptionSchema(Schema):
    text = text()
    correct = StrictBoolean(load_default=False)


def _distinct_texts(options: list[dict]) -> None:
    _unique("option")([option.get("text") for option in options])


class SingleChoiceSchema(QuestionSchema):
    options = fields.List(fields.Nested(OptionSchema), required=True,
                          validate=[_count("options", 3, 5), _distinct_texts])

    @validates_schema
    def one_correct(self, data, **kwargs):
        correct = sum(option.get("correct", False) for option in data.get("options", []))
        if "options" in data and correct != 1:
            raise ValidationError(f"a single-choice question needs exactly one correct option, found {correct}",
                                  field_name="options")


class MultipleChoiceSchema(QuestionSchema):
    options = fields.List(fields.Nested(OptionSchema), required=True,
                          validate=[_count("options", 3, 5), _distinct_texts])

    @validates_schema
    def some_correct(self, data, **kwargs):
        if "options" in data and not any(option.get("correct", False) for option in data["options"]):
            raise ValidationError("a multiple-choice question needs at least one correct option",
                                  field_name="options")


class TrueFalseSchema(QuestionSchema):
    answer = StrictBoolean(required=True)


class OrderingSchema(QuestionSchema):
    items = fields.List(fields.String(validate=_not_blank), required=True,
                        validate=[_count("items", 3, 6), _unique("item")])


class PairSchema(Schema):
    left = text()
    right = text()


class MatchingSchema(QuestionSchema):
    pairs = fields.List(fields.Nested(PairSchema), required=True, validate=_count("pairs", 3, 6))

    @validates_schema
    def one_to_one(self, data, **kwargs):
        pairs = data.get("pairs", [])
        for side in ("left", "right"):
            try:
                _unique(f"{side} side")([pair.get(side) for pair in pairs])
            except ValidationError as error:
                raise ValidationError(error.messages, field_name="pairs") from error


# The registry of question types: one schema per type.
QUESTION_SCHEMAS: dict[str, type[QuestionSchema]] = {
    "single": SingleChoiceSchema,
    "multiple": MultipleChoiceSchema,
    "true_false": TrueFalseSchema,
    "ordering": OrderingSchema,
    "matching": MatchingSchema,
}
