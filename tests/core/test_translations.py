"""Every user-facing string is marked for translation."""
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

pytestmark = pytest.mark.no_database  # files and pure functions: the same answer on every database

TEMPLATES = Path(__file__).resolve().parents[2] / "academy" / "templates"
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
TAG = re.compile(r"<[^>]+>", re.S)
ATTRIBUTE_TEXT = re.compile(r'\b(?:placeholder|aria-label|title|alt)="([^"{]*[A-Za-z][^"{]*)"')


def test_templates_have_no_unmarked_text():
    problems = []
    for path in TEMPLATES.rglob("*.html"):
        source = path.read_text()
        for match in ATTRIBUTE_TEXT.finditer(source):
            problems.append(f"{path.name}: attribute text {match.group(1)!r}")
        text = TAG.sub(" ", JINJA.sub(" ", source))
        for word_run in re.findall(r"[A-Za-z][A-Za-z' ]{2,}", text):
            problems.append(f"{path.name}: {word_run.strip()!r}")
    assert not problems, "unmarked user-facing text:\n" + "\n".join(problems)


def test_extraction_finds_python_and_template_messages():
    method_map = [("academy/**.py", "python"), ("academy/templates/**.html", "jinja2")]
    root = Path(__file__).resolve().parents[2]
    messages = {m[2] for m in extract_from_dir(str(root), method_map, keywords={"_": None, "_l": None,
                                                                                 "gettext": None})}
    assert "Sign in" in messages
    assert "E-mail address or password is not correct." in messages
    assert "Ministry / diplomatic service" in messages
