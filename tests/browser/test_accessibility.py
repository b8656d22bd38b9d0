"""axe-core in Debian's chromium: no serious or critical violation on the main pages of every role."""
import os
import re
import threading
import time
from datetime import timedelta
from pathlib import Path
from random import Random
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from academy import create_app
from academy.accounts.models import Track
from academy.accounts.services import make_reset_token
from academy.core.background import RUNNING, BackgroundJob
from academy.core.models import utcnow
from academy.extensions import db
from academy.institutions import bulk
from academy.institutions.tokens import issue_institution_token
from academy.learning import quiz
from academy.learning import services as learning
from academy.learning.certificates import issue_certificate, revoke
from academy.learning.models import Course
from academy.learning.sync import sync_content
from academy.organisations.services import ensure_countries
from academy.tabletop import services as tabletop
from academy.tabletop.models import Scenario
from academy.tabletop.scenario_sync import sync_scenarios
from tests import factories
from tests.conftest import build_settings
from tests.content_fixture import ContentFolder
from tests.tabletop.scenario_fixture import ScenarioFolder

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # from npm (package.json)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = {"serious", "critical"}
# Run in the page after axe-core's source: the violations, each with the nodes that break the rule.
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html, summary: n.failureSummary}))}));
}"""
BULK_CSV = ("email,name,track,courses\n"
            "new.person@a.org,Nova Person,cert,intro-course\n"
            "not-an-address,Broken Row,astronaut,no-such-course\n"
            "new.person@a.org,Twice Listed,cert,intro-course\n")


@pytest.fixture(scope="module")
def axe():
    """axe-core's source. Without it these tests fail, saying how to install it; the rest of the suite runs."""
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed: {AXE.relative_to(ROOT)} is missing. Install it with `npm ci` in "
                    "the checkout (`make install-test` runs it).", pytrace=False)
    return AXE.read_text("utf-8")


def audit(page, axe) -> list[dict]:
    """axe's serious and critical violations on the page as it is now.

    `evaluate` runs outside the page's Content-Security-Policy, where an injected <script> tag would be refused.
    The page is audited once loaded: before its last stylesheet applies, the header's buttons stand on no background
    (a page reached by a form is audited as soon as the click returns, which can be before).
    """
    page.wait_for_load_state("load")
    page.evaluate(axe)
    return [v for v in page.evaluate(RUN_AXE, AXE_TAGS) if v["impact"] in BLOCKING]


def report(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']} ({violation['url']})")
        for node in violation["nodes"][:8]:
            lines.append(f"    at {node['target']}: {node['html'][:300]}")
            lines.append("      " + node["summary"].replace("\n", "\n      "))
    return "\n".join(lines)


def _seed_learning(world):
    course = db.session.scalar(db.select(Course).where(Course.slug == "intro-course"))
    module = learning.live_modules(course)[0]
    enrolment = learning.enrol(world.learner, course)
    for lesson in learning.course_lessons(course):
        learning.mark_done(world.learner, enrolment, lesson)
    submitted = quiz.start_attempt(world.learner, module, Random(1))
    quiz.submit(submitted, {})  # all wrong: the result page shows feedback on every question
    paper = quiz.start_attempt(world.learner, module, Random(2))
    certificate = issue_certificate(world.learner, course)
    revoked = issue_certificate(factories.make_user("former@a.org", institution=world.institution_a), course)
    revoke(revoked, "Issued by mistake.", world.admin)
    return {"module": module.slug, "result": submitted.id, "paper": paper.id, "certificate": certificate.code,
            "revoked": revoked.code}


def _seed_exercises(world):
    scenario = db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))
    colleague = factories.make_user("cert.colleague@a.org", name="Cora Colleague", institution=world.institution_a,
                                    track=Track.CERT)
    sessions = {}
    for name in ("running", "ended"):
        live = tabletop.create_session(world.trainer, scenario, f"The {name} drill", allow_guests=True)
        players = [tabletop.join(live, user=user) for user in (world.learner, colleague)]
        for player in players:
            tabletop.assign_role(live, player, "cert", world.trainer)
        tabletop.join(live, guest_name="Gordana Guest", guest_institution="A ministry")
        tabletop.run_command(live, "start", world.trainer)
        tabletop.release(live, "alert-bank-portal", "manual", world.trainer)
        tabletop.decide(live, players[1], "alert-bank-portal", "call-neighbour", "The same botnet next door.")
        sessions[name] = live
    tabletop.observe(sessions["ended"], "The CERT called the neighbour early.", world.trainer)
    tabletop.run_command(sessions["ended"], "end", world.trainer)
    return {"running": sessions["running"].id, "ended": sessions["ended"].id,
            "join_code": sessions["running"].join_code}


