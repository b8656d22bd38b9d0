"""What every API schema shares: UTC times with their Z, one-line text from clients, and pages."""

from datetime import UTC

from marshmallow import Schema, fields, validate

from academy.core.pagination import MAX_PAGE
from academy.core.text import LONE_SURROGATE, NOT_LINE_TEXT


class UtcDateTime(fields.DateTime):
    """A stored (naive UTC) time written with its Z, as an OpenAPI date-time (RFC 3339) must carry an offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat().replace("+00:00", "Z")


class Text(fields.String):
    """A string a client sends, on one line: control characters are refused, and so is a lone surrogate (a JSON
    "\\ud800" escape makes one; no database stores it). `verbatim` takes control characters as sent (a password)."""

    default_error_messages = {"control": "Control characters and unpaired surrogates are not allowed here."}

    def __init__(self, *args, verbatim: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.refuse = LONE_SURROGATE if verbatim else NOT_LINE_TEXT
        if not verbatim:
            # Documented too, for clients and the schemathesis run; without the surrogates, which the pattern
            # engines of OpenAPI tools cannot spell.
            self.metadata = {"pattern": r"^[^\x00-\x1f\x7f]*$", **self.metadata}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if self.refuse.search(text):
            raise self.make_error("control")
        return text


def per_page_field(default: int) -> fields.Integer:
    return fields.Integer(load_default=default, validate=validate.Range(min=1, max=100))


class PageQuerySchema(Schema):
    """?page= and ?per_page= of a list; a list with another page size overrides `per_page`."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = per_page_field(20)


class PageSchema(Schema):
    """Where a page of a list sits: its number and size, how many pages and rows there are in all."""

    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    total = fields.Integer(required=True)
