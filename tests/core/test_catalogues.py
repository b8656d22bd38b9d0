"""The interface catalogues: complete in every language, placeholders kept, Serbian Latin made from the Cyrillic."""

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from academy.core import locales
from academy.core.transliteration import to_latin
from scripts.check_catalogue import problems

ROOT = Path(__file__).resolve().parents[2] / "academy" / "translations"


@pytest.mark.parametrize("tag", [tag for tag in locales.TRANSLATED])
def test_every_message_is_translated_in_every_language_with_its_placeholders(tag):
    path = ROOT / locales.LOCALES[tag].folder / "LC_MESSAGES" / "messages.po"
    assert path.is_file(), f"no catalogue for {tag}"
    assert problems(path) == []


@pytest.mark.parametrize("tag", [tag for tag in locales.TRANSLATED])
def test_each_catalogue_holds_every_message_of_the_template(tag):
    with (ROOT / "messages.pot").open("rb") as handle:
        wanted = {message.id if isinstance(message.id, str) else message.id[0] for message in read_po(handle)}
    with (ROOT / locales.LOCALES[tag].folder / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        held = {message.id if isinstance(message.id, str) else message.id[0] for message in read_po(handle)}
    assert wanted - held == set()


def test_serbian_latin_is_the_cyrillic_transliterated():
    def entries(folder):
        with (ROOT / folder / "LC_MESSAGES" / "messages.po").open("rb") as handle:
            return {(message.context, str(message.id)): message.string for message in read_po(handle) if message.id}

    cyrillic, latin = entries("sr_Cyrl"), entries("sr_Latn")
    assert latin.keys() == cyrillic.keys()
    for key, text in cyrillic.items():
        expected = tuple(to_latin(s) for s in text) if isinstance(text, tuple) else to_latin(text)
        assert latin[key] == expected, key


def test_the_checker_finds_a_broken_placeholder_and_an_untranslated_message(tmp_path):
    path = tmp_path / "messages.po"
    path.write_text('msgid ""\nmsgstr ""\n"Language: sq\\n"\n\nmsgid "Hello %(name)s"\nmsgstr "Tungjatjeta %(emri)s"\n\n'
                    'msgid "Bye"\nmsgstr ""\n', encoding="utf-8")
    found = problems(path)
    assert any("placeholders" in problem and ":5:" in problem for problem in found)
    assert any("not translated" in problem for problem in found)


@pytest.mark.parametrize(("tag", "word"), [("sq", "Hyni"), ("mk", "Најава"), ("sr-Cyrl", "Пријава"),
                                           ("sr-Latn", "Prijava"), ("hr", "Prijava"), ("cnr", "Prijava")])
def test_a_page_is_in_the_language_asked_for(client, tag, word):
    page = client.get("/account/login", headers={"Accept-Language": tag})
    assert word in page.text
