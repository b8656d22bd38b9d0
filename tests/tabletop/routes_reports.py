"""Route-matrix rows for the after-action report, the debrief and the exercise API; and the short played session
(on a frozen clock) that the report tests read too."""
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from academy.extensions import db
from academy.tabletop import services, ticker
from academy.tabletop.models import Scenario
from tests import factories
from tests.route_rows import API_SIGNED_IN, row
from tests.tabletop.scenario_fixture import ScenarioFolder

T0 = datetime(2026, 11, 27, 9, 0, 0)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sync_fixture_scenario() -> Scenario:
    """The fixture scenario, synced from a throw-away folder (the course with `first-module` is synced already)."""
    from academy.tabletop.scenario_sync import sync_scenarios

    root = Path(tempfile.mkdtemp())
    try:
        sync_scenarios(ScenarioFolder(root).folder, {"first-module"})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))


def play(session, trainer, diplomat, cert, operator) -> None:
    """25 exercise minutes with a pause: three decisions (one slow), an unanswered inject, an ad-hoc inject,
    an observation and a score override. Participants are Participant rows with their roles assigned."""
    services.run_command(session, "start", trainer, now=at(0))
    ticker.tick(session, now=at(0))
    services.decide(session, cert, "alert-bank-portal", "call-neighbour", "Agreed line with the neighbour",
                    now=at(2))
    ticker.tick(session, now=at(9))
    services.decide(session, diplomat, "embassy-note", "consult", "Consult before anything public", now=at(10))
    services.decide(session, operator, "bank-call", "shut-down", "Protect the customer data first", now=at(20))
    services.observe(session, "The CERT used the agreed line at once.", trainer, inject_id="alert-bank-portal",
                     objective="cert-share").at = at(20)
    services.override_score(session, trainer, 1, "Shared the indicators in writing too",
                            objective="cert-share").at = at(20)
    services.run_command(session, "pause", trainer, now=at(21))
    services.run_command(session, "resume", trainer, now=at(31))
    ticker.tick(session, now=at(31))  # exercise minute 21: the follow-up, the news and the operator's log
    services.release_adhoc(session, "Press office call", "A journalist asks the ministry for a comment.",
                           {"participant": diplomat.id}, trainer, now=at(32))
    services.run_command(session, "end", trainer, now=at(35))


def played_session(w):
    """A session of w.trainer played by the learner (diplomat) and a colleague (CERT) of institution A and a guest
    operator: manager A's people took part, manager B's did not."""
    session = services.create_session(w.trainer, sync_fixture_scenario(), "Matrix exercise", allow_guests=True)
    people = {"diplomat": services.join(session, user=w.learner),
              "cert": services.join(session, user=factories.make_user(institution=w.institution_a)),
              "operator": services.join(session, guest_name="Guest Operator", guest_institution="Invented Bank")}
    for role, participant in people.items():
        services.assign_role(session, participant, role, w.trainer)
    play(session, w.trainer, **people)
    db.session.commit()
    return SimpleNamespace(session=session, **people)


def _api_report_url(w):
    return f"/api/v1/exercise-sessions/{played_session(w).session.id}/report"


def _url(suffix):
    return lambda w: f"/exercises/sessions/{played_session(w).session.id}/{suffix}"


# The trainer and admins read the whole report, manager A their own people's part; manager B's people did not take
# part, so for them the session does not exist; learners are no report readers at all.
REPORT_READERS = row(302, 403, 200, 200, 404, 200)
REPORT_READERS_API = row(401, 403, 200, 200, 404, 200)

ROUTES = {
    ("tabletop.report", "GET"): (_url("report"), REPORT_READERS),
    # Asked for with a POST: the job worker makes the PDF, and readers go to the job's page (303).
    ("tabletop.report_pdf", "POST"): (_url("report.pdf"), row(302, 403, 303, 303, 404, 303)),
    ("tabletop.report_json", "GET"): (_url("report.json"), REPORT_READERS),
    # Only the learner played: everyone else signed in gets 404; anonymous callers are asked to sign in.
    ("tabletop.debrief", "GET"): (_url("debrief"), row(302, 200, 404, 404, 404, 404)),
    ("api.list_scenarios", "GET"): (lambda w: "/api/v1/scenarios", API_SIGNED_IN),
    ("api.list_exercise_sessions", "GET"): (lambda w: "/api/v1/exercise-sessions", row(401, 403, 200, 200, 200, 200)),
    ("api.exercise_session_report", "GET"): (_api_report_url, REPORT_READERS_API),
}
