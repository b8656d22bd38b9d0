"""The academy in the region's languages, in a real browser: a learner whose browser speaks Macedonian registers,
switches to Albanian, takes the translated quiz and downloads an Albanian certificate; a participant whose browser
speaks Serbian Cyrillic plays the translated scenario. axe-core finds no serious violation on the translated pages.

The fixture course and scenario are "translated" by a stand-in (each text with a language mark before it): what is
tested is that the right text reaches the right person, not the words themselves.
"""

import io
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from academy.accounts.models import Role, Track
from academy.core.content.files import Problems
from academy.core.content.translation_sync import sync_translations
from academy.core.content.translations import write_file
from academy.extensions import db
from academy.learning import translations as course_translations
from academy.learning.content import load_content
from academy.learning.models import Question
from academy.learning.sync import sync_content
from academy.tabletop import translations as scenario_translations
from academy.tabletop.scenario_files import load_scenarios
from academy.tabletop.scenario_sync import sync_scenarios
from tests import factories
from tests.browser.steps import sign_in
from tests.browser.test_accessibility import audit, axe, report  # noqa: F401 - axe is a fixture
from tests.content_fixture import ContentFolder
from tests.tabletop.scenario_fixture import ScenarioFolder
from tests.translation_files import translate_po

pytestmark = pytest.mark.browser

MARKS = {"sq": "SQ·", "sr-Cyrl": "СР·"}


def stand_in(path: Path, tag: str, segments, source: str) -> None:
    """Write `path` translating every segment as the English with the language's mark before it (Markdown markers
    kept), as a translator's PO editor would save it."""
    write_file(path, tag, segments, None, source)

    def marked(context, english):
        marker = next((m for m in ("## ", "| ", "- ") if english.startswith(m)), "")
        return marker + MARKS[tag] + " " + english[len(marker):]

    translate_po(path, marked)


def translated_content(root: Path) -> None:
    courses = ContentFolder(root).folder
    tree = load_content(courses)
    stand_in(courses / "intro-course" / "translations" / "sq.po", "sq",
             course_translations.course_segments(tree.courses[0]), "course:intro-course")
    sync_content(courses)
    exercises = ScenarioFolder(root).folder
    scenarios, problems = load_scenarios(exercises, {"first-module"})
    assert problems == []
    stand_in(exercises / "translations" / "fixture-scenario" / "sr-Cyrl.po", "sr-Cyrl",
             scenario_translations.scenario_segments(scenarios[0]), "scenario:fixture-scenario")
    sync_scenarios(exercises, {"first-module"})
    found = Problems()
    loaded = scenario_translations.load_translations(exercises, scenarios, found)
    assert found.items == []
    sync_translations((scenario_translations.KIND, "coverage-scenario"), scenario_translations.translated_rows(loaded))
    db.session.commit()


def answer_by_ids(page) -> None:
    """Answer every question right, by the ids of the options (the same in every language)."""
    fieldsets = page.locator("fieldset")
    expect(fieldsets.first).to_be_visible()
    for index in range(fieldsets.count()):
        fieldset = fieldsets.nth(index)
        name = fieldset.locator("input, select").first.get_attribute("name")
        question_id = int(name.split("-")[1])
        db.session.expire_all()
        question = db.session.get(Question, question_id)
        field, data = f"q-{question_id}", question.data
        if question.type == "true_false":
            fieldset.locator(f"input[value='{str(data['answer']).lower()}']").check()
        elif question.type in ("single", "multiple"):
            for option in data["options"]:
                if option["correct"]:
                    fieldset.locator(f"input[value='{option['id']}']").check()
        elif question.type == "ordering":
            for position, item in enumerate(data["items"], start=1):
                fieldset.locator(f"select[name='{field}-{item['id']}']").select_option(str(position))
        else:
            for pair in data["pairs"]:
                fieldset.locator(f"select[name='{field}-{pair['id']}']").select_option(pair["right_id"])
    page.locator("form button[type=submit]").last.click()


