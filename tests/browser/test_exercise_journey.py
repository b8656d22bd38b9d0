"""A live exercise in real browsers: a trainer and three participants from join to after-action report."""
import pytest
from playwright.sync_api import expect

from academy.accounts.models import Role, Track
from academy.extensions import db
from academy.learning.sync import sync_content
from academy.tabletop.scenario_sync import sync_scenarios
from tests import factories
from tests.browser.steps import sign_in
from tests.content_fixture import ContentFolder
from tests.tabletop.scenario_fixture import ScenarioFolder

pytestmark = pytest.mark.browser

PLAYERS = {"diplomat": "Dana Diplomat", "cert": "Cedo Cert", "operator": "Olja Operator"}


def answer(page, inject_title, option, rationale):
    card = page.locator("article", has=page.get_by_role("heading", name=inject_title))
    card.get_by_label(option).check()
    card.get_by_label("Your rationale").fill(rationale)
    card.get_by_role("button", name="Send my answer").click()
    expect(card.get_by_text("Your answer, sent at")).to_be_visible()


def test_trainer_and_three_roles_run_a_scenario_to_the_report(open_context, live_world, tmp_path):
    sync_content(ContentFolder(tmp_path / "c").folder)
    sync_scenarios(ScenarioFolder(tmp_path / "c").folder, {"first-module"})
    factories.make_user("trainer@x.org", name="Tina Trainer", roles=(Role.TRAINER,), institution=None, track=None)
    for role, name in PLAYERS.items():
        factories.make_user(f"{role}@a.org", name=name, institution=live_world.institution_a, track=Track.CERT)
    db.session.commit()

    contexts = {who: open_context() for who in ["trainer", *PLAYERS]}
    pages = {who: context.new_page() for who, context in contexts.items()}
    for page in pages.values():
        page.set_default_timeout(10_000)
    trainer = pages["trainer"]
    sign_in(trainer, "trainer@x.org")
    trainer.goto("/exercises/new?scenario=fixture-scenario")
    trainer.get_by_label("Session title").fill("Browser drill")
    trainer.get_by_role("button", name="Create the session").click()
    code = trainer.get_by_test_id("join-code").inner_text().strip()

    for role in PLAYERS:
        page = pages[role]
        sign_in(page, f"{role}@a.org")
        page.goto("/join")
        page.get_by_label("Session code").fill(code)
        page.get_by_role("button", name="Join").click()
        expect(page.get_by_text("Waiting for the trainer to assign your role")).to_be_visible()

    # Once live, the console refreshes its regions: wait for that, or a click may land on a button being replaced.
    with trainer.expect_response(lambda response: response.url.endswith("/board")):
        trainer.reload()
    for role, name in PLAYERS.items():
        trainer.get_by_label(f"Role for {name}").select_option(role)
        trainer.get_by_role("button", name=f"Assign — {name}").click()
        expect(trainer.get_by_role("button", name=f"Reassign — {name}")).to_be_visible()
    for role in PLAYERS:  # the assignment reloads each player's page, which then waits for the start
        expect(pages[role].get_by_text("The exercise has not started yet.")).to_be_visible()
        expect(pages[role].get_by_text("Live: new injects appear by themselves")).to_be_visible()
    trainer.get_by_role("button", name="Start the exercise").click()
    expect(trainer.locator("[data-status]").first).to_have_attribute("data-status", "running")

    for role in PLAYERS:  # no reload: the page follows the session
        expect(pages[role].locator("#session-status")).to_have_text("Running")
        expect(pages[role].get_by_text("The exercise has not started yet.")).to_have_count(0)

    # The first inject goes to the CERT and the operator only, and reaches them without a reload.
    expect(pages["cert"].get_by_role("heading", name="Online banking portal unreachable")).to_be_visible()
    expect(pages["operator"].get_by_role("heading", name="Online banking portal unreachable")).to_be_visible()
    expect(pages["diplomat"].get_by_role("heading", name="Online banking portal unreachable")).to_have_count(0)
    answer(pages["cert"], "Online banking portal unreachable", "Call the neighbouring CERT", "Same botnet next door")

    trainer.get_by_role("button", name="Release next").click()  # the bank call, to the operator
    expect(pages["operator"].get_by_role("heading", name="The bank calls")).to_be_visible()
    answer(pages["operator"], "The bank calls", "Send the traffic to the scrubbing service", "Keep the portal up")

    trainer.get_by_role("button", name="Release next").click()  # the embassy note, to the diplomat
    expect(pages["diplomat"].get_by_role("heading", name="A note from the neighbour's embassy")).to_be_visible()
    answer(pages["diplomat"], "A note from the neighbour's embassy", "Offer consultations", "Facts before blame")
    expect(pages["cert"].get_by_role("heading", name="A note from the neighbour's embassy")).to_have_count(0)

    with trainer.expect_response(lambda response: response.url.endswith("/board")):
        trainer.reload()
    expect(trainer.locator("[data-participant-id]", has_text="Cedo Cert")).to_be_visible()
    trainer.get_by_label("Yes, end the exercise for everyone").check()
    trainer.get_by_role("button", name="End the exercise").click()
    for role in PLAYERS:  # the end, and the way to the debrief, without a reload
        expect(pages[role].locator("#session-status")).to_have_text("Ended")
        expect(pages[role].get_by_text("Live: new injects appear by themselves")).to_have_count(0)
        expect(pages[role].get_by_role("link", name="Your debrief")).to_be_visible()
    trainer.get_by_role("link", name="After-action report").click()
    expect(trainer.get_by_role("heading", name="Browser drill")).to_be_visible()
    expect(trainer.get_by_text("Same botnet next door")).to_be_visible()
    expect(trainer.get_by_text("Facts before blame")).to_be_visible()

    pages["diplomat"].get_by_role("link", name="Your debrief").click()
    expect(pages["diplomat"].get_by_text("Facts before blame")).to_be_visible()
    expect(pages["diplomat"].get_by_text("Same botnet next door")).to_have_count(0)
