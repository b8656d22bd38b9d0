"""Marshmallow schemas for the scenario files of exercises/; unknown keys are rejected."""
from marshmallow import Schema, ValidationError, fields

from academy.learning import schemas as common

ROLE_CODES = ("diplomat", "cert", "operator", "policy", "law_enforcement", "communications")
CORE_ROLES = ("diplomat", "cert", "operator")
PHASES = ("detection", "spread", "crisis", "recovery")
ARTEFACT_KINDS = ("alert", "email", "call", "news", "social", "letter", "log", "report")
AUDIENCE_WORDS = ("all", "participant")
MIN_INJECTS = 12
MIN_INJECTS_SEEN = 4  # by each core role
MIN_DECISIONS = 3  # faced by each core role


def _one_of(noun: str, allowed: tuple[str, ...]):
    def check(value: str) -> None:
        if value not in allowed:
            raise ValidationError(f"unknown {noun} '{value}' (expected one of: {', '.join(allowed)})")

    return check


def _at_least(noun: str, low: int):
    def check(values: list) -> None:
        if len(values) < low:
            raise ValidationError(f"needs at least {low} {noun}, found {len(values)}")

    return check


def _texts(noun: str) -> fields.List:
    return fields.List(common.text(), required=True, validate=_at_least(noun, 1))


class Audience(fields.Field):
    """"all", "participant", or a list of role codes; whether those roles exist is checked with the scenario."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value in AUDIENCE_WORDS:
            return value
        if not isinstance(value, list) or not value or not all(isinstance(code, str) for code in value):
            raise ValidationError('expected "all", "participant" or a list of role codes')
        if len(set(value)) != len(value):
            raise ValidationError("a role is listed twice")
        return value


class RoleSchema(Schema):
    code = fields.String(required=True, validate=_one_of("role", ROLE_CODES))
    title = common.text()
    brief = common.text()


class ObjectiveSchema(Schema):
    code = common.slug()
    role = fields.String(required=True)
    title = common.text()
    criteria = _texts("criteria")
    modules = common.slug_list("modules")


class ArtefactSchema(Schema):
    kind = fields.String(required=True, validate=_one_of("artefact kind", ARTEFACT_KINDS))
    title = common.text()
    source = common.text()
    body = common.text()


class OptionSchema(Schema):
    id = common.slug()
    text = common.text()
    # Checked against the scenario's objectives, with each key's own line, by the loader.
    scores = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)
    consequence = common.text()
    unlocks = fields.List(fields.String(), load_default=list)


class DecisionSchema(Schema):
    prompt = common.text()
    # Omitted for a free-text-only decision; a rationale is always asked for.
    options = fields.List(fields.Nested(OptionSchema), load_default=list, validate=_at_least("options", 2))


class FacilitatorSchema(Schema):
    notes = common.text()
    expected_actions = _texts("expected actions")
    sections = common.sections()


class InjectSchema(Schema):
    id = common.slug()
    offset = common.integer(0)
    phase = fields.String(required=True, validate=_one_of("phase", PHASES))
    title = common.text()
    audience = Audience(required=True)
    body = common.text()
    artefacts = fields.List(fields.Nested(ArtefactSchema), load_default=list)
    decision = fields.Nested(DecisionSchema, load_default=None)
    follow_up = common.StrictBoolean(load_default=False)
    facilitator = fields.Nested(FacilitatorSchema, required=True)


class DebriefSchema(Schema):
    question = common.text()
    modules = common.slug_list("modules")


class ScenarioSchema(Schema):
    slug = common.slug()
    title = common.title()
    summary = common.text()
    duration_minutes = common.integer(60, 120)
    audience = common.text()
    sections = common.sections()
    notice = common.text()
    roles = fields.List(fields.Nested(RoleSchema), required=True, validate=_at_least("roles", 1))
    objectives = fields.List(fields.Nested(ObjectiveSchema), required=True, validate=_at_least("objectives", 1))
    injects = fields.List(fields.Nested(InjectSchema), required=True, validate=_at_least("injects", MIN_INJECTS))
    debrief = fields.List(fields.Nested(DebriefSchema), required=True, validate=_at_least("questions", 1))
