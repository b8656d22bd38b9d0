"""Marshmallow schemas for the content files; unknown keys are rejected."""

from marshmallow import Schema, ValidationError, fields, validates_schema

from academy.accounts.models import Track as TrackCode
from academy.core.content.fields import (
    StrictBoolean,
    count,
    integer,
    not_blank,
    sections,
    slug,
    slug_list,
    text,
    title,
    unique,
)
from academy.learning.models import DEFAULT_REVIEW, REVIEW_POLICIES

TRACK_CODES = tuple(code.value for code in TrackCode)


def _track_code(value: str) -> None:
    if value not in TRACK_CODES:
        raise ValidationError(f"unknown track '{value}' (expected one of: {', '.join(TRACK_CODES)})")


def _review(value: str) -> None:
    if value not in REVIEW_POLICIES:
        raise ValidationError(f"unknown review policy '{value}' (expected one of: {', '.join(REVIEW_POLICIES)})")


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
    tracks = fields.List(
        fields.String(validate=_track_code), required=True, validate=[count("tracks", 1), unique("track")]
    )
    published = StrictBoolean(load_default=False)
    modules = fields.List(fields.Nested(ModuleSchema), required=True, validate=count("modules", 1))


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
    tracks = fields.List(fields.Nested(TrackSchema), required=True, validate=count("tracks", 1))


class QuizFileSchema(Schema):
    module = slug()
    questions = fields.List(fields.Raw(), required=True, validate=count("questions", 1))


class QuestionSchema(Schema):
    """What every question has; each type adds its own payload."""

    slug = slug()
    type = fields.String(required=True)
    sections = sections()
    prompt = text()
    explanation = text()
    hint = fields.String(load_default=None, validate=not_blank)


class OptionSchema(Schema):
    text = text()
    correct = StrictBoolean(load_default=False)


def _distinct_texts(options: list[dict]) -> None:
    unique("option")([option.get("text") for option in options])


class SingleChoiceSchema(QuestionSchema):
    options = fields.List(
        fields.Nested(OptionSchema), required=True, validate=[count("options", 3, 5), _distinct_texts]
    )

    @validates_schema
    def one_correct(self, data, **kwargs):
        correct = sum(option.get("correct", False) for option in data.get("options", []))
        if "options" in data and correct != 1:
            raise ValidationError(
                f"a single-choice question needs exactly one correct option, found {correct}", field_name="options"
            )


class MultipleChoiceSchema(QuestionSchema):
    options = fields.List(
        fields.Nested(OptionSchema), required=True, validate=[count("options", 3, 5), _distinct_texts]
    )

    @validates_schema
    def some_correct(self, data, **kwargs):
        if "options" in data and not any(option.get("correct", False) for option in data["options"]):
            raise ValidationError("a multiple-choice question needs at least one correct option", field_name="options")


class TrueFalseSchema(QuestionSchema):
    answer = StrictBoolean(required=True)


class OrderingSchema(QuestionSchema):
    items = fields.List(
        fields.String(validate=not_blank), required=True, validate=[count("items", 3, 6), unique("item")]
    )


class PairSchema(Schema):
    left = text()
    right = text()


class MatchingSchema(QuestionSchema):
    pairs = fields.List(fields.Nested(PairSchema), required=True, validate=count("pairs", 3, 6))

    @validates_schema
    def one_to_one(self, data, **kwargs):
        pairs = data.get("pairs", [])
        for side in ("left", "right"):
            try:
                unique(f"{side} side")([pair.get(side) for pair in pairs])
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
