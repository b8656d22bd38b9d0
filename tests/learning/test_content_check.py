"""`flask content check`: the real courses pass, and each kind of mistake is reported with its file and line."""
import pytest

from academy.extensions import db
from academy.learning.models import ContentRelease, Course, Lesson, Module, Question, Track

COURSE = "intro-course/course.yml"
LESSON = "intro-course/lessons/first-lesson.md"
QUIZ = "intro-course/quizzes/first-module.yml"
TRACKS = "tracks.yml"
TRACK_LIST = "diplomat, cert, operator, policy, law_enforcement"


def test_real_courses_pass(app, runner):
    # --path alone reads the course folder alone: the real scenarios have their own test in tests/tabletop.
    result = runner.invoke(args=["content", "check", "--path", str(app.config["COURSES_DIR"])])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("questions: OK")


def test_fixture_tree_passes(check):
    code, lines = check()
    assert code == 0, lines
    assert lines == ["1 courses, 1 modules, 2 lessons, 8 questions: OK"]


# Each case breaks the valid fixture tree in one place and returns the error line it must produce.
def yaml_syntax(c):
    line = c.edit(COURSE, "summary: A short course", "summary: A: short course")
    return c.error(COURSE, line, "YAML syntax error: mapping values are not allowed here")


def yaml_syntax_in_front_matter(c):
    line = c.edit(LESSON, "title: The first lesson", "title: The: first lesson")
    return c.error(LESSON, line, "YAML syntax error: mapping values are not allowed here")


def unknown_key(c):
    line = c.edit(COURSE, "title: An introduction", "titel: An introduction")
    return c.error(COURSE, line, "unknown key 'titel'")


def unknown_key_nested(c):
    line = c.edit(COURSE, "max_attempts: 3", "max_attempts: 3\n      shuffle: true") + 1
    return c.error(COURSE, line, "unknown key 'shuffle'")


def missing_field(c):
    c.edit(LESSON, "minutes: 5\n", "")
    return c.error(LESSON, 2, "missing required key 'minutes'")


def missing_field_in_question(c):
    c.edit(QUIZ, "    explanation: It was.\n", "")
    return c.error(QUIZ, c.line(QUIZ, "- slug: true-false-one"), "missing required key 'explanation'")


def wrong_type(c):
    line = c.edit(COURSE, "pass_mark: 70", "pass_mark: seventy")
    return c.error(COURSE, line, "pass_mark: not a valid integer")


def wrong_type_boolean(c):
    line = c.edit(COURSE, "published: true", 'published: "yes"')
    return c.error(COURSE, line, "published: not a valid boolean")


def bad_slug(c):
    line = c.edit(COURSE, "lessons: [first-lesson,", "lessons: [First_Lesson,")
    return c.error(COURSE, line, "lessons[0]: bad slug 'First_Lesson': use lower-case words joined by hyphens")


def duplicate_course_slug(c):
    c.copy("intro-course", "other-course")
    return c.error("other-course/course.yml", 1,
                   "duplicate course slug 'intro-course' (also at courses/intro-course/course.yml:1)")


def duplicate_module_slug(c):
    c.copy("intro-course", "other-course")
    c.edit("other-course/course.yml", "slug: intro-course", "slug: other-course")
    return c.error("other-course/course.yml", 7,
                   "duplicate module slug 'first-module' (also at courses/intro-course/course.yml:7)")


def duplicate_lesson_slug(c):
    c.copy("intro-course", "other-course")
    return c.error("other-course/lessons/first-lesson.md", 2,
                   "duplicate lesson slug 'first-lesson' (also at courses/intro-course/lessons/first-lesson.md:2)")


def duplicate_question_slug(c):
    line = c.edit(QUIZ, "slug: multiple-one", "slug: single-one")
    return c.error(QUIZ, line, "duplicate question slug 'single-one' in this quiz")


def single_without_correct(c):
    c.edit(QUIZ, '"2001"\n        correct: true', '"2001"')
    return c.error(QUIZ, c.line(QUIZ, "options:"),
                   "options: a single-choice question needs exactly one correct option, found 0")


def single_with_two_correct(c):
    c.edit(QUIZ, 'text: "2004"', 'text: "2004"\n        correct: true')
    return c.error(QUIZ, c.line(QUIZ, "options:"),
                   "options: a single-choice question needs exactly one correct option, found 2")


def multiple_without_correct(c):
    c.edit(QUIZ, "{text: Albania, correct: true}", "{text: Albania}")
    c.edit(QUIZ, "{text: Serbia, correct: true}", "{text: Serbia}")
    return c.error(QUIZ, c.line(QUIZ, "Select all") + 1,
                   "options: a multiple-choice question needs at least one correct option")


def true_false_not_boolean(c):
    line = c.edit(QUIZ, "answer: true", "answer: maybe")
    return c.error(QUIZ, line, "answer: not a valid boolean")


