"""Keyboard only, no mouse: a learner takes a quiz of every question type; a participant answers a live inject."""
import re

import pytest
from playwright.sync_api import expect

from academy.extensions import db
from academy.learning.models import Course
from academy.learning.services import enrol
from academy.learning.sync import sync_content
from academy.tabletop import engine
from academy.tabletop import services as tabletop
from academy.tabletop.models import Scenario, SessionEvent
from academy.tabletop.scenario_sync import sync_scenarios
from tests import factories
from tests.content_fixture import ContentFolder
from tests.tabletop.scenario_fixture import ScenarioFolder

pytestmark = pytest.mark.browser

# The focused element as the keyboard user meets it, once its focus style has finished appearing.
FOCUSED = """async () => {
  const el = document.activeElement;
  await Promise.all(el.getAnimations().map(animation => animation.finished));
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const group = el.closest("fieldset");
  const legend = group && group.querySelector("legend");
  const radios = el.type === "radio" ? Array.from(document.getElementsByName(el.name)) : [];
  return {
    tag: el.tagName, type: el.type || "", id: el.id, name: el.name || "", text: (el.innerText || "").trim(),
    label: el.labels && el.labels.length ? el.labels[0].innerText.trim() : "",
    legend: legend ? legend.innerText.trim() : "",
    choices: el.tagName === "SELECT" ? Array.from(el.options).map(o => o.text.trim())
      : radios.map(r => r.labels[0].innerText.trim()),
    index: el.tagName === "SELECT" ? el.selectedIndex : radios.indexOf(el),
    checked: Boolean(el.checked),
    chosen: el.tagName === "SELECT" ? el.options[el.selectedIndex].text.trim()
      : (radios.find(r => r.checked) || {labels: [{innerText: ""}]}).labels[0].innerText.trim(),
    indicator: (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== "none",
    top: box.top + window.scrollY, inMain: Boolean(el.closest("main")),
  };
}"""
RIGHT = {
    "When was the Budapest Convention": ["2001"],
    "Which of these are countries": ["Albania", "Serbia"],
    "The NIS Directive was adopted": ["True"],
    "Put these in order": {"first": "1", "second": "2", "third": "3"},
    "Match each country": {"Montenegro": "CIRT.ME", "Albania": "ALCIRT", "Croatia": "CERT.hr"},
    "Filler question": ["right"],
}


def focused(page) -> dict:
    info = page.evaluate(FOCUSED)
    # The page itself and <main> (the skip link's target, not a control) may take focus without a ring.
    assert info["tag"] in ("BODY", "MAIN") or info["indicator"], f"no visible focus indicator on {info}"
    return info


def press(page, key) -> dict:
    page.keyboard.press(key)
    return focused(page)


def tab_until(page, wanted, limit=40, key="Tab") -> dict:
    """Tab (or Shift+Tab) until the focused element satisfies `wanted`; every stop must show its focus."""
    for _ in range(limit):
        info = press(page, key)
        if wanted(info):
            return info
    raise AssertionError(f"{limit} presses of {key} never reached the element")


