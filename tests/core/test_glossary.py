"""The glossary: one agreed term per key term and language, every language with every term."""

from pathlib import Path

import pytest
import yaml

from academy.core import locales

pytestmark = pytest.mark.no_database  # files and pure functions: the same answer on every database

FOLDER = Path(__file__).resolve().parents[2] / "glossary"


def terms(tag: str) -> dict:
    data = yaml.safe_load((FOLDER / f"{tag}.yml").read_text(encoding="utf-8"))
    assert data["language"] == tag
    return data["terms"]


@pytest.mark.parametrize("tag", locales.TRANSLATED)
def test_every_language_has_every_term_of_the_english(tag):
    english, found = terms("en"), terms(tag)
    assert found.keys() == english.keys()
    assert all(isinstance(value, str) and value.strip() for value in found.values())
    assert "*" in found["kosovo"]  # Kosovo* keeps its asterisk in every language
