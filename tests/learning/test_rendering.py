"""Lesson Markdown becomes safe HTML; question options keep their ids when reordered."""
import pytest
from markupsafe import escape

from academy.core.content.markdown import render_lesson
from academy.learning.content import load_content
from academy.learning.tree import question_payload, stable_id

pytestmark = pytest.mark.no_database  # files and pure functions: the same answer on every database

LESSONS = {"second-lesson": "intro-course", "budapest-convention": "legal-environment"}


def render(body: str) -> str:
    return render_lesson(body, LESSONS).html


def test_raw_html_is_escaped_not_run():
    html = render('Before <script>alert("x")</script> after.\n\n<img src=x onerror=alert(1)>\n')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_lesson_links_are_rewritten():
    html = render("See [the convention](lesson:budapest-convention).")
    assert '<a href="/courses/legal-environment/lessons/budapest-convention">the convention</a>' in html


def test_unknown_lesson_link_is_reported_and_dropped():
    rendered = render_lesson("Intro.\n\nSee [this](lesson:nowhere) too.\n", LESSONS)
    assert rendered.unknown_lessons == [(2, "nowhere")]
    assert "<a" not in rendered.html and "this" in rendered.html


def test_external_links_get_rel_and_other_schemes_are_dropped():
    html = render("[site](https://www.coe.int) [mail](mailto:a@b.org) [js](javascript:alert(1)) "
                  "[app](/courses/intro-course) [proto](//evil.example/x)")
    assert '<a href="https://www.coe.int" rel="noopener noreferrer">site</a>' in html
    assert '<a href="/courses/intro-course">app</a>' in html
    assert 'href="mailto:' not in html and 'href="javascript:' not in html and "evil.example" not in html


# The same Markdown shows on the lesson page, the participant's page and the trainer's console, so a link relative to
# the page means nothing: a path of the academy starts with one "/"; browsers read "//x", "/\x" and "\\x" as site x.
@pytest.mark.parametrize("url", ["/\\evil.example", "/%5Cevil.example", "\\\\evil.example", "//evil.example",
                                 "/%2F/evil.example", "https:/evil.example", "ftp://evil.example/x", "mailto:a@b.org",
                                 "../notes", "notes", "#part", "lesson-without-scheme"])
def test_links_go_to_http_sites_or_academy_paths_only(url):
    rendered = render_lesson(f"See [this]({url}) now.", LESSONS)
    assert "<a" not in rendered.html and "See this now." in rendered.html
    assert len(rendered.refused_urls) == 1 and not rendered.external_images


@pytest.mark.parametrize("url", ["/", "/courses/intro-course?tab=2#part", "/exercises/join/ABC123"])
def test_academy_paths_stay_links(url):
    rendered = render_lesson(f"[here]({url})", LESSONS)
    assert f'<a href="{escape(url)}">here</a>' in rendered.html and not rendered.refused_urls


@pytest.mark.parametrize("url", ["/institutions/1/reports/completion?format=pdf", "/static/x.png?v=1",
                                 "/static/../institutions/1/reports/completion", "/static/%2e%2e/admin/users",
                                 "/static//x.png", "static/x.png", "/exercises/sessions/1/report.pdf",
                                 "data:image/png;base64,iVBORw0KGgo=", "lesson:second-lesson"])
def test_images_come_only_from_the_static_files(url):
    rendered = render_lesson(f"![the map]({url})", LESSONS)
    assert "<img" not in rendered.html and "the map" in rendered.html
    assert rendered.refused_urls == [(0, rendered.refused_urls[0][1])] and not rendered.external_images


def test_a_static_image_is_shown_and_another_sites_is_reported_as_such():
    rendered = render_lesson("![map](/static/img/region-map.png)\n\n![far](https://example.org/map.png)\n", LESSONS)
    assert '<img src="/static/img/region-map.png" alt="map">' in rendered.html
    assert rendered.external_images == [(2, "https://example.org/map.png")] and not rendered.refused_urls


def test_tables_render_with_alignment_classes():
    html = render("| a | b |\n|---|:-:|\n| 1 | 2 |\n")
    assert "<table>" in html and '<td class="text-center">2</td>' in html
    assert "style=" not in html


def test_synced_html_comes_from_the_rendered_tree(content):
    tree = load_content(content.folder)
    first = next(lesson for lesson in tree.lessons if lesson.slug == "first-lesson")
    assert '<a href="/courses/intro-course/lessons/second-lesson">the second lesson</a>' in first.body_html


def test_option_ids_survive_reordering():
    options = [{"text": "2001", "correct": True}, {"text": "2004", "correct": False},
               {"text": "1981", "correct": False}]
    before = question_payload("single", {"options": options})["options"]
    after = question_payload("single", {"options": list(reversed(options))})["options"]
    assert {option["text"]: option["id"] for option in before} == {option["text"]: option["id"] for option in after}
    assert before[0]["id"] == stable_id("2001") and len(before[0]["id"]) == 10
    assert len({option["id"] for option in before}) == 3


def test_item_and_pair_ids_survive_reordering():
    items = question_payload("ordering", {"items": ["a", "b", "c"]})["items"]
    assert [item["id"] for item in items] == [stable_id("a"), stable_id("b"), stable_id("c")]
    pairs = [{"left": "Montenegro", "right": "CIRT.ME"}, {"left": "Albania", "right": "ALCIRT"}]
    first = question_payload("matching", {"pairs": pairs})["pairs"]
    second = question_payload("matching", {"pairs": pairs[::-1]})["pairs"]
    assert sorted(first, key=lambda pair: pair["id"]) == sorted(second, key=lambda pair: pair["id"])


def test_reordered_options_in_a_quiz_file_keep_their_ids(content):
    quiz = "intro-course/quizzes/first-module.yml"

    def ids():
        question = next(q for q in load_content(content.folder).questions if q.slug == "single-one")
        return {option["text"]: option["id"] for option in question.data["options"]}

    before = ids()
    content.edit(quiz, '      - text: "2001"\n        correct: true\n      - text: "2004"\n',
                 '      - text: "2004"\n      - text: "2001"\n        correct: true\n')
    assert ids() == before
