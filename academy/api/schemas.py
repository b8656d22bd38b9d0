"""Request and response schemas of the API; unknown fields are rejected."""
from datetime import timezone

from marshmallow import Schema, fields, validate

from academy.core.pagination import MAX_PAGE
from academy.core.text import LONE_SURROGATE, NOT_LINE_TEXT


class UtcDateTime(fields.DateTime):
    """A stored (naive UTC) time written with its Z, as an OpenAPI date-time (RFC 3339) must carry an offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        aware = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
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


class TokenRequestSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=255))
    # Compared with the stored hash, never stored or shown: taken as sent, like the sign-in form's, if it is text.
    password = Text(required=True, validate=validate.Length(min=1, max=256), load_only=True, verbatim=True)
    name = Text(load_default="API client", validate=validate.Length(min=1, max=80))


class TokenSchema(Schema):
    token = fields.String(required=True, metadata={"description": "Shown once; send as 'Authorization: Bearer <token>'."})
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


# Live exercises. Times are UTC in ISO 8601 ("2026-11-27T09:00:00Z"); exercise times are the pause-aware clock.
REPORT_TIME = {"format": "date-time"}

class ScenarioRoleSchema(Schema):
    code = fields.String(required=True)
    title = fields.String(required=True)


class ScenarioObjectiveSchema(Schema):
    code = fields.String(required=True)
    role = fields.String(required=True, metadata={"description": "The role that practises it"})
    title = fields.String(required=True)


class ScenarioSummarySchema(Schema):
    slug = fields.String(required=True)
    title = fields.String(required=True)
    summary = fields.String(required=True)
    duration_minutes = fields.Integer(required=True)
    version = fields.Integer(required=True, metadata={"description": "Current version; new sessions pin it"})
    roles = fields.List(fields.Nested(ScenarioRoleSchema), required=True)
    objectives = fields.List(fields.Nested(ScenarioObjectiveSchema), required=True)
    injects_per_role = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True, metadata={
        "description": "Injects each role sees (an inject for everyone counts for every role)"})
    one_person_injects = fields.Integer(required=True, metadata={
        "description": "Injects the trainer sends to one person picked during the session"})
    total_injects = fields.Integer(required=True)


class PageQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class ExerciseParticipantSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    institution = fields.String(required=True)
    role = fields.String(allow_none=True, required=True)
    role_title = fields.String(allow_none=True, required=True)
    guest = fields.Boolean(required=True)


class ExerciseScenarioRefSchema(Schema):
    slug = fields.String(required=True)
    title = fields.String(required=True)
    version = fields.Integer(required=True)
    duration_minutes = fields.Integer(required=True)


class ExerciseSessionSummarySchema(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "lobby, running, paused or ended"})
    scenario = fields.Nested(ExerciseScenarioRefSchema, required=True)
    trainer = fields.String(required=True)
    created_at = fields.String(required=True, metadata=REPORT_TIME)
    ended_at = fields.String(allow_none=True, required=True, metadata=REPORT_TIME)
    scope = fields.String(required=True, metadata={
        "description": "'full', or 'institution' when only the caller's own people are listed"})
    participants = fields.List(fields.Nested(ExerciseParticipantSchema), required=True)
    report_url = fields.String(required=True)


class ExerciseSessionPageSchema(Schema):
    items = fields.List(fields.Nested(ExerciseSessionSummarySchema), required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    total = fields.Integer(required=True)


class ReportSessionSchema(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    scenario = fields.Nested(ExerciseScenarioRefSchema, required=True)
    trainer = fields.String(required=True)
    created_at = fields.String(required=True, metadata=REPORT_TIME)
    started_at = fields.String(allow_none=True, required=True, metadata=REPORT_TIME)
    ended_at = fields.String(allow_none=True, required=True, metadata=REPORT_TIME)
    exercise_seconds = fields.Integer(required=True)
    exercise_time = fields.String(required=True)


class ReportScopeSchema(Schema):
    kind = fields.String(required=True, metadata={"description": "'full', or 'institution' for a manager"})
    institution_id = fields.Integer(allow_none=True, required=True)
    institution = fields.String(allow_none=True, required=True)


class ReportAudienceSchema(Schema):
    kind = fields.String(required=True, metadata={"description": "all, roles, participant or trainer"})
    roles = fields.List(fields.String(), required=True)
    participant_id = fields.Integer(allow_none=True, required=True)
    participant = fields.String(allow_none=True, required=True)


class ReportTimelineEntrySchema(Schema):
    event_id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "session.*, inject.released, inject.closed or "
                                                                 "decision.submitted"})
    wall_time = fields.String(required=True, metadata=REPORT_TIME)
    exercise_seconds = fields.Integer(required=True)
    exercise_time = fields.String(required=True)
    inject_id = fields.String(allow_none=True, required=True)
    title = fields.String(allow_none=True, required=True)
    how = fields.String(allow_none=True, required=True, metadata={
        "description": "scheduled, next, early, adhoc or unlocked"})
    audience = fields.Nested(ReportAudienceSchema, allow_none=True, required=True)
    participant_id = fields.Integer(allow_none=True, required=True)
    name = fields.String(allow_none=True, required=True)
    role = fields.String(allow_none=True, required=True)
    option_text = fields.String(allow_none=True, required=True)
    response_time = fields.String(allow_none=True, required=True)


class ReportResponseSchema(Schema):
    event_id = fields.Integer(required=True)
    inject_id = fields.String(required=True)
    inject_title = fields.String(allow_none=True, required=True)
    participant_id = fields.Integer(required=True)
    name = fields.String(required=True)
    institution = fields.String(required=True)
    role = fields.String(allow_none=True, required=True)
    role_title = fields.String(allow_none=True, required=True)
    option_id = fields.String(allow_none=True, required=True)
    option_text = fields.String(allow_none=True, required=True)
    rationale = fields.String(required=True)
    response_seconds = fields.Integer(required=True, metadata={
        "description": "Exercise seconds from the release to the answer"})
    response_time = fields.String(required=True)
    consequence = fields.String(allow_none=True, required=True)
    scores = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    points = fields.Integer(allow_none=True, required=True)
    best = fields.Boolean(required=True, metadata={"description": "The best-scoring option of the decision"})
    wall_time = fields.String(required=True, metadata=REPORT_TIME)
    exercise_seconds = fields.Integer(allow_none=True, required=True)
    exercise_time = fields.String(allow_none=True, required=True)


class ReportMissingSchema(Schema):
    participant_id = fields.Integer(required=True)
    name = fields.String(required=True)
    role = fields.String(allow_none=True, required=True)


class ReportDecisionSchema(Schema):
    inject_id = fields.String(required=True)
    title = fields.String(allow_none=True, required=True)
    phase = fields.String(allow_none=True, required=True)
    prompt = fields.String(allow_none=True, required=True)
    released_exercise_seconds = fields.Integer(required=True)
    released_exercise_time = fields.String(required=True)
    closed = fields.Boolean(required=True)
    responses = fields.List(fields.Nested(ReportResponseSchema), required=True)
    missing = fields.List(fields.Nested(ReportMissingSchema), required=True, metadata={
        "description": "People shown the inject who did not answer"})


class ReportScoreSchema(Schema):
    code = fields.String(required=True)
    title = fields.String(required=True)
    earned = fields.Integer(required=True)
    possible = fields.Integer(required=True)
    adjustment = fields.Integer(required=True)
    total = fields.Integer(required=True)
    percent = fields.Integer(allow_none=True, required=True, metadata={"description": "None when nothing was at stake"})
    role = fields.String(metadata={"description": "Objectives only: the role that practises it"})
    role_title = fields.String(allow_none=True)


class ReportScoresSchema(Schema):
    objectives = fields.List(fields.Nested(ReportScoreSchema), required=True)
    roles = fields.List(fields.Nested(ReportScoreSchema), required=True)


class ReportOverrideSchema(Schema):
    event_id = fields.Integer(required=True)
    objective = fields.String(allow_none=True, required=True)
    objective_title = fields.String(allow_none=True, required=True)
    role = fields.String(allow_none=True, required=True)
    role_title = fields.String(allow_none=True, required=True)
    points = fields.Integer(required=True)
    reason = fields.String(required=True)
    wall_time = fields.String(required=True, metadata=REPORT_TIME)
    exercise_time = fields.String(allow_none=True, required=True)


class ReportObservationSchema(Schema):
    event_id = fields.Integer(required=True)
    text = fields.String(required=True)
    inject_id = fields.String(allow_none=True, required=True)
    inject_title = fields.String(allow_none=True, required=True)
    objective = fields.String(allow_none=True, required=True)
    objective_title = fields.String(allow_none=True, required=True)
    wall_time = fields.String(required=True, metadata=REPORT_TIME)
    exercise_seconds = fields.Integer(allow_none=True, required=True)
    exercise_time = fields.String(allow_none=True, required=True)


class ReportStrengthsSchema(Schema):
    objectives = fields.List(fields.Nested(ReportScoreSchema), required=True, metadata={
        "description": "Objectives at or above 75 %"})
    decisions = fields.List(fields.Nested(ReportResponseSchema), required=True, metadata={
        "description": "Decisions that took the best-scoring option"})


class ReportUnansweredSchema(Schema):
    inject_id = fields.String(required=True)
    title = fields.String(allow_none=True, required=True)
    released_exercise_time = fields.String(required=True)
    audience = fields.Integer(required=True, metadata={"description": "How many people were shown it"})


class ReportImprovementsSchema(Schema):
    objectives = fields.List(fields.Nested(ReportScoreSchema), required=True, metadata={
        "description": "Objectives under 50 %"})
    unanswered = fields.List(fields.Nested(ReportUnansweredSchema), required=True)
    slow = fields.List(fields.Nested(ReportResponseSchema), required=True, metadata={
        "description": "Answers that took more than ten exercise minutes, slowest first"})


class ReportModuleSchema(Schema):
    slug = fields.String(required=True)
    title = fields.String(required=True)
    course_slug = fields.String(required=True)
    course_title = fields.String(required=True)
    url = fields.String(required=True)
    objectives = fields.List(fields.String(), metadata={"description": "Weak objectives that recommend it"})


class ReportDebriefQuestionSchema(Schema):
    question = fields.String(required=True)
    modules = fields.List(fields.Nested(ReportModuleSchema), required=True)


class AfterActionReportSchema(Schema):
    session = fields.Nested(ReportSessionSchema, required=True)
    scope = fields.Nested(ReportScopeSchema, required=True)
    participants = fields.List(fields.Nested(ExerciseParticipantSchema), required=True)
    timeline = fields.List(fields.Nested(ReportTimelineEntrySchema), required=True)
    decisions = fields.List(fields.Nested(ReportDecisionSchema), required=True)
    scores = fields.Nested(ReportScoresSchema, required=True)
    overrides = fields.List(fields.Nested(ReportOverrideSchema), required=True)
    observations = fields.List(fields.Nested(ReportObservationSchema), required=True)
    strengths = fields.Nested(ReportStrengthsSchema, required=True)
    improvements = fields.Nested(ReportImprovementsSchema, required=True)
    recommended_modules = fields.List(fields.Nested(ReportModuleSchema), required=True)
    debrief_questions = fields.List(fields.Nested(ReportDebriefQuestionSchema), required=True)


# Institutions: members, progress and the completion report, for managers, admins and institution tokens.

class InstitutionPageQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))
    active = fields.Boolean(metadata={"description": "Only current members (true) or only people who left (false)"})


class MemberSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    track = fields.String(allow_none=True, required=True)
    roles = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True, metadata={"description": "False: the account was deactivated (left)"})
    last_activity = UtcDateTime(allow_none=True, required=True, metadata={
        "description": "UTC; the latest of last sign-in, lesson progress and quiz submission"})


class MemberPageSchema(Schema):
    institution_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(MemberSchema), required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    total = fields.Integer(required=True)


class MemberEnrolmentSchema(Schema):
    course_slug = fields.String(required=True)
    course_title = fields.String(required=True)
    enrolled_at = UtcDateTime(allow_none=True, required=True)
    percent = fields.Integer(allow_none=True, required=True, metadata={
        "description": "Lessons done and module quizzes passed, as a share of the course's"})
    status = fields.String(required=True, metadata={"description": "not_started, in_progress or complete"})
    completed_at = UtcDateTime(allow_none=True, required=True)
    best_score = fields.Integer(allow_none=True, required=True, metadata={
        "description": "Highest score of any submitted attempt at the course's module quizzes"})
    certificate_code = fields.String(allow_none=True, required=True, metadata={
        "description": "Valid certificates only"})


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


class ProgressPageSchema(Schema):
    institution_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(MemberProgressSchema), required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    total = fields.Integer(required=True)


class CompletionReportQuerySchema(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))
    date_from = fields.Date(data_key="from", metadata={"description": "First day, YYYY-MM-DD (default: a year ago)"})
    date_to = fields.Date(data_key="to", metadata={"description": "Last day, included, YYYY-MM-DD (default: today)"})
    course = fields.List(Text(validate=validate.Length(max=80)), metadata={
        "description": "Course slugs, repeatable (default: every live course and any the staff are enrolled in)"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=100))


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


class CompletionReportSchema(Schema):
    institution_id = fields.Integer(required=True)
    institution = fields.String(required=True)
    country = fields.String(required=True)
    date_from = fields.Date(data_key="from", required=True)
    date_to = fields.Date(data_key="to", required=True)
    generated_at = UtcDateTime(required=True, metadata={"description": "UTC"})
    verification_code = fields.String(required=True, metadata={
        "description": "Fingerprint of the content; the same in every format of the same report"})
    definitions = fields.List(fields.Nested(CompletionDefinitionSchema), required=True)
    courses = fields.List(fields.Nested(CompletionCourseSchema), required=True)
    all_courses = fields.Nested(CompletionCourseSchema, required=True)
    totals = fields.Nested(CompletionTotalsSchema, required=True)
    people = fields.List(fields.Nested(CompletionPersonSchema), required=True, metadata={
        "description": "One row per current member and course: this page of them"})
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    total = fields.Integer(required=True, metadata={"description": "Rows of `people` on all pages"})
    left = fields.List(fields.Nested(CompletionPersonSchema), required=True, metadata={
        "description": "People whose accounts were deactivated: shown, not counted"})
    exercises = fields.List(fields.Nested(CompletionExerciseSchema), required=True)