def true_false_without_answer(c):
    c.edit(QUIZ, "    answer: true\n", "")
    return c.error(QUIZ, c.line(QUIZ, "- slug: true-false-one"), "missing required key 'answer'")


def too_few_options(c):
    c.edit(QUIZ, '      - text: "1981"\n', "")
    return c.error(QUIZ, c.line(QUIZ, "options:"), "options: needs 3–5 options, found 2")


def too_many_items(c):
    line = c.edit(QUIZ, 'items: ["first", "second", "third"]', 'items: ["1", "2", "3", "4", "5", "6", "7"]')
    return c.error(QUIZ, line, "items: needs 3–6 items, found 7")


def too_few_pairs(c):
    c.edit(QUIZ, "      - {left: Croatia, right: CERT.hr}\n", "")
    return c.error(QUIZ, c.line(QUIZ, "pairs:"), "pairs: needs 3–6 pairs, found 2")


def unknown_question_type(c):
    line = c.edit(QUIZ, "type: ordering", "type: essay")
    return c.error(QUIZ, line, "unknown question type 'essay' (expected one of: single, multiple, true_false, "
                               "ordering, matching)")


def unknown_section_in_lesson(c):
    line = c.edit(LESSON, 'sections: ["§1"]', 'sections: ["§1", "§9.1"]')
    return c.error(LESSON, line, "sections[1]: unknown section reference '§9.1'")


def unknown_section_in_question(c):
    line = c.edit(QUIZ, 'sections: ["§3.1"]', 'sections: ["3.1"]')
    return c.error(QUIZ, line, "sections[0]: unknown section reference '3.1' (write §N, §N.N or §N.N.N)")


def unknown_section_in_lesson_text(c):
    line = c.edit(LESSON, "why it matters (§1)", "why it matters (§1, §4.9)")
    return c.error(LESSON, line, "unknown section reference '§4.9'")


def unknown_section_in_explanation(c):
    line = c.edit(QUIZ, "explanation: It was.", "explanation: It was (§3.2.5).")
    return c.error(QUIZ, line, "explanation: unknown section reference '§3.2.5'")


def lesson_without_file(c):
    line = c.edit(COURSE, "second-lesson]", "second-lesson, third-lesson]")
    return c.error(COURSE, line, "lesson 'third-lesson' has no file lessons/third-lesson.md")


def lesson_not_listed(c):
    c.write("intro-course/lessons/orphan-lesson.md", c.read(LESSON).replace("first-lesson", "orphan-lesson"))
    return c.error("intro-course/lessons/orphan-lesson.md", 2, "lesson 'orphan-lesson' is not listed by any module")


def link_to_unknown_lesson(c):
    line = c.edit(LESSON, "(lesson:second-lesson)", "(lesson:no-such-lesson)")
    return c.error(LESSON, line, "link to unknown lesson 'no-such-lesson'")


def quiz_for_unknown_module(c):
    c.write("intro-course/quizzes/ghost-module.yml", c.read(QUIZ).replace("first-module", "ghost-module"))
    return c.error("intro-course/quizzes/ghost-module.yml", 1, "quiz for unknown module 'ghost-module' in this course")


def module_without_quiz(c):
    c.remove(QUIZ)
    return c.error(COURSE, 7, "module 'first-module' has no quiz file quizzes/first-module.yml")


def tracks_unknown_course(c):
    line = c.edit(TRACKS, "courses: [intro-course]", "courses: [intro-course, no-such-course]")
    return c.error(TRACKS, line, "unknown course 'no-such-course'")


def tracks_unknown_code(c):
    line = c.edit(TRACKS, "code: cert", "code: pilots")
    return c.error(TRACKS, line, f"code: unknown track 'pilots' (expected one of: {TRACK_LIST})")


def course_unknown_track(c):
    line = c.edit(COURSE, "tracks: [cert, policy]", "tracks: [cert, pilots]")
    return c.error(COURSE, line, f"tracks[1]: unknown track 'pilots' (expected one of: {TRACK_LIST})")


def bank_under_eight(c):
    c.write(QUIZ, c.read(QUIZ).split("  - slug: filler-3")[0])
    return c.error(QUIZ, 2, "the bank has 7 questions; it needs at least 8 and at least questions_per_attempt (8)")


def bank_under_questions_per_attempt(c):
    c.edit(COURSE, "questions_per_attempt: 8", "questions_per_attempt: 10")
    return c.error(QUIZ, 2, "the bank has 8 questions; it needs at least 8 and at least questions_per_attempt (10)")


def pass_mark_zero(c):
    line = c.edit(COURSE, "pass_mark: 70", "pass_mark: 0")
    return c.error(COURSE, line, "pass_mark: must be between 1 and 100")


def pass_mark_over_100(c):
    line = c.edit(COURSE, "pass_mark: 70", "pass_mark: 101")
    return c.error(COURSE, line, "pass_mark: must be between 1 and 100")