def sign_in(page, email):
    """Typing into the two fields and Enter: focus moves there as a click would, but without the mouse."""
    page.goto("/account/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(lambda address: "/account/login" not in address)


def expected_for(legend: str):
    return next(answer for prompt, answer in RIGHT.items() if prompt in legend)


def choose_radio(page, info) -> dict:
    """Arrow keys move the choice within a radio group; Space picks the one that has focus."""
    target = info["choices"].index(expected_for(info["legend"])[0])
    if target == info["index"]:
        info = press(page, "Space")
    for _ in range((target - info["index"]) % len(info["choices"])):
        info = press(page, "ArrowDown")
    assert info["checked"] and info["chosen"] == info["choices"][target], info
    return info


def choose_option(page, info) -> dict:
    """A closed select steps through its options with the arrow keys."""
    wanted = expected_for(info["legend"])
    key = re.search(r"“(.+)”", info["label"]).group(1) if "Position of" in info["label"] else info["label"]
    target = info["choices"].index(wanted[key])
    for _ in range(target - info["index"]):
        info = press(page, "ArrowDown")
    assert info["chosen"] == wanted[key], info
    return info


def answer_by_keyboard(page, info) -> list[dict]:
    """From the focused element on to the submit button, answering each control of the paper on the way."""
    stops = []
    if not info["legend"].startswith("Question"):
        info = tab_until(page, lambda i: i["legend"].startswith("Question"))
    while info["text"] != "Submit answers":
        if info["type"] == "radio":
            info = choose_radio(page, info)
        elif info["type"] == "checkbox":
            if info["label"] in expected_for(info["legend"]):
                info = press(page, "Space")
                assert info["checked"], info
        elif info["tag"] == "SELECT":
            info = choose_option(page, info)
        else:
            raise AssertionError(f"unexpected stop in the quiz: {info}")
        stops.append(info)
        info = press(page, "Tab")
    stops.append(info)
    return stops


def test_a_learner_takes_a_quiz_of_every_type_with_the_keyboard_only(page, live_world, tmp_path):
    sync_content(ContentFolder(tmp_path / "content").folder)
    enrol(live_world.learner, db.session.scalar(db.select(Course).where(Course.slug == "intro-course")))
    db.session.commit()
    sign_in(page, "learner@a.org")

    page.goto("/courses/intro-course/modules/first-module/quiz")
    assert press(page, "Tab")["text"] == "Skip to main content"
    tab_until(page, lambda i: i["text"] == "Start the quiz")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Submit answers")).to_be_visible()

    # The skip link is the first stop and takes the keyboard past the navigation, into the page's content.
    skip = press(page, "Tab")
    assert skip["text"] == "Skip to main content" and skip["top"] >= 0
    assert press(page, "Enter")["id"] == "main"
    first = press(page, "Tab")
    assert first["inMain"]

    stops = answer_by_keyboard(page, first)
    kinds = {stop["type"] or stop["tag"] for stop in stops}
    assert {"radio", "checkbox", "select-one", "submit"} <= kinds, kinds
    numbers = [int(re.match(r"Question (\d+)", stop["legend"]).group(1)) for stop in stops[:-1]]
    assert numbers == sorted(numbers) and set(numbers) == set(range(1, 9)), numbers
    tops = [stop["top"] for stop in stops]
    assert tops == sorted(tops), "the focus order must follow the page from top to bottom"

    # Shift+Tab goes back to the last answer, Tab forward again; then Enter submits.
    assert press(page, "Shift+Tab")["id"] == stops[-2]["id"]
    assert press(page, "Tab")["text"] == "Submit answers"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Result: The first module")).to_be_visible()
    expect(page.get_by_text("Passed", exact=True)).to_be_visible()
    expect(page.get_by_text("100%", exact=True)).to_be_visible()


@pytest.fixture
def drill(live_world, tmp_path):
    """A running session of the fixture scenario in which the world's learner plays the CERT."""
    root = tmp_path / "content"
    sync_content(ContentFolder(root).folder)
    sync_scenarios(ScenarioFolder(root).folder, {"first-module"})
    scenario = db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))
    live = tabletop.create_session(live_world.trainer, scenario, "Keyboard drill", allow_guests=False)
    player = tabletop.join(live, user=live_world.learner)
    tabletop.assign_role(live, player, "cert", live_world.trainer)
    tabletop.run_command(live, "start", live_world.trainer)
    db.session.commit()
    return live, player


def trainer_does(live, action, *args):
    """What the trainer's console would do, through the same services, committed so that the stream tells."""
    db.session.rollback()
    action(db.session.merge(live), *args)
    db.session.commit()


