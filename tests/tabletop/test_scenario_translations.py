"""Scenarios in other languages: each participant's cards, brief and page in the language they read."""

from academy.core.content.files import Problems
from academy.core.content.translation_sync import sync_translations
from academy.core.content.translations import write_file
from academy.extensions import db
from academy.tabletop import translations
from academy.tabletop.scenario_files import load_scenarios
from tests.tabletop.scenario_fixture import ScenarioFolder
from tests.tabletop.test_stream import catch_up, released_ids, run
from tests.translation_files import translate_po

SLUG = "fixture-scenario"


def translate(root, rule, tag="sq"):
    """Write the fixture scenario's translation file with `rule(context, english)` as the text, and sync it."""
    folder = ScenarioFolder(root).folder
    scenarios, problems = load_scenarios(folder, None)
    assert problems == []
    path = folder / "translations" / SLUG / f"{tag}.po"
    write_file(path, tag, translations.scenario_segments(scenarios[0]), None, f"scenario:{SLUG}")
    translate_po(path, lambda context, english: rule(context, english) or "")
    problems = Problems()
    found = translations.load_translations(folder, scenarios, problems)
    assert problems.items == []
    sync_translations((translations.KIND, "coverage-scenario"), translations.translated_rows(found))
    db.session.commit()
    return found


def albanian(context, english):
    return "SQ " + english


def test_each_participant_receives_the_card_in_the_language_they_read(tmp_path, client, auth, world, live):
    translate(tmp_path, albanian)
    run(live, world.trainer, minutes=0)
    auth.as_user(live.cert.user)
    albanian_events = catch_up(client, live, headers={"Accept-Language": "sq"}, view="participant")
    english_events = catch_up(client, live, headers={"Accept-Language": "en"}, view="participant")
    assert "alert-bank-portal" in released_ids(albanian_events)
    card = next(e for e in albanian_events if e["data"].get("card_html"))["data"]
    assert "SQ Online banking portal unreachable" in card["card_html"] and card["title"].startswith("SQ ")
    assert "SQ Call the neighbouring CERT" in card["card_html"] and "SQ HTTP 503 on all front ends." in card["card_html"]
    english = next(e for e in english_events if e["data"].get("card_html"))["data"]
    assert "Online banking portal unreachable" in english["card_html"] and "SQ " not in english["card_html"]
    page = client.get(f"/exercises/play/{live.session.id}", headers={"Accept-Language": "sq"})
    assert "SQ You run the technical picture." in page.text and "SQ National CERT" in page.text
    assert "SQ Online banking portal unreachable" in page.text and "Draft translation" not in page.text  # in sq
    assert 'lang="sq"' in page.text


def test_an_inject_translated_in_part_is_shown_in_english_whole(tmp_path, client, auth, world, live):
    translate(tmp_path, lambda context, english: None if context.endswith("/consequence") else "SQ " + english)
    run(live, world.trainer, minutes=0)
    auth.as_user(live.cert.user)
    events = catch_up(client, live, headers={"Accept-Language": "sq"}, view="participant")
    card = next(e for e in events if e["data"].get("card_html"))["data"]["card_html"]
    assert "Online banking portal unreachable" in card and "SQ Online" not in card
    page = client.get(f"/exercises/play/{live.session.id}", headers={"Accept-Language": "sq"})
    assert "SQ You run the technical picture." in page.text  # the brief is translated whole


def test_a_reader_of_an_untranslated_language_is_told_and_the_cards_are_marked_english(client, auth, world, live):
    run(live, world.trainer, minutes=0)
    auth.as_user(live.cert.user)
    page = client.get(f"/exercises/play/{live.session.id}", headers={"Accept-Language": "hr"})
    assert '<html lang="hr">' in page.text
    assert "Hrvatski" in page.text and "/languages" in page.text  # the note names the language and links
    assert 'data-inject-id="alert-bank-portal"' in page.text
    card = page.text.split('data-inject-id="alert-bank-portal"', 1)[1].split(">", 1)[0]
    assert 'lang="en"' in card  # read as English by screen readers
    english = client.get(f"/exercises/play/{live.session.id}", headers={"Accept-Language": "en"})
    assert 'lang="en" aria-labelledby' not in english.text.split('data-inject-id="alert-bank-portal"', 1)[1][:200]
