"""The real course files: coverage of the report, role tracks, and our own words."""
import re
from pathlib import Path

import pytest
import yaml

from academy.core.content.sections import SECTIONS
from academy.learning.content import load_content
from tests.report_source import COPY_RUN, REPORT, kept_runs, run_key, runs_of, words

pytestmark = pytest.mark.no_database  # files and pure functions: the same answer on every database

ROOT = Path(__file__).resolve().parents[2]
# Titles are quoted or in italics, and the Kosovo* footnote must be quoted word for word.
QUOTED = re.compile(r"(?is)\\?\*\s*this designation.*?declaration of independence\.?|(?<![*\w])\*(?![*\s])[^*\n]+(?<![*\s])\*(?![*\w])|\"[^\"\n]+\"|“[^”\n]+”")


@pytest.fixture(scope="module")
def tree():
    tree = load_content(ROOT / "courses")
    assert not tree.errors
    return tree


def lessons(tree):
    return [lesson for module in tree.modules for lesson in module.lessons]


def test_size_targets(tree):
    assert len(lessons(tree)) >= 30
    assert sum(len(module.questions) for module in tree.modules) >= 150
    assert min(len(module.questions) for module in tree.modules) >= 8


def test_every_section_of_chapters_1_to_8_is_taught(tree):
    cited = {ref for lesson in lessons(tree) for ref in lesson.sections}
    assert set(SECTIONS) - cited == set()


def test_one_lesson_per_country_and_one_on_table_1(tree):
    primary = [lesson.sections[0] for lesson in lessons(tree)]
    for country in ("§4.1", "§4.2", "§4.3", "§4.4", "§4.5", "§4.6", "§4.7", "§4.8"):
        assert country in primary, country
    table = next(lesson for lesson in lessons(tree) if lesson.slug == "regional-summary-and-table-1")
    assert "Table 1" in table.body_markdown


def test_every_regional_mechanism_of_chapter_6_is_named(tree):
    text = " ".join(lesson.body_markdown for lesson in lessons(tree))
    for name in ("SEECP", "SEECP PA", "RCC", "SEENSA", "SEEMIC", "e-SEE", "RACVIAC", "SEECSC", "SELEC",
                 "SEEPAG", "SEPCA", "PCC SEE", "ReSPA", "CEI", "SEDM"):
        assert name in text, name


def test_role_tracks_exist_for_every_professional_track():
    tracks = yaml.safe_load((ROOT / "courses" / "tracks.yml").read_text())["tracks"]
    assert {t["code"] for t in tracks} == {"diplomat", "cert", "operator", "policy", "law_enforcement"}
    for track in tracks:
        assert any(slug.startswith("track-") for slug in track["courses"]), track["code"]


def test_kosovo_always_has_its_asterisk(tree):
    for lesson in lessons(tree):
        for match in re.finditer(r"Kosovo(?!\\?\*)", lesson.body_markdown):
            context = lesson.body_markdown[match.start():match.end() + 40].lower()
            assert context.startswith("kosovo declaration of independence"), (lesson.slug, context)


def _is_prose(run):
    # Long official names ("Geneva Centre for Democratic Control of Armed Forces") are quoted, not pasted.
    return sum(word[0].islower() for word in run) >= COPY_RUN * 2 // 3


def test_lessons_and_questions_are_written_in_our_own_words(tree):
    runs = kept_runs()  # the report's runs of 15 words, as hashes: the check needs no copy of the report
    pasted = []
    texts = [(lesson.slug, lesson.body_markdown) for lesson in lessons(tree)]
    texts += [(f"{module.slug}/{q.slug}", f"{q.prompt}\n{q.explanation}") for module in tree.modules
              for q in module.questions]
    for slug, text in texts:
        found = words(QUOTED.sub(" ", text))
        for i in range(len(found) - COPY_RUN):
            run = found[i:i + COPY_RUN]
            if run_key(run) in runs and _is_prose(run):
                pasted.append(f"{slug}: {' '.join(run)}")
    assert not pasted, "runs of words pasted from the report:\n" + "\n".join(pasted[:20])


@pytest.mark.report
def test_the_kept_run_hashes_are_the_reports():
    assert kept_runs() == runs_of(REPORT.read_text(encoding="utf-8")), \
        "the report changed: write the hashes again with `python -m tests.report_source`"