def empty_lesson_body(c):
    c.write(LESSON, c.read(LESSON).split("---\n")[0] + "---\n" + c.read(LESSON).split("---\n")[1] + "---\n\n  \n")
    return c.error(LESSON, 6, "the lesson body is empty")


def raw_html_in_lesson(c):
    line = c.edit(LESSON, "Read on in", "<script>alert(1)</script>\n\nRead on in")
    return c.error(LESSON, line, "raw HTML is not allowed; write Markdown")


def external_image_in_lesson(c):
    line = c.edit(LESSON, "Read on in", "![A map](https://example.org/map.png)\n\nRead on in")
    return c.error(LESSON, line, "image from another site 'https://example.org/map.png': "
                                 "pages may only show the academy's own images")


def same_site_image_in_lesson(c):
    line = c.edit(LESSON, "Read on in", "![Report](/institutions/1/reports/completion?format=pdf)\n\nRead on in")
    return c.error(LESSON, line, "address '/institutions/1/reports/completion?format=pdf' is not allowed: link with "
                                 "lesson:, https:// or a path starting with one '/'; show images from /static/ only")


def backslash_link_in_lesson(c):
    line = c.edit(LESSON, "Read on in", "[Notes](/\\evil.example)\n\nRead on in")
    return c.error(LESSON, line, "address '/%5Cevil.example' is not allowed: link with lesson:, https:// or a path "
                                 "starting with one '/'; show images from /static/ only")


def duplicate_yaml_key(c):
    line = c.edit(COURSE, "published: true", "published: true\npublished: false") + 1
    return c.error(COURSE, line, "duplicate key 'published'")


CASES = [
    yaml_syntax, yaml_syntax_in_front_matter, unknown_key, unknown_key_nested, missing_field,
    missing_field_in_question, wrong_type, wrong_type_boolean, bad_slug, duplicate_course_slug,
    duplicate_module_slug, duplicate_lesson_slug, duplicate_question_slug, single_without_correct,
    single_with_two_correct, multiple_without_correct, true_false_not_boolean, true_false_without_answer,
    too_few_options, too_many_items, too_few_pairs, unknown_question_type, unknown_section_in_lesson,
    unknown_section_in_question, unknown_section_in_lesson_text, unknown_section_in_explanation,
    lesson_without_file, lesson_not_listed, link_to_unknown_lesson,
    quiz_for_unknown_module, module_without_quiz, tracks_unknown_course, tracks_unknown_code,
    course_unknown_track, bank_under_eight, bank_under_questions_per_attempt, pass_mark_zero,
    pass_mark_over_100, empty_lesson_body, raw_html_in_lesson, external_image_in_lesson, same_site_image_in_lesson,
    backslash_link_in_lesson, duplicate_yaml_key,
]


@pytest.mark.parametrize("breaks", CASES, ids=[case.__name__ for case in CASES])
def test_each_error_is_reported_with_file_and_line(content, check, breaks):
    expected = breaks(content)
    code, lines = check()
    assert code == 1
    assert expected in lines, "\n".join(lines)


def test_one_mistake_gives_one_error(content, check):
    unknown_key(content)
    code, lines = check()
    assert code == 1
    assert lines[:2] == [
        "courses/intro-course/course.yml:1: missing required key 'title'",
        "courses/intro-course/course.yml:2: unknown key 'titel'",
    ]
    assert lines[2:] == ["2 error(s); nothing was written."]


def test_all_errors_are_reported_at_once(content, check):
    expected = [breaks(content) for breaks in (wrong_type, unknown_section_in_lesson, single_without_correct,
                                               tracks_unknown_course, link_to_unknown_lesson)]
    code, lines = check()
    assert code == 1
    assert sorted(expected) == [line for line in lines if line.startswith("courses/")]


def test_an_error_elsewhere_in_course_yml_does_not_hide_link_errors(content, check):
    expected = [unknown_key(content), lesson_not_listed(content), quiz_for_unknown_module(content)]
    code, lines = check()
    assert code == 1
    assert set(expected) <= set(lines)


def test_an_unreadable_course_file_does_not_echo_in_other_files(content, check):
    yaml_syntax(content)
    code, lines = check()
    assert code == 1
    assert lines == ["courses/intro-course/course.yml:3: YAML syntax error: mapping values are not allowed here",
                     "1 error(s); nothing was written."]


def test_check_writes_nothing(app, runner, content):
    models = (Course, Module, Lesson, Question, Track, ContentRelease)
    assert runner.invoke(args=["content", "check", "--path", str(app.config["COURSES_DIR"])]).exit_code == 0
    assert runner.invoke(args=["content", "check", "--path", str(content.folder)]).exit_code == 0
    assert [db.session.scalar(db.select(db.func.count()).select_from(model)) for model in models] == [0] * 6
