"""Tokens and the signed-in user."""

from marshmallow import Schema, fields, validate

from academy.api.schemas.common import Text


class TokenRequestSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=255))
    # Compared with the stored hash, never stored or shown: taken as sent, like the sign-in form's, if it is text.
    password = Text(required=True, validate=validate.Length(min=1, max=256), load_only=True, verbatim=True)
    name = Text(load_default="API client", validate=validate.Length(min=1, max=80))


class TokenSchema(Schema):
    token = fields.String(
        required=True, metadata={"description": "Shown once; send as 'Authorization: Bearer <token>'."}
    )
    token_type = fields.String(required=True)
    prefix = fields.String(required=True)
    name = fields.String(required=True)


class InstitutionRefSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    country = fields.String(required=True)
    sector = fields.String(required=True)


class MeSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    institution_id = fields.Integer(allow_none=True, required=True)
    institution = fields.Nested(InstitutionRefSchema, allow_none=True, required=True)
    track = fields.String(allow_none=True, required=True)
    roles = fields.List(fields.String(), required=True)
