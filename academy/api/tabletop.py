"""API resources for live exercises: the scenarios, session summaries and after-action reports.

Managers see sessions in which their institution's people took part, and only those people: every query of
participants by institution goes through organisations.services.scope_to_user.
"""

from flask import g, url_for
from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema
from sqlalchemy.orm import selectinload

from academy.accounts.models import Role, User
from academy.api.auth import api_allow
from academy.api.schemas.common import PageQuerySchema
from academy.api.schemas.tabletop import AfterActionReportSchema, ExerciseSessionPageSchema, ScenarioSummarySchema
from academy.api.views import BEARER, PEOPLE_TOKENS_ONLY, blp
from academy.core.pagination import page_fields
from academy.core.permissions import SIGNED_IN
from academy.extensions import db
from academy.organisations.services import scope_to_user
from academy.tabletop import report as reports
from academy.tabletop.models import LiveSession, Participant, Scenario
from academy.tabletop.scenario import Scenario as ScenarioDefinition
from academy.tabletop.scenario import reaches

REPORT_ROLES = (Role.TRAINER, Role.MANAGER, Role.ADMIN)


@blp.route("/scenarios", methods=["GET"])
@blp.response(200, ScenarioSummarySchema(many=True))
@blp.alt_response(401, schema=ErrorSchema, description="Missing, revoked or unknown token")
@blp.alt_response(403, schema=ErrorSchema, description=PEOPLE_TOKENS_ONLY)
@blp.doc(security=BEARER)
@api_allow(SIGNED_IN)
def list_scenarios():
    """Scenarios that can be run, with their roles, objectives and how many injects each role sees."""
    rows = db.session.scalars(
        db.select(Scenario)
        .options(selectinload(Scenario.current_version))
        .where(Scenario.archived_at.is_(None), Scenario.current_version_id.is_not(None))
        .order_by(Scenario.title, Scenario.id)
    ).all()
    db.session.commit()
    return [_scenario_summary(row) for row in rows]


def _scenario_summary(row: Scenario) -> dict:
    version = row.current_version
    assert version is not None  # list_scenarios() selects only scenarios that have a current version
    scenario = ScenarioDefinition.from_definition(version.definition)
    return {
        "slug": scenario.slug,
        "title": scenario.title,
        "summary": scenario.summary,
        "duration_minutes": scenario.duration_minutes,
        "version": version.number,
        "roles": [{"code": r.code, "title": r.title} for r in scenario.roles],
        "objectives": [{"code": o.code, "role": o.role, "title": o.title} for o in scenario.objectives],
        "injects_per_role": {
            r.code: sum(1 for i in scenario.injects if reaches(i.audience, r.code)) for r in scenario.roles
        },
        "one_person_injects": sum(1 for i in scenario.injects if i.audience == "participant"),
        "total_injects": len(scenario.injects),
    }


@blp.route("/exercise-sessions", methods=["GET"])
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, ExerciseSessionPageSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Missing, revoked or unknown token")
@blp.alt_response(403, schema=ErrorSchema, description="Only trainers, institution managers and admins")
@blp.doc(security=BEARER)
@api_allow(*REPORT_ROLES)
def list_exercise_sessions(query):
    """Sessions the caller may report on, newest first: their own (trainers), all (admins), or those in which
    their institution's people took part (managers, who see only their own people in each)."""
    user = g.api_user
    page = db.paginate(
        _visible_sessions(user).order_by(LiveSession.created_at.desc(), LiveSession.id.desc()),
        page=query["page"],
        per_page=query["per_page"],
        error_out=False,
        count=True,
    )
    sessions = list(page.items)
    full = {s.id for s in sessions if user.is_admin or s.trainer_id == user.id}
    people = _participants(user, sessions, full)
    trainers = (
        dict(
            db.session.execute(db.select(User.id, User.name).where(User.id.in_({s.trainer_id for s in sessions}))).all()
        )
        if sessions
        else {}
    )
    items = [_session_summary(s, trainers.get(s.trainer_id, ""), people.get(s.id, []), s.id in full) for s in sessions]
    db.session.commit()
    return {"items": items, **page_fields(page)}


def _visible_sessions(user):
    """Sessions the user may see: everything for admins, else their own and those with their institution's people."""
    query = db.select(LiveSession)
    if user.is_admin:
        return query
    own = LiveSession.trainer_id == user.id
    if not user.has_role(Role.MANAGER):
        return query.where(own)
    with_people = scope_to_user(db.select(Participant.session_id), user, Participant.institution_id)
    return query.where(db.or_(own, LiveSession.id.in_(with_people)))


def _participants(user, sessions: list[LiveSession], full: set[int]) -> dict[int, list[Participant]]:
    """Participants per session in one or two queries: everyone where the caller has the full view, else their own."""
    found: dict[int, list[Participant]] = {}
    others = [s.id for s in sessions if s.id not in full]
    queries = [db.select(Participant).where(Participant.session_id.in_(sorted(full)))] if full else []
    if others:
        queries.append(
            scope_to_user(
                db.select(Participant).where(Participant.session_id.in_(others)), user, Participant.institution_id
            )
        )
    for query in queries:
        for participant in db.session.scalars(query.order_by(Participant.id)):
            found.setdefault(participant.session_id, []).append(participant)
    return found


def _session_summary(live: LiveSession, trainer: str, people: list[Participant], full: bool) -> dict:
    definition = live.scenario_version.definition
    titles = {role["code"]: role["title"] for role in definition["roles"]}
    return {
        "id": live.id,
        "title": live.title,
        "status": live.status,
        "scenario": {
            "slug": definition["slug"],
            "title": definition["title"],
            "version": live.scenario_version.number,
            "duration_minutes": definition["duration_minutes"],
        },
        "trainer": trainer,
        "created_at": reports.iso(live.created_at),
        "ended_at": reports.iso(live.ended_at),
        "scope": reports.FULL if full else "institution",
        "participants": [
            {
                "id": p.id,
                "name": p.name,
                "institution": p.institution_name,
                "role": p.role,
                "role_title": titles.get(p.role),
                "guest": p.user_id is None,
            }
            for p in people
        ],
        "report_url": url_for("api.exercise_session_report", session_id=live.id),
    }


@blp.route("/exercise-sessions/<int:session_id>/report", methods=["GET"])
@blp.response(200, AfterActionReportSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Missing, revoked or unknown token")
@blp.alt_response(403, schema=ErrorSchema, description="Only trainers, institution managers and admins")
@blp.alt_response(404, schema=ErrorSchema, description="No such session, or not one the caller may see")
@blp.doc(security=BEARER)
@api_allow(*REPORT_ROLES)
def exercise_session_report(session_id):
    """The after-action report as JSON (the data of the report page); a manager's holds only their own people."""
    user = g.api_user
    live = db.session.get(LiveSession, session_id)
    scope = reports.report_scope(user, live) if live is not None else None
    if scope is None:
        abort(404, message="No exercise session with this id is visible to you.")
    data = reports.after_action_report(live) if scope == reports.FULL else reports.report_for_institution(live, scope)
    reports.record_export(live, data, "api", actor=user)
    db.session.commit()
    return data