def _seed(root: Path) -> dict:
    """One world for the whole module: every page below shows real data of its kind."""
    sync_content(ContentFolder(root / "content").folder)
    sync_scenarios(ScenarioFolder(root / "content").folder, {"first-module"})
    world = factories.make_world()
    ids = {"institution": world.institution_a.id, "user": world.learner.id}
    ids.update(_seed_learning(world))
    ids.update(_seed_exercises(world))
    issue_institution_token(world.institution_a, "Reporting robot")
    ids["import"] = bulk.store_upload(world.institution_a, world.manager_a, "staff.csv",
                                      bulk.parse_csv(BULK_CSV.encode())).id
    ids["reset_token"] = make_reset_token(world.learner)
    ids["job"] = _report_job(world)
    db.session.commit()
    return ids


def _report_job(world) -> int:
    """A completion-report PDF that the job worker is still making, half done: its page with a moving progress bar."""
    job = BackgroundJob(kind="completion_report", requested_by_id=world.manager_a.id,
                        institution_id=world.institution_a.id, request_key="accessibility", status=RUNNING,
                        progress=45, started_at=utcnow(), expires_at=utcnow() + timedelta(days=7),
                        params={"format": "pdf", "from": "2026-01-01", "to": "2026-06-30", "course_ids": None})
    db.session.add(job)
    db.session.flush()
    return job.id


def _sign_in(browser, url, email) -> dict:
    """The cookies of a signed-in browser, by posting the login form without rendering any page."""
    context = browser.new_context(base_url=url)
    form = context.request.get("/account/login").text()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    response = context.request.post("/account/login", form={"csrf_token": token, "email": email,
                                                            "password": factories.PASSWORD})
    assert "/account/login" not in response.url, f"{email} could not sign in"
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture(scope="module")
def site(browser, tmp_path_factory):
    """A seeded academy served in a thread for the whole module, and a signed-in browser state per role."""
    root = tmp_path_factory.mktemp("accessibility")
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{root}/browser.db"
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=url, WTF_CSRF_ENABLED=True, TABLETOP_KEEPALIVE_SECONDS=1))
    with app.app_context():
        db.drop_all()
        db.create_all()
        ensure_countries()
        ids = _seed(root)
        before = set(threading.enumerate())
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        states = {role: _sign_in(browser, base, email) for role, email in
                  (("learner", "learner@a.org"), ("trainer", "trainer@a.org"), ("manager", "manager@a.org"),
                   ("admin", "admin@academy.org"))}
        yield SimpleNamespace(url=base, ids=ids, states=states)
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        # Live streams end at their next keepalive; their database work must finish before the tables go.
        deadline = time.monotonic() + 5
        for request_thread in set(threading.enumerate()) - before:
            request_thread.join(timeout=max(0.0, deadline - time.monotonic()))
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture(scope="module")
def tabs(browser, site):
    """One browser page per role (None: anonymous), opened on first use and kept for the module."""
    opened, contexts = {}, []

    def tab(role=None):
        if role not in opened:
            context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900},
                                          storage_state=site.states[role] if role else None)
            context.set_default_timeout(10_000)
            contexts.append(context)
            opened[role] = context.new_page()
        return opened[role]

    yield tab
    for context in contexts:
        context.close()