@pytest.mark.trainer_releases  # each inject arrives when the test releases it, while the page is open
def test_a_participant_reads_and_answers_a_live_inject_with_the_keyboard_only(page, live_world, drill):
    live, player = drill
    sign_in(page, "learner@a.org")
    page.goto(f"/exercises/play/{live.id}")
    expect(page.get_by_text("Live: new injects appear by themselves")).to_be_visible()
    assert press(page, "Tab")["text"] == "Skip to main content"
    assert press(page, "Enter")["id"] == "main"

    # A new inject is announced politely and does not move the keyboard user's focus.
    announcer = page.locator("#feed-announcer")
    expect(announcer).to_have_attribute("aria-live", "polite")
    trainer_does(live, tabletop.release, "alert-bank-portal", "manual", live_world.trainer)
    expect(announcer).to_have_text("New inject: Online banking portal unreachable")
    assert focused(page)["id"] == "main"

    # It is the next stop after the page's start: choose, explain, and meanwhile another inject arrives.
    radio = tab_until(page, lambda i: i["type"] == "radio", limit=10)
    assert radio["name"] == "option" and radio["id"].startswith("inject-alert-bank-portal-")
    choose = radio["choices"].index("Call the neighbouring CERT")
    for _ in range((choose - radio["index"]) % len(radio["choices"])):
        radio = press(page, "ArrowDown")
    if choose == radio["index"] and not radio["checked"]:
        radio = press(page, "Space")
    assert radio["chosen"] == "Call the neighbouring CERT"
    card = page.locator("#inject-alert-bank-portal")
    assert press(page, "Tab")["id"] == "inject-alert-bank-portal-rationale"
    assert press(page, "Tab")["text"] == "Send my answer"
    page.keyboard.press("Enter")  # without a rationale: refused, and the keyboard user stays where they were
    expect(card.locator(".decision-error .alert")).to_be_visible()
    assert focused(page)["text"] == "Send my answer", "a refused answer must not drop the focus"
    assert press(page, "Shift+Tab")["id"] == "inject-alert-bank-portal-rationale"
    page.keyboard.type("Same botnet")
    trainer_does(live, tabletop.release, "neighbour-confirms", "manual", live_world.trainer)
    expect(announcer).to_have_text("New inject: The neighbour confirms")
    still = focused(page)
    assert still["id"] == "inject-alert-bank-portal-rationale", "a new inject must not take the focus away"
    page.keyboard.type(" next door")
    assert press(page, "Tab")["text"] == "Send my answer"
    page.keyboard.press("Enter")
    expect(card.get_by_text("Your answer, sent at")).to_be_visible()
    assert focused(page)["id"] == "inject-alert-bank-portal-title", "after sending, focus goes to the answered card"
    db.session.rollback()
    decision = tabletop.state_of(db.session.merge(live)).decisions[(player.id, "alert-bank-portal")]
    assert (decision.payload["option_id"], decision.payload["rationale"]) == ("call-neighbour",
                                                                              "Same botnet next door")

    # An inject closed under the keyboard user's cursor hands the focus to its own heading, not to the page.
    trainer_does(live, tabletop.release, "joint-meeting", "manual", live_world.trainer)
    expect(announcer).to_have_text("New inject: Crisis meeting")
    assert tab_until(page, lambda i: i["id"] == "inject-joint-meeting-rationale", limit=6, key="Shift+Tab")
    page.keyboard.type("Draft")
    trainer_does(live, tabletop.close_inject, "joint-meeting", live_world.trainer)
    expect(page.locator("#inject-joint-meeting").get_by_text("Responses to this inject are closed.")).to_be_visible()
    assert focused(page)["id"] == "inject-joint-meeting-title"
    # And it is not trapped there: Tab moves on.
    onward = press(page, "Tab")
    assert onward["tag"] != "BODY" and onward["id"] != "inject-joint-meeting-title"


def test_the_trainer_pauses_and_resumes_from_the_keyboard_and_keeps_the_focus(page, live_world, drill):
    live, _player = drill
    sign_in(page, "trainer@a.org")
    page.goto(f"/exercises/sessions/{live.id}")
    pause = tab_until(page, lambda i: i["text"].strip() == "Pause", limit=60)
    assert pause["tag"] == "BUTTON"
    page.keyboard.press("Enter")
    # The console refreshes its regions after the command: the focus moves to the button that replaced Pause.
    expect(page.get_by_role("button", name="Resume")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Pause")).to_be_focused()
    db.session.rollback()
    kinds = db.session.scalars(db.select(SessionEvent.kind).where(SessionEvent.session_id == live.id)
                               .order_by(SessionEvent.seq)).all()
    assert kinds[-2:] == [engine.PAUSED, engine.RESUMED]
