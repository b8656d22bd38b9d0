"""Live exercises. Times are UTC in ISO 8601 ("2026-11-27T09:00:00Z"); exercise times are the pause-aware
clock."""

from marshmallow import Schema, fields

from academy.api.schemas.common import PageSchema

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
    injects_per_role = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "Injects each role sees (an inject for everyone counts for every role)"},
    )
    one_person_injects = fields.Integer(
        required=True, metadata={"description": "Injects the trainer sends to one person picked during the session"}
    )
    total_injects = fields.Integer(required=True)


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
    scope = fields.String(
        required=True, metadata={"description": "'full', or 'institution' when only the caller's own people are listed"}
    )
    participants = fields.List(fields.Nested(ExerciseParticipantSchema), required=True)
    report_url = fields.String(required=True)


class ExerciseSessionPageSchema(PageSchema):
    items = fields.List(fields.Nested(ExerciseSessionSummarySchema), required=True)


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
    kind = fields.String(
        required=True, metadata={"description": "session.*, inject.released, inject.closed or decision.submitted"}
    )
    wall_time = fields.String(required=True, metadata=REPORT_TIME)
    exercise_seconds = fields.Integer(required=True)
    exercise_time = fields.String(required=True)
    inject_id = fields.String(allow_none=True, required=True)
    title = fields.String(allow_none=True, required=True)
    how = fields.String(
        allow_none=True, required=True, metadata={"description": "scheduled, next, early, adhoc or unlocked"}
    )
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
    response_seconds = fields.Integer(
        required=True, metadata={"description": "Exercise seconds from the release to the answer"}
    )
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
    missing = fields.List(
        fields.Nested(ReportMissingSchema),
        required=True,
        metadata={"description": "People shown the inject who did not answer"},
    )


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
    objectives = fields.List(
        fields.Nested(ReportScoreSchema), required=True, metadata={"description": "Objectives at or above 75 %"}
    )
    decisions = fields.List(
        fields.Nested(ReportResponseSchema),
        required=True,
        metadata={"description": "Decisions that took the best-scoring option"},
    )


class ReportUnansweredSchema(Schema):
    inject_id = fields.String(required=True)
    title = fields.String(allow_none=True, required=True)
    released_exercise_time = fields.String(required=True)
    audience = fields.Integer(required=True, metadata={"description": "How many people were shown it"})


class ReportImprovementsSchema(Schema):
    objectives = fields.List(
        fields.Nested(ReportScoreSchema), required=True, metadata={"description": "Objectives under 50 %"}
    )
    unanswered = fields.List(fields.Nested(ReportUnansweredSchema), required=True)
    slow = fields.List(
        fields.Nested(ReportResponseSchema),
        required=True,
        metadata={"description": "Answers that took more than ten exercise minutes, slowest first"},
    )


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