DUPLICATE_IDS = """() => {
  const counts = {};
  document.querySelectorAll("[id]").forEach(el => { counts[el.id] = (counts[el.id] || 0) + 1; });
  return Object.keys(counts).filter(id => counts[id] > 1);
}"""


def check(page, axe):
    violations = audit(page, axe)
    assert not violations, f"{page.url}\n{report(violations)}"
    # axe no longer reports repeated ids unless ARIA points at them; a label's `for` or a skip link may.
    assert page.evaluate(DUPLICATE_IDS) == [], f"{page.url}: repeated ids"


PAGES = [
    ("anonymous", "home", "/"),
    ("anonymous", "login", "/account/login"),
    ("anonymous", "register", "/account/register"),
    ("anonymous", "password-reset-request", "/account/reset"),
    ("anonymous", "password-reset", "/account/reset/{reset_token}"),
    ("anonymous", "verify-certificate", "/verify/{certificate}"),
    ("anonymous", "verify-revoked-certificate", "/verify/{revoked}"),
    ("anonymous", "verify-unknown-certificate", "/verify/NOSUCHCODE"),
    ("anonymous", "not-found", "/no-such-page"),
    ("anonymous", "join", "/join"),
    ("anonymous", "join-as-guest", "/join/{join_code}"),
    ("learner", "my-learning-and-certificates", "/learning"),
    ("learner", "catalogue", "/courses"),
    ("learner", "course", "/courses/intro-course"),
    ("learner", "lesson", "/courses/intro-course/lessons/first-lesson"),
    ("learner", "lesson-with-table", "/courses/intro-course/lessons/second-lesson"),
    ("learner", "quiz-overview", "/courses/intro-course/modules/{module}/quiz"),
    ("learner", "quiz-paper", "/quiz/attempts/{paper}"),
    ("learner", "quiz-result", "/quiz/attempts/{result}"),
    ("learner", "account", "/account/"),
    ("learner", "change-password", "/account/password"),
    ("learner", "participant-join", "/join"),
    ("learner", "participant-live-view", "/exercises/play/{running}"),
    ("learner", "participant-debrief", "/exercises/sessions/{ended}/debrief"),
    ("trainer", "exercise-sessions", "/exercises"),
    ("trainer", "new-session", "/exercises/new"),
    ("trainer", "new-session-for-scenario", "/exercises/new?scenario=fixture-scenario"),
    ("trainer", "live-console", "/exercises/sessions/{running}"),
    ("trainer", "ended-console", "/exercises/sessions/{ended}"),
    ("trainer", "after-action-report", "/exercises/sessions/{ended}/report"),
    ("manager", "institution", "/institutions/{institution}"),
    ("manager", "dashboard", "/institutions/{institution}/dashboard"),
    ("manager", "completion-report", "/institutions/{institution}/reports/completion"),
    ("manager", "report-file-job", "/jobs/{job}"),
    ("manager", "bulk-upload", "/institutions/{institution}/enrolments/upload"),
    ("manager", "bulk-preview-with-problems", "/institutions/{institution}/enrolments/imports/{import}"),
    ("manager", "tokens", "/institutions/{institution}/tokens"),
    ("admin", "overview", "/admin/"),
    ("admin", "users", "/admin/users"),
    ("admin", "user-edit", "/admin/users/{user}"),
    ("admin", "institutions", "/admin/institutions"),
    ("admin", "institution-new", "/admin/institutions/new"),
    ("admin", "institution-edit", "/admin/institutions/{institution}/edit"),
    ("admin", "audit-log", "/admin/audit"),
    ("admin", "regional-view", "/admin/regional"),
    ("admin", "certificates", "/admin/certificates"),
]
NOT_FOUND = {"not-found", "verify-unknown-certificate"}


