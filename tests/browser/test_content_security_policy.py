"""Main pages of every role under the Content Security Policy in chromium: no violation, live pages included."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from academy.core.models import utcnow
from academy.extensions import db
from academy.learning import services as learning
from academy.learning.certificates import issue_certificate
from academy.learning.models import Course
from academy.learning.sync import sync_content
from academy.tabletop import services, ticker
from academy.tabletop.models import Scenario
from academy.tabletop.scenario_sync import sync_scenarios
from tests.content_fixture import ContentFolder
from tests.tabletop.scenario_fixture import ScenarioFolder

pytestmark = pytest.mark.browser

# Runs before any page script: every violation the browser reports lands in a list the test reads.
LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.effectiveDirective + " blocked " + (event.blockedURI || "inline") + " at "
                              + (event.sourceFile || "the page") + ":" + event.lineNumber);
});
"""


class Visitor:
    """One browser context, signed in as `user` if given, whose CSP violations, reported or logged, are collected."""

    def __init__(self, browser, live_server, app, user=None):
        self.context = browser.new_context(base_url=live_server)
        self.context.add_init_script(LISTENER)
        if user is not None:  # the session cookie the sign-in form would set: five sign-ins cost seconds
            cookie = app.session_interface.get_signing_serializer(app).dumps({"_user_id": user.get_id(),
                                                                              "_fresh": True})
            self.context.add_cookies([{"name": app.config["SESSION_COOKIE_NAME"], "value": cookie,
                                       "url": live_server}])
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.violations: list[str] = []
        self.page.on("console", self._console)

    def _console(self, message):
        if "Content Security Policy" in message.text:
            self.violations.append(f"{self.page.url}: {message.text}")

    def collect(self):
        """The violations the page in front of us reported; call before leaving it."""
        self.violations += [f"{self.page.url}: {text}" for text in self.page.evaluate("window.__cspViolations")]
        self.page.evaluate("window.__cspViolations = []")

    def visit(self, *urls):
        for url in urls:
            response = self.page.goto(url)
            assert response.status == 200 and response.request.redirected_from is None, f"{url}: {response.status}"
            self.collect()


def prepare(world, tmp_path):
    """Content, a certificate, and a running exercise whose operator is the world's learner."""
    sync_content(ContentFolder(tmp_path / "c").folder)
    sync_scenarios(ScenarioFolder(tmp_path / "c").folder, {"first-module"})
    course = db.session.scalar(db.select(Course).where(Course.slug == "intro-course"))
    learning.enrol(world.learner, course)
    certificate = issue_certificate(world.learner, course)
    scenario = db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))
    live = services.create_session(world.trainer, scenario, "CSP drill", allow_guests=True)
    player = services.join(live, user=world.learner)
    services.assign_role(live, player, "operator", world.trainer)
    start = utcnow() - timedelta(seconds=30)
    services.run_command(live, "start", world.trainer, now=start)
    ticker.tick(live, now=start)  # the first inject reaches the operator
    db.session.commit()
    return live, certificate


def test_main_pages_of_every_role_run_without_a_single_violation(browser, live_server, live_app, live_world,
                                                                 tmp_path):
    live, certificate = prepare(live_world, tmp_path)
    a = live_world.institution_a.id
    trainer = Visitor(browser, live_server, live_app, live_world.trainer)
    learner = Visitor(browser, live_server, live_app, live_world.learner)
    visitors = [trainer, learner]
    try:
        # The live pages: both streams connected, an inject released and answered while they watch.
        trainer.visit("/exercises")
        trainer.page.goto(f"/exercises/sessions/{live.id}")
        expect(trainer.page.locator("[data-live-status]")).to_have_text("Live updates: on")
        learner.page.goto(f"/exercises/play/{live.id}")
        expect(learner.page.get_by_text("Live: new injects appear by themselves")).to_be_visible()
        trainer.page.get_by_role("button", name="Release next").click()
        card = learner.page.locator("article", has=learner.page.get_by_role("heading", name="The bank calls"))
        card.get_by_label("Send the traffic to the scrubbing service").check()
        card.get_by_label("Your rationale").fill("Keep the portal up")
        card.get_by_role("button", name="Send my answer").click()
        expect(card.get_by_text("Your answer, sent at")).to_be_visible()
        expect(trainer.page.get_by_text("Keep the portal up").first).to_be_attached()
        trainer.collect()
        learner.collect()

        # A lesson with a link and one with a table (alignment as a class, not a style attribute).
        learner.visit("/learning", "/courses/intro-course", "/courses/intro-course/lessons/first-lesson",
                      "/courses/intro-course/lessons/second-lesson")
        expect(learner.page.locator(".lesson-body table td.text-center").first).to_be_visible()
        learner.visit("/courses/intro-course/modules/first-module/quiz")
        manager = Visitor(browser, live_server, live_app, live_world.manager_a)
        admin = Visitor(browser, live_server, live_app, live_world.admin)
        anonymous = Visitor(browser, live_server, live_app)
        visitors += [manager, admin, anonymous]
        manager.visit(f"/institutions/{a}", f"/institutions/{a}/dashboard", f"/institutions/{a}/enrolments/upload")
        admin.visit("/admin/", "/admin/users", "/admin/audit", "/admin/certificates")
        anonymous.visit("/", "/account/login", f"/verify/{certificate.code}")
        violations = [violation for visitor in visitors for violation in visitor.violations]
        assert not violations, "\n".join(violations)

        # The listener works: markup the policy forbids, added to a page, is reported.
        anonymous.page.evaluate("document.body.insertAdjacentHTML('beforeend', "
                                "'<span style=\"color: red\">x</span><img src=\"x\" onerror=\"void 0\">')")
        anonymous.page.wait_for_function("window.__cspViolations.length >= 2")
        anonymous.collect()
        assert any("style-src" in v for v in anonymous.violations)
        assert any("script-src" in v for v in anonymous.violations)
    finally:
        for visitor in visitors:
            visitor.context.close()