def test_a_macedonian_browser_switches_to_albanian_passes_the_quiz_and_gets_an_albanian_certificate(
    open_context, live_world, tmp_path, axe
):
    translated_content(tmp_path / "content")
    page = open_context(locale="mk-MK").new_page()

    page.goto("/account/register")
    expect(page.locator("html")).to_have_attribute("lang", "mk")
    expect(page.get_by_role("heading", level=1)).to_have_text("Создајте сметка")  # the Macedonian interface
    page.locator("input[name=invitation_code]").fill(live_world.institution_a.invitation_code)
    page.locator("input[name=name]").fill("Arta Learner")
    page.locator("input[name=email]").fill("arta@a.org")
    page.locator("select[name=track]").select_option("cert")
    page.locator("input[name=password]").fill("a long enough passphrase")
    page.locator("input[name=confirm]").fill("a long enough passphrase")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", "mk")
    assert audit(page, axe) == [], report(audit(page, axe))

    page.locator("#language-choice").select_option("sq")
    page.locator(".language-switcher button").click()
    expect(page.locator("html")).to_have_attribute("lang", "sq")
    page.goto("/courses/intro-course")
    expect(page.get_by_role("heading", level=1)).to_contain_text("SQ· An introduction")
    page.locator("form[action$='/enrol'] button").click()

    page.goto("/courses/intro-course/lessons/first-lesson")
    expect(page.get_by_role("heading", level=1)).to_have_text("SQ· The first lesson")
    expect(page.locator(".translation-note")).to_contain_text("anglisht")  # a draft: the English is authoritative
    assert audit(page, axe) == [], report(audit(page, axe))
    for lesson in ("first-lesson", "second-lesson"):
        page.goto(f"/courses/intro-course/lessons/{lesson}")
        page.locator("form[action$='/done'] button").click()

    page.goto("/courses/intro-course/modules/first-module/quiz")
    expect(page.get_by_role("heading", level=1)).to_contain_text("SQ· The first module")
    page.locator("form[action$='/quiz/start'] button").click()
    expect(page.locator("fieldset legend").first).to_contain_text("SQ·")  # the translated questions
    assert audit(page, axe) == [], report(audit(page, axe))
    answer_by_ids(page)
    expect(page.locator("main")).to_contain_text("100")

    page.goto("/courses/intro-course")
    with page.expect_download() as download_info:
        page.locator("a[href$='.pdf']").first.click()
    pdf = Path(download_info.value.path()).read_bytes()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Arta Learner" in text and "SQ· An introduction" in text
    assert "Certifikat" in text and "Certificate of completion" in text  # Albanian, with the English beneath
    page.goto("/languages")  # what each language has, in Albanian
    expect(page.locator("#language-sq")).to_contain_text("Shqip")
    assert audit(page, axe) == [], report(audit(page, axe))
    page.wait_for_load_state("networkidle")  # no file left half sent when the browser goes


def test_a_serbian_cyrillic_participant_plays_the_translated_scenario(open_context, live_world, tmp_path, axe):
    translated_content(tmp_path / "content")
    factories.make_user("trainer@x.org", name="Tina Trainer", roles=(Role.TRAINER,), institution=None, track=None)
    factories.make_user("cert@a.org", name="Ћира Церт", institution=live_world.institution_a, track=Track.CERT)
    db.session.commit()
    contexts = {"trainer": open_context(), "cert": open_context(locale="sr-Cyrl-RS")}
    pages = {who: context.new_page() for who, context in contexts.items()}
    for who, page in pages.items():
        page.set_default_timeout(10_000)
        sign_in(page, f"{who}@{'x' if who == 'trainer' else 'a'}.org")
    trainer, player = pages["trainer"], pages["cert"]
    trainer.goto("/exercises/new?scenario=fixture-scenario")
    trainer.get_by_label("Session title").fill("Регионална вежба")
    trainer.get_by_role("button", name="Create the session").click()
    code = trainer.get_by_test_id("join-code").inner_text().strip()

    player.goto("/join")
    expect(player.locator("html")).to_have_attribute("lang", "sr-Cyrl")
    player.locator("input[name=code]").fill(code)
    player.locator("main form button[type=submit]").click()
    with trainer.expect_response(lambda response: response.url.endswith("/board")):
        trainer.reload()
    trainer.get_by_label("Role for Ћира Церт").select_option("cert")
    trainer.get_by_role("button", name="Assign — Ћира Церт").click()
    trainer.get_by_role("button", name="Start the exercise").click()
    expect(trainer.locator("[data-status]").first).to_have_attribute("data-status", "running")

    player.reload()
    expect(player.get_by_role("heading", name="СР· Online banking portal unreachable")).to_be_visible()
    expect(player.locator("main")).to_contain_text("СР· You run the technical picture.")  # the brief
    card = player.locator("article", has=player.get_by_role("heading", name="СР· Online banking portal unreachable"))
    card.get_by_label("СР· Call the neighbouring CERT").check()
    card.locator("textarea").fill("Исти ботнет код суседа")
    card.locator("button[type=submit]").click()
    expect(card.locator("form")).to_have_count(0)  # answered
    expect(card.locator("p", has_text="СР· Call the neighbouring CERT")).to_be_visible()  # the answer, as it was read
    expect(player.locator("li", has_text="СР· Online banking portal unreachable")).to_be_visible()  # the role log
    assert audit(player, axe) == [], report(audit(player, axe))

    trainer.get_by_role("button", name="Release next").click()  # the bank call, to the operator: not this player
    trainer.get_by_role("button", name="Release next").click()  # the embassy note, to the diplomat
