"""Field rules shared by every content file (courses and scenarios): slugs, titles, section references, counts.

Marshmallow fields with messages said the way a content author thinks of them; unknown keys are rejected by the
schemas that use them."""

import re

from marshmallow import ValidationError, fields, validate

from academy.core.content.sections import SECTIONS

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
SECTION_RE = re.compile(r"^§\d+(\.\d+){0,2}$")
INLINE_SECTION_RE = re.compile(r"§\d+(?:\.\d+)*")
# As long or as large as the database columns: what passes the check must never fail the sync.
SLUG_MAX, TITLE_MAX, INTEGER_MAX = 80, 200, 2**31 - 1


class StrictBoolean(fields.Boolean):
    """Only YAML's true and false: "yes" in quotes is a typo, not a boolean."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be empty")


def is_slug(value: str) -> bool:
    """Whether a name can be a slug, and so a file name: a longer one would be refused by the file system."""
    return bool(SLUG_RE.match(value)) and len(value) <= SLUG_MAX


def slug_rule(value: str) -> None:
    if not SLUG_RE.match(value):
        raise ValidationError(f"bad slug '{value}': use lower-case words joined by hyphens")
    if len(value) > SLUG_MAX:
        raise ValidationError(f"{len(value)} characters long, more than the {SLUG_MAX} allowed")


def title_length(value: str) -> None:
    if len(value) > TITLE_MAX:
        raise ValidationError(f"{len(value)} characters long, more than the {TITLE_MAX} allowed")


def section_rule(value: str) -> None:
    if value not in SECTIONS:
        hint = "" if SECTION_RE.match(value) else " (write §N, §N.N or §N.N.N)"
        raise ValidationError(f"unknown section reference '{value}'{hint}")


def unknown_inline_sections(text: str) -> list[str]:
    """Section references cited in running text (`see §4.5`) that name no section of the report."""
    return [ref for ref in INLINE_SECTION_RE.findall(text) if ref not in SECTIONS]


def count(noun: str, low: int, high: int | None = None):
    def check(values: list) -> None:
        if len(values) < low or (high is not None and len(values) > high):
            span = f"{low}–{high}" if high is not None else f"at least {low}"
            raise ValidationError(f"needs {span} {noun}, found {len(values)}")

    return check


def unique(noun: str):
    def check(values: list) -> None:
        seen = set()
        for value in values:
            if value in seen:
                raise ValidationError(f"duplicate {noun} '{value}'")
            seen.add(value)

    return check


def text(**kwargs) -> fields.String:
    return fields.String(required=True, validate=not_blank, **kwargs)


def title() -> fields.String:
    return fields.String(required=True, validate=[not_blank, title_length])


def slug() -> fields.String:
    return fields.String(required=True, validate=slug_rule)


def sections() -> fields.List:
    return fields.List(
        fields.String(validate=section_rule),
        required=True,
        validate=[count("section references", 1), unique("section reference")],
    )


def slug_list(noun: str) -> fields.List:
    return fields.List(fields.String(validate=slug_rule), required=True, validate=[count(noun, 1), unique(noun[:-1])])


def integer(low: int, high: int | None = None) -> fields.Integer:
    if high is not None:
        checks = [validate.Range(min=low, max=high, error=f"must be between {low} and {high}")]
    else:
        checks = [
            validate.Range(min=low, error=f"must be at least {low}"),
            validate.Range(max=INTEGER_MAX, error=f"must be at most {INTEGER_MAX}"),
        ]
    return fields.Integer(strict=True, required=True, validate=checks)
