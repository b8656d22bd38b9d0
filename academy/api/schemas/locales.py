"""The locales resource."""

from marshmallow import Schema, fields


class LocaleSchema(Schema):
    tag = fields.String(required=True, metadata={"description": "BCP 47 language tag, e.g. sr-Latn, cnr"})
    name = fields.String(required=True, metadata={"description": "The language named in itself"})
    ui = fields.Float(required=True, metadata={"description": "Share of the interface's messages translated"})
    courses = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        required=True,
        metadata={"description": "Course slug → share of its lesson and question segments with a current translation"},
    )
    scenarios = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        required=True,
        metadata={"description": "Scenario slug → share of its segments with a current translation"},
    )
