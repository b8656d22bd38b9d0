"""Route-matrix rows for the regional view, institution API tokens and the institution API; and the small builders
(enrolments, certificates, exercise attendance, institution tokens) that their tests share."""
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from academy.extensions import db
from academy.institutions.tokens import issue_institution_token
from academy.learning.models import Certificate, Enrolment, Module, QuizAttempt
from academy.tabletop import services as live
from academy.tabletop.models import LiveSession, Scenario
from tests.route_rows import ADMIN_200, row
from tests.tabletop.scenario_fixture import ScenarioFolder

# Managers of A and admins get in; learners and trainers are refused; manager B is told A does not exist.
MANAGERS_OF_A = row(302, 403, 403, 200, 404, 200)
MANAGERS_OF_A_REDIRECT = row(302, 403, 403, 302, 404, 302)
API_MANAGERS_OF_A = row(401, 403, 403, 200, 404, 200)


def enrol(user, course, *, completed_at=None, score=None, certificate=False) -> Enrolment:
    """An enrolment row, optionally complete, with a submitted quiz attempt and a certificate."""
    enrolment = Enrolment(user_id=user.id, course_id=course.id, completed_at=completed_at)
    db.session.add(enrolment)
    if score is not None:
        module = db.session.scalar(db.select(Module).where(Module.course_id == course.id).order_by(Module.position))
        db.session.add(QuizAttempt(user_id=user.id, module_id=module.id, number=1, total=8, correct=score * 8 // 100,
                                   score=score, passed=score >= module.pass_mark, submitted_at=completed_at
                                   or datetime(2026, 3, 1)))
    if certificate:
        db.session.add(Certificate(code=f"TEST-{user.id:04d}-{course.id:04d}", user_id=user.id, course_id=course.id,
                                   holder_name=user.name, course_title=course.title))
    db.session.flush()
    return enrolment


def fixture_scenario() -> Scenario:
    """The tabletop fixture scenario, synced (the fixture course, with `first-module`, must be synced already)."""
    from academy.tabletop.scenario_sync import sync_scenarios

    existing = db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))
    if existing is not None:
        return existing
    root = Path(tempfile.mkdtemp())
    try:
        sync_scenarios(ScenarioFolder(root).folder, {"first-module"})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))


def exercise(trainer, people, *, start=True, title="Regional drill") -> LiveSession:
    """A live session that `people` joined; started unless start=False (then nobody has attended it)."""
    session = live.create_session(trainer, fixture_scenario(), title, allow_guests=True)
    for person in people:
        live.join(session, user=person)
    if start:
        live.run_command(session, "start", trainer, now=datetime(2026, 11, 27, 9, 0))
    db.session.flush()
    return session


def institution_token_url(w) -> str:
    token, _raw = issue_institution_token(w.institution_a, "Matrix HR system")
    db.session.commit()
    return f"/institutions/{w.institution_a.id}/tokens/{token.id}/revoke"


ROUTES = {
    ("institutions.regional", "GET"): (lambda w: "/admin/regional", ADMIN_200),
    ("institutions.tokens", "GET"): (lambda w: f"/institutions/{w.institution_a.id}/tokens", MANAGERS_OF_A),
    # An empty form re-shows the page with its error.
    ("institutions.create_token", "POST"): (lambda w: f"/institutions/{w.institution_a.id}/tokens", MANAGERS_OF_A),
    ("institutions.revoke_token", "POST"): (institution_token_url, MANAGERS_OF_A_REDIRECT),
    ("api.institution_members", "GET"): (lambda w: f"/api/v1/institutions/{w.institution_a.id}/members",
                                         API_MANAGERS_OF_A),
    ("api.institution_progress", "GET"): (lambda w: f"/api/v1/institutions/{w.institution_a.id}/progress",
                                          API_MANAGERS_OF_A),
    ("api.institution_completion_report", "GET"): (
        lambda w: f"/api/v1/institutions/{w.institution_a.id}/completion-report", API_MANAGERS_OF_A),
}
