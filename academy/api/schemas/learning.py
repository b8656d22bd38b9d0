"""Courses, progress and certificates."""

from marshmallow import Schema, fields, validate

from academy.api.schemas.common import UtcDateTime


class ModuleSummarySchema(Schema):
    slug = fields.String(required=True)
    title = fields.String(required=True)
    lessons = fields.Integer(required=True, metadata={"description": "Live lessons in the module"})
    questions = fields.Integer(required=True, metadata={"description": "Questions in the module's bank"})
    questions_per_attempt = fields.Integer(required=True)
    pass_mark = fields.Integer(required=True)
    max_attempts = fields.Integer(required=True, metadata={"description": "0 means unlimited"})


class CourseSummarySchema(Schema):
    slug = fields.String(required=True)
    title = fields.String(required=True)
    summary = fields.String(required=True)
    tracks = fields.List(fields.String(), required=True)
    lessons = fields.Integer(required=True)
    questions = fields.Integer(required=True)
    modules = fields.List(fields.Nested(ModuleSummarySchema), required=True)


class CourseQuerySchema(Schema):
    track = fields.String(validate=validate.OneOf(["diplomat", "cert", "operator", "policy", "law_enforcement"]))


class CourseProgressSchema(Schema):
    course_slug = fields.String(required=True)
    course_title = fields.String(required=True)
    enrolled_at = UtcDateTime(required=True)
    last_activity_at = UtcDateTime(required=True)
    lessons_done = fields.Integer(required=True)
    lessons_total = fields.Integer(required=True)
    quizzes_passed = fields.Integer(required=True)
    quizzes_total = fields.Integer(required=True)
    percent = fields.Integer(required=True)
    completed_at = UtcDateTime(allow_none=True, required=True)
    certificate_code = fields.String(allow_none=True, required=True)


class ProgressSchema(Schema):
    user_id = fields.Integer(required=True)
    courses = fields.List(fields.Nested(CourseProgressSchema), required=True)


class CertificateSchema(Schema):
    code = fields.String(required=True, metadata={"description": "Verification code, e.g. ABCD-EFGH-JKLM"})
    valid = fields.Boolean(required=True, metadata={"description": "False once the certificate is revoked"})
    holder_name = fields.String(required=True)
    course_title = fields.String(required=True)
    course_slug = fields.String(required=True)
    issued_at = UtcDateTime(required=True, metadata={"description": "UTC"})
    revoked_at = UtcDateTime(allow_none=True, required=True, metadata={"description": "UTC"})
    revoked_reason = fields.String(allow_none=True, required=True)