@pytest.mark.parametrize(("role", "name", "path"), PAGES, ids=[f"{role}-{name}" for role, name, _path in PAGES])
def test_page_has_no_serious_violation_and_a_skip_link_first(axe, tabs, site, role, name, path):
    page = tabs(None if role == "anonymous" else role)
    response = page.goto(path.format(**site.ids))
    assert response.status == (404 if name in NOT_FOUND else 200), page.url
    check(page, axe)
    page.keyboard.press("Tab")
    first = page.evaluate("() => [document.activeElement.textContent.trim(), document.activeElement.hash]")
    assert first == ["Skip to main content", "#main"], f"the first tab stop is {first}"


def _login_with_wrong_password(page, site):
    page.goto("/account/login")
    page.get_by_label("E-mail address").fill("nobody@a.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()


def _register_with_mistakes(page, site):
    page.goto("/account/register")
    page.get_by_label("Invitation code").fill("WRONGCODE1")
    page.get_by_label("Work e-mail address").fill("not an address")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Repeat the password").fill("different")
    page.get_by_role("button", name="Create account").click()


def _join_with_unknown_code(page, site):
    page.goto("/join")
    page.get_by_label("Session code").fill("ZZZZZZ")
    page.get_by_role("button", name="Join").click()


def _submit_an_empty_quiz(page, site):
    page.goto(f"/quiz/attempts/{site.ids['paper']}")
    page.get_by_role("button", name="Submit answers").click()


def _upload_an_unreadable_file(page, site):
    page.goto(f"/institutions/{site.ids['institution']}/enrolments/upload")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "staff.csv", "mimeType": "text/csv", "buffer": b"\x00\xff\x00 not a table"}])
    page.get_by_role("button", name="Upload and preview").click()


def _show_only_problem_rows(page, site):
    page.goto(f"/institutions/{site.ids['institution']}/enrolments/imports/{site.ids['import']}")
    page.get_by_role("link", name="Only rows with problems").click()


ERROR_STATES = [
    ("anonymous", "login-with-wrong-password", _login_with_wrong_password),
    ("anonymous", "register-with-mistakes", _register_with_mistakes),
    ("anonymous", "join-with-unknown-code", _join_with_unknown_code),
    ("learner", "quiz-submitted-unanswered", _submit_an_empty_quiz),
    ("manager", "bulk-upload-of-unreadable-file", _upload_an_unreadable_file),
    ("manager", "bulk-preview-problem-rows", _show_only_problem_rows),
]


@pytest.mark.parametrize(("role", "act"), [(role, act) for role, _name, act in ERROR_STATES],
                         ids=[f"{role}-{name}" for role, name, _act in ERROR_STATES])
def test_error_state_has_no_serious_violation(axe, tabs, site, role, act):
    """Error styling (red text, warning borders, alerts) must keep its contrast and its labels."""
    page = tabs(None if role == "anonymous" else role)
    act(page, site)
    expect(page.locator(".alert-danger, .alert-warning, .invalid-feedback, .table-danger").first).to_be_visible()
    check(page, axe)


PROBE = """<!doctype html><html lang="en"><head><title>Probe</title></head><body><main>
<h1>Probe</h1><img src="/static/none.png"><button type="button"><i class="bi bi-x"></i></button>
<p id="inline">inline scripts blocked</p><script>document.getElementById("inline").textContent = "ran";</script>
</main></body></html>"""


def test_the_check_runs_under_a_strict_csp_and_catches_violations(axe, tabs, site):
    """The audit must work when the academy forbids inline script, and must fail on a page that is broken."""
    page = tabs()
    page.route("**/accessibility-probe", lambda route: route.fulfill(
        status=200, body=PROBE, headers={"Content-Type": "text/html", "Content-Security-Policy": "script-src 'self'"}))
    page.goto("/accessibility-probe")
    expect(page.locator("#inline")).to_have_text("inline scripts blocked")
    assert {v["id"] for v in audit(page, axe)} >= {"image-alt", "button-name"}
