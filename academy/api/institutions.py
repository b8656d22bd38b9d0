"""API resources for an institution's members, their progress and the completion report.

Managers read their own institution (any other id is 404), admins any; an institution's own token acts as a manager
of that institution. Every endpoint loads the institution through `load_api_institution`, every query of people
passes through scope_to_user, and every call is an export of personal data, so each one is audited.
"""

from datetime import date, datetime

from flask import Response, g
from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema

from academy.accounts.models import Role, User
from academy.api.auth import INSTITUTION_TOKENS, api_allow, api_caller
from academy.api.jobs import accepted_report_job
from academy.api.schemas.institutions import (
    CompletionReportQuerySchema,
    CompletionReportSchema,
    InstitutionPageQuerySchema,
    MemberPageSchema,
    ProgressPageSchema,
)
from academy.api.schemas.jobs import JobSchema
from academy.api.views import BEARER, blp
from academy.core import audit
from academy.core.models import utcnow
from academy.core.pagination import ListPagination, page_fields
from academy.extensions import db
from academy.institutions import exports, report_jobs
from academy.institutions.exercise_progress import exercise_records
from academy.institutions.permissions import can_view_staff
from academy.institutions.reporting import completion_report, default_period
from academy.learning import services as learning
from academy.learning.models import Course
from academy.organisations.models import Institution
from academy.organisations.services import scope_to_user

READERS = (Role.MANAGER, Role.ADMIN, INSTITUTION_TOKENS)
NOT_VISIBLE = "No institution with this id is visible to you."


def load_api_institution(institution_id: int) -> Institution:
    """The institution if the caller may read its people: another institution answers 404, a missing right 403."""
    caller = api_caller()
    institution = db.session.scalar(
        scope_to_user(db.select(Institution).where(Institution.id == institution_id), caller, Institution.id)
    )
    if institution is None:
        abort(404, message=NOT_VISIBLE)
    if not can_view_staff(caller, institution):
        abort(403, message="Only this institution's managers and platform admins may read its people.")
    return institution


def _audit_export(institution: Institution, kind: str, **detail) -> None:
    token = g.api_token
    audit.record(
        "export.download",
        actor=g.api_user,
        target=f"{kind} of {institution.name}"[:255],
        institution_id=institution.id,
        kind=kind,
        via="api",
        token=token.prefix,
        token_owner="institution" if g.api_user is None else "user",
        **detail,
    )


def _members_page(institution: Institution, query: dict):
    select = db.select(User).where(User.institution_id == institution.id)
    if "active" in query:
        select = select.where(User.active.is_(query["active"]))
    select = scope_to_user(select, api_caller(), User.institution_id).order_by(db.func.lower(User.name), User.id)
    return db.paginate(select, page=query["page"], per_page=query["per_page"], error_out=False, count=True)


def last_activity(users: list[User]) -> dict[int, datetime | None]:
    """The latest of last sign-in, lesson progress and quiz submission for each user."""
    latest: dict[int, datetime | None] = {user.id: user.last_login_at for user in users}
    for user_id, at in learning.latest_activity(user_ids=list(latest)).items():
        signed_in = latest.get(user_id)
        latest[user_id] = at if signed_in is None else max(signed_in, at)
    return latest


