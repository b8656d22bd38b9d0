"""Lesson Markdown becomes safe HTML; question options keep their ids when reordered."""
from academy.learning.content import load_content
from academy.learning.rendering import render_lesson
from academy.learning.tree import question_payload, stable_id

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
                  "[rel](../notes) [proto](//evil.example/x)")
    assert '<a href="https://www.coe.int" rel="noopener noreferrer">site</a>' in html
    assert '<a href="../notes">rel</a>' in html
    assert 'href="mailto:' not in html and 'href="javascript:' not in html and "evil.example" not in html


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
