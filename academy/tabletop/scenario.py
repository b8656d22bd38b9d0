"""The shape of an exercise scenario, declared once.

Each dataclass field carries the rule its file key must meet; the schema that checks scenario files is derived from
the dataclasses (marshmallow-dataclass), so a file, a stored version's definition and the live engine share one
shape. The rules that tie parts of a file together (roles, objectives, unlocks) are in scenario_files.py. This
module imports no model: the live engine (engine.py) runs on it alone.
"""

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import asdict, dataclass, field

import marshmallow_dataclass
from marshmallow import ValidationError, fields

from academy.core.content import fields as common

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


class Audience(fields.Field):
    """ "all", "participant", or a list of role codes; whether those roles exist is checked with the scenario."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value in AUDIENCE_WORDS:
            return value
        if not isinstance(value, list) or not value or not all(isinstance(code, str) for code in value):
            raise ValidationError('expected "all", "participant" or a list of role codes')
        if len(set(value)) != len(value):
            raise ValidationError("a role is listed twice")
        return value


def rule(marshmallow_field: fields.Field, **kwargs):
    """A dataclass field checked in files by `marshmallow_field`."""
    return field(metadata={"marshmallow_field": marshmallow_field}, **kwargs)


def _text():
    return rule(common.text())


def _texts(noun: str):
    return rule(fields.List(common.text(), required=True, validate=_at_least(noun, 1)))


def _items(kind: type, noun: str, low: int = 1):
    return rule(fields.List(fields.Nested(schema_of(kind)), required=True, validate=_at_least(noun, low)))


def schema_of(kind: type):
    """The marshmallow schema that checks a file's part of this shape and loads it as the dataclass."""
    return marshmallow_dataclass.class_schema(kind)


@dataclass(kw_only=True)
class Role:
    code: str = rule(fields.String(required=True, validate=_one_of("role", ROLE_CODES)))
    title: str = _text()
    brief: str = _text()


@dataclass(kw_only=True)
class Objective:
    code: str = rule(common.slug())
    role: str = rule(fields.String(required=True))
    title: str = _text()
    criteria: list[str] = _texts("criteria")
    modules: list[str] = rule(common.slug_list("modules"))


@dataclass(kw_only=True)
class Artefact:
    kind: str = rule(fields.String(required=True, validate=_one_of("artefact kind", ARTEFACT_KINDS)))
    title: str = _text()
    source: str = _text()
    body: str = _text()


@dataclass(kw_only=True)
class Option:
    id: str = rule(common.slug())
    text: str = _text()
    # Checked against the scenario's objectives, with each key's own line, by the loader.
    scores: dict[str, int] = rule(fields.Dict(keys=fields.String(), values=fields.Raw(), required=True))
    consequence: str = _text()
    unlocks: list[str] = rule(fields.List(fields.String(), load_default=list), default_factory=list)


@dataclass(kw_only=True)
class Decision:
    prompt: str = _text()
    # Omitted for a free-text-only decision; a rationale is always asked for.
    options: list[Option] = rule(
        fields.List(fields.Nested(schema_of(Option)), load_default=list, validate=_at_least("options", 2)),
        default_factory=list,
    )


@dataclass(kw_only=True)
class Facilitator:
    notes: str = _text()
    expected_actions: list[str] = _texts("expected actions")
    sections: list[str] = rule(common.sections())


@dataclass(kw_only=True)
class Inject:
    id: str = rule(common.slug())
    offset: int = rule(common.integer(0))
    phase: str = rule(fields.String(required=True, validate=_one_of("phase", PHASES)))
    title: str = _text()
    # "all", "participant" (one person picked at run time) or role codes
    audience: str | list[str] = rule(Audience(required=True))
    body: str = _text()
    artefacts: list[Artefact] = rule(
        fields.List(fields.Nested(schema_of(Artefact)), load_default=list), default_factory=list
    )
    decision: Decision | None = rule(fields.Nested(schema_of(Decision), load_default=None), default=None)
    follow_up: bool = rule(common.StrictBoolean(load_default=False), default=False)
    facilitator: Facilitator = rule(fields.Nested(schema_of(Facilitator), required=True))


@dataclass(kw_only=True)
class DebriefQuestion:
    question: str = _text()
    modules: list[str] = rule(common.slug_list("modules"))


@dataclass(kw_only=True)
class Scenario:
    slug: str = rule(common.slug())
    title: str = rule(common.title())
    summary: str = _text()
    duration_minutes: int = rule(common.integer(60, 120))
    audience: str = _text()
    sections: list[str] = rule(common.sections())
    notice: str = _text()
    roles: list[Role] = _items(Role, "roles")
    objectives: list[Objective] = _items(Objective, "objectives")
    injects: list[Inject] = _items(Inject, "injects", MIN_INJECTS)
    debrief: list[DebriefQuestion] = _items(DebriefQuestion, "questions")

    @classmethod
    def from_definition(cls, data: dict) -> "Scenario":
        """Build from a checked file's data or from a stored version's definition (the same shape), unchecked:
        a stored version was checked when it was made, and stays as it was."""
        return _build(cls, data)

    def to_definition(self) -> dict:
        return asdict(self)

    @property
    def content_hash(self) -> str:
        """The sha256 of the canonical JSON: comments, layout and key order of the file do not change it."""
        canonical = json.dumps(self.to_definition(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


ScenarioSchema = schema_of(Scenario)
# Every key a scenario file may have, at any depth (the file format's documentation lists the same).
PARTS = (Scenario, Role, Objective, Inject, Artefact, Decision, Option, Facilitator, DebriefQuestion)


def plain(value):
    """What a check loaded, as JSON-shaped data: parts that passed are dataclasses even when the whole did not."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def _build(kind, value):
    """`value` (JSON-shaped) as `kind`, following the dataclasses' type hints."""
    if value is None:
        return None
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(
            **{f.name: _build(hints[f.name], value[f.name]) for f in dataclasses.fields(kind) if f.name in value}
        )
    origin = typing.get_origin(kind)
    if origin is list:
        (item,) = typing.get_args(kind)
        return [_build(item, element) for element in value]
    if origin in (typing.Union, types.UnionType):
        shapes = [arg for arg in typing.get_args(kind) if dataclasses.is_dataclass(arg)]
        return _build(shapes[0], value) if shapes and isinstance(value, dict) else value
    return value


def reaches(audience: object, role: str) -> bool:
    """Whether an inject's audience includes a role: "all" does, "participant" is one person, not a role."""
    return audience == "all" or (isinstance(audience, list) and role in audience)