@blp.route("/institutions/<int:institution_id>/members", methods=["GET"])
@blp.arguments(InstitutionPageQuerySchema, location="query")
@blp.response(200, MemberPageSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Missing, revoked or unknown token")
@blp.alt_response(403, schema=ErrorSchema, description="Only institution managers, admins and institution tokens")
@blp.alt_response(404, schema=ErrorSchema, description="No such institution, or not the caller's own")
@blp.doc(security=BEARER)
@api_allow(*READERS)
def institution_members(query, institution_id):
    """The institution's people, by name: current members and (active=false) those who left."""
    institution = load_api_institution(institution_id)
    page = _members_page(institution, query)
    users = list(page.items)
    activity = last_activity(users)
    items = [
        {
            "id": u.id,
            "name": u.name,
            "email": u.email,
            "track": u.track.value if u.track else None,
            "roles": sorted(role.value for role in u.roles),
            "active": u.active,
            "last_activity": activity[u.id],
        }
        for u in users
    ]
    _audit_export(institution, "members", page=page.page)
    db.session.commit()
    return {"institution_id": institution.id, "items": items, **page_fields(page)}


@blp.route("/institutions/<int:institution_id>/progress", methods=["GET"])
@blp.arguments(InstitutionPageQuerySchema, location="query")
@blp.response(200, ProgressPageSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Missing, revoked or unknown token")
@blp.alt_response(403, schema=ErrorSchema, description="Only institution managers, admins and institution tokens")
@blp.alt_response(404, schema=ErrorSchema, description="No such institution, or not the caller's own")
@blp.doc(security=BEARER)
@api_allow(*READERS)
def institution_progress(query, institution_id):
    """Each person's enrolments (progress, completion, best quiz score, certificate) and exercises attended.

    The enrolment figures are those of the completion report, as they stand now."""
    institution = load_api_institution(institution_id)
    page = _members_page(institution, query)
    users = list(page.items)
    enrolments = _enrolments_of(institution, {u.id for u in users})
    exercises = exercise_records([u.id for u in users])
    items = [
        {
            "id": u.id,
            "name": u.name,
            "email": u.email,
            "track": u.track.value if u.track else None,
            "active": u.active,
            "enrolments": enrolments.get(u.id, []),
            "exercises": [_exercise(record) for record in exercises.get(u.id, [])],
        }
        for u in users
    ]
    _audit_export(institution, "progress", page=page.page)
    db.session.commit()
    return {"institution_id": institution.id, "items": items, **page_fields(page)}


def _enrolments_of(institution: Institution, user_ids: set[int]) -> dict[int, list[dict]]:
    if not user_ids:
        return {}
    report = completion_report(institution, date.min, utcnow().date())
    found: dict[int, list[dict]] = {}
    for row in report.people + report.left:
        if row.user_id in user_ids and row.course_slug:
            found.setdefault(row.user_id, []).append(
                {
                    "course_slug": row.course_slug,
                    "course_title": row.course_title,
                    "enrolled_at": row.enrolled_at,
                    "percent": row.progress_percent,
                    "status": row.status,
                    "completed_at": row.completed_at,
                    "best_score": row.best_score,
                    "certificate_code": row.certificate_code or None,
                }
            )
    return found


def _exercise(record: dict) -> dict:
    keys = (
        "session_id",
        "title",
        "scenario",
        "scenario_slug",
        "status",
        "date",
        "role",
        "role_title",
        "decisions",
        "score_percent_of_role",
    )
    return {key: record.get(key) for key in keys}


CSV_NOTE = (
    "CSV (format=csv): the same file as the report download, with formulas neutralised: titled "
    "sections for the header, totals, definitions, courses, staff, people who left and exercises."
)


@blp.route("/institutions/<int:institution_id>/completion-report", methods=["GET"])
@blp.arguments(CompletionReportQuerySchema, location="query")
@blp.response(200, CompletionReportSchema, description=f"The report as JSON (format=json). {CSV_NOTE}")
@blp.alt_response(
    200,
    schema={"type": "string"},
    content_type="text/csv",
    success=True,
    description=f"The report as JSON (format=json). {CSV_NOTE}",
)
@blp.alt_response(
    202,
    schema=JobSchema,
    description="format=pdf or xlsx: the file is being made; poll Location, "
    "which answers 303 to the file when it is ready",
)
@blp.alt_response(401, schema=ErrorSchema, description="Missing, revoked or unknown token")
@blp.alt_response(403, schema=ErrorSchema, description="Only institution managers, admins and institution tokens")
@blp.alt_response(404, schema=ErrorSchema, description="No such institution, or not the caller's own")
@blp.alt_response(422, schema=ErrorSchema, description="Bad dates (the end before the start), format or course")
@blp.doc(security=BEARER)
@api_allow(*READERS)
def institution_completion_report(query, institution_id):
    """The completion report for a period (from/to inclusive, UTC), as JSON or CSV: the same numbers as the
    manager's dashboard and the CSV, XLSX and PDF downloads. A PDF or XLSX (format=pdf, xlsx) is made by the job
    worker: 202 with the Location of its job."""
    institution = load_api_institution(institution_id)
    date_from, date_to = _period(query)
    course_ids = _course_ids(query.get("course"))
    if query["format"] in report_jobs.JOB_FORMATS:  # audited when the file is downloaded
        return accepted_report_job(institution, date_from, date_to, course_ids, query["format"])
    report = completion_report(institution, date_from, date_to, course_ids)
    _audit_export(
        institution,
        "completion-report",
        format=query["format"],
        period=str(report.period),
        verification_code=report.verification_code,
    )
    db.session.commit()
    if query["format"] == "csv":
        return _csv_response(report)
    return _report_json(report, query["page"], query["per_page"])


def _period(query: dict) -> tuple[date, date]:
    default = default_period()
    date_from, date_to = query.get("date_from", default.date_from), query.get("date_to", default.date_to)
    if date_to < date_from:
        message = (
            f"The end date ('to', {date_to.isoformat()}) is before the start date ('from', "
            f"{date_from.isoformat()}): choose an end on or after the start."
        )
        abort(422, message=message, errors={"query": {"to": [message]}})
    return date_from, date_to


def _course_ids(slugs: list[str] | None) -> list[int] | None:
    if not slugs:
        return None
    found = dict(db.session.execute(db.select(Course.slug, Course.id).where(Course.slug.in_(slugs))).all())
    unknown = sorted(set(slugs) - found.keys())
    if unknown:
        message = f"Unknown course: {', '.join(unknown)}."
        abort(422, message=message, errors={"query": {"course": [message]}})
    return [found[slug] for slug in slugs]


def _summary(row) -> dict:
    return {
        "slug": row.slug,
        "title": row.title,
        "staff": row.staff,
        "enrolled": row.enrolled,
        "complete": row.complete,
        "completed_in_period": row.completed_in_period,
        "completion_percent": row.completion_percent,
        "average_best_score": row.average_best_score,
        "certificates": row.certificates,
    }


def _report_json(report, page: int, per_page: int) -> dict:
    people = ListPagination(page=page, per_page=per_page, max_per_page=None, error_out=False, items=report.people)
    return {
        "institution_id": report.institution_id,
        "institution": report.institution_name,
        "country": report.country,
        "date_from": report.period.date_from,
        "date_to": report.period.date_to,
        "generated_at": report.generated_at,
        "verification_code": report.verification_code,
        "definitions": [{"term": term, "text": text} for term, text in report.definitions],
        "courses": [_summary(row) for row in report.summary],
        "all_courses": _summary(report.total),
        "totals": vars(report.totals),
        "people": [vars(row) for row in people.items],
        **page_fields(people),
        "left": [vars(row) for row in report.left],
        "exercises": [vars(row) for row in report.exercises],
    }


def _csv_response(report) -> Response:
    return Response(
        exports.report_csv(report),
        content_type=exports.MIMETYPES["csv"],
        headers={
            "Content-Disposition": f'attachment; filename="{exports.filename(report, "csv")}"',
            "X-Verification-Code": report.verification_code,
            "Cache-Control": "private, no-store",
        },
    )
