"""Institutions: members, progress and the completion report, for managers, admins and institution tokens."""

from marshmallow import Schema, fields, validate

from academy.api.schemas.common import PageQuerySchema, PageSchema, Text, UtcDateTime, per_page_field


class InstitutionPageQuerySchema(PageQuerySchema):
    per_page = per_page_field(25)
    active = fields.Boolean(metadata={"description": "Only current members (true) or only people who left (false)"})


class MemberSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    track = fields.String(allow_none=True, required=True)
    roles = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True, metadata={"description": "False: the account was deactivated (left)"})
    last_activity = UtcDateTime(
        allow_none=True,
        required=True,
        metadata={"description": "UTC; the latest of last sign-in, lesson progress and quiz submission"},
    )


class MemberPageSchema(PageSchema):
    institution_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(MemberSchema), required=True)


class MemberEnrolmentSchema(Schema):
    course_slug = fields.String(required=True)
    course_title = fields.String(required=True)
    enrolled_at = UtcDateTime(allow_none=True, required=True)
    percent = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Lessons done and module quizzes passed, as a share of the course's"},
    )
    status = fields.String(required=True, metadata={"description": "not_started, in_progress or complete"})
    completed_at = UtcDateTime(allow_none=True, required=True)
    best_score = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Highest score of any submitted attempt at the course's module quizzes"},
    )
    certificate_code = fields.String(
        allow_none=True, required=True, metadata={"description": "Valid certificates only"}
    )


class MemberExerciseSchema(Schema):
    session_id = fields.Integer(required=True)
    title = fields.String(required=True)
    scenario = fields.String(required=True)
    scenario_slug = fields.String(required=True)
    status = fields.String(required=True)
    date = fields.String(required=True, metadata={"format": "date", "description": "UTC: when the session started"})
    role = fields.String(allow_none=True, required=True)
    role_title = fields.String(allow_none=True, required=True)
    decisions = fields.Integer(required=True)
    score_percent_of_role = fields.Integer(allow_none=True, required=True)


class MemberProgressSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    track = fields.String(allow_none=True, required=True)
    active = fields.Boolean(required=True)
    enrolments = fields.List(fields.Nested(MemberEnrolmentSchema), required=True)
    exercises = fields.List(fields.Nested(MemberExerciseSchema), required=True)


class ProgressPageSchema(PageSchema):
    institution_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(MemberProgressSchema), required=True)


class CompletionReportQuerySchema(PageQuerySchema):
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(["json", "csv", "pdf", "xlsx"]),
        metadata={"description": "json or csv at once; pdf or xlsx: 202 with the Location of the job making the file"},
    )
    date_from = fields.Date(data_key="from", metadata={"description": "First day, YYYY-MM-DD (default: a year ago)"})
    date_to = fields.Date(data_key="to", metadata={"description": "Last day, included, YYYY-MM-DD (default: today)"})
    course = fields.List(
        Text(validate=validate.Length(max=80)),
        metadata={
            "description": "Course slugs, repeatable (default: every live course and any the staff are enrolled in)"
        },
    )
    per_page = per_page_field(100)


class CompletionCourseSchema(Schema):
    slug = fields.String(required=True, metadata={"description": "Empty for the row of all courses"})
    title = fields.String(required=True)
    staff = fields.Integer(required=True)
    enrolled = fields.Integer(required=True)
    complete = fields.Integer(required=True)
    completed_in_period = fields.Integer(required=True)
    completion_percent = fields.Integer(required=True)
    average_best_score = fields.Float(allow_none=True, required=True)
    certificates = fields.Integer(required=True)


class CompletionTotalsSchema(Schema):
    staff = fields.Integer(required=True)
    staff_enrolled = fields.Integer(required=True)
    enrolments = fields.Integer(required=True)
    complete = fields.Integer(required=True)
    completed_in_period = fields.Integer(required=True)
    certificates = fields.Integer(required=True)
    average_best_score = fields.Float(allow_none=True, required=True)
    exercises_attended = fields.Integer(required=True)
    left = fields.Integer(required=True)


class CompletionPersonSchema(Schema):
    user_id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    track = fields.String(required=True)
    course_slug = fields.String(required=True, metadata={"description": "Empty: enrolled in none of the courses"})
    course_title = fields.String(required=True)
    enrolled_at = UtcDateTime(allow_none=True, required=True)
    progress_percent = fields.Integer(allow_none=True, required=True)
    status = fields.String(required=True, metadata={"description": "not_enrolled, not_started, in_progress, complete"})
    completed_at = UtcDateTime(allow_none=True, required=True)
    completed_in_period = fields.Boolean(required=True)
    best_score = fields.Integer(allow_none=True, required=True)
    certificate_code = fields.String(required=True)
    last_activity = UtcDateTime(allow_none=True, required=True)
    left = fields.Boolean(required=True)


class CompletionExerciseSchema(Schema):
    user_id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    date = fields.String(required=True, metadata={"format": "date"})
    title = fields.String(required=True)
    scenario = fields.String(required=True)
    role = fields.String(required=True)
    score_percent = fields.Integer(allow_none=True, required=True)
    left = fields.Boolean(required=True)


class CompletionDefinitionSchema(Schema):
    term = fields.String(required=True)
    text = fields.String(required=True)


class CompletionReportSchema(PageSchema):
    institution_id = fields.Integer(required=True)
    institution = fields.String(required=True)
    country = fields.String(required=True)
    date_from = fields.Date(data_key="from", required=True)
    date_to = fields.Date(data_key="to", required=True)
    generated_at = UtcDateTime(required=True, metadata={"description": "UTC"})
    verification_code = fields.String(
        required=True,
        metadata={"description": "Fingerprint of the content; the same in every format of the same report"},
    )
    definitions = fields.List(fields.Nested(CompletionDefinitionSchema), required=True)
    courses = fields.List(fields.Nested(CompletionCourseSchema), required=True)
    all_courses = fields.Nested(CompletionCourseSchema, required=True)
    totals = fields.Nested(CompletionTotalsSchema, required=True)
    people = fields.List(
        fields.Nested(CompletionPersonSchema),
        required=True,
        metadata={"description": "One row per current member and course: this page of them"},
    )
    total = fields.Integer(required=True, metadata={"description": "Rows of `people` on all pages"})
    left = fields.List(
        fields.Nested(CompletionPersonSchema),
        required=True,
        metadata={"description": "People whose accounts were deactivated: shown, not counted"},
    )
    exercises = fields.List(fields.Nested(CompletionExerciseSchema), required=True)
