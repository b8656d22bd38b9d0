"""Courses in other languages: PO files next to the English, checked, synced, shown to the learner or not."""

from babel.messages.pofile import read_po

from academy.core.content.translations import own_headers
from academy.core.models import ContentTranslation
from academy.extensions import db
from academy.learning import translations
from academy.learning.content import load_content
from academy.learning.models import Course, Module, Question
from academy.learning.sync import sync_content
from tests.content_fixture import COURSE
from tests.translation_files import translate_po

PO = f"{COURSE}/translations/sq.po"


def folders(app, content):
    """The commands read the settings' folders: the fixture courses, and no scenario."""
    app.config["COURSES_DIR"] = str(content.folder)
    (content.folder.parent / "exercises").mkdir(exist_ok=True)
    app.config["EXERCISES_DIR"] = str(content.folder.parent / "exercises")


def export(runner, content, tag="sq"):
    result = runner.invoke(args=["content", "translations", "export", tag, "--course", COURSE])
    assert result.exit_code == 0, result.output


def fill(content, rule, name=PO):
    """Fill the msgstr of entries for which `rule(context, english)` gives a text."""
    translate_po(content.path(name), rule)


def albanian(context, english):
    """A stand-in translation that keeps citations, links and Markdown markers: 'SQ ' before the words."""
    prefix = next((mark for mark in ("## ", "| ", "- ") if english.startswith(mark)), "")
    return prefix + "SQ " + english[len(prefix):]


def lesson_units(context, english):
    return albanian(context, english) if context.startswith(("lesson/", "course/", "module/")) else None


def check_lines(runner, content):
    result = runner.invoke(args=["content", "check", "--path", str(content.folder)])
    return result.exit_code, result.output.splitlines()


def test_an_export_holds_every_segment_with_the_english_as_msgid(app, runner, content):
    folders(app, content)
    export(runner, content)
    with content.path(PO).open("rb") as handle:
        catalogue = read_po(handle)
    contexts = {message.context for message in catalogue if message.id}
    assert {"course/title", "lesson/first-lesson/title", "lesson/second-lesson/body",
            "question/first-module/single-one/prompt"} <= contexts
    options = [message for message in catalogue if message.context and "/single-one/option/" in message.context]
    assert sorted(message.id for message in options) == ["1981", "2001", "2004"]  # keyed by the option's id
    headers = own_headers(content.path(PO).read_bytes())
    assert (headers["X-Academy-Source"], headers["X-Academy-Language"]) == (f"course:{COURSE}", "sq")


def test_a_translated_lesson_is_shown_with_its_draft_label_and_the_english_behind_a_link(app, runner, content, client,
                                                                                         auth, world):
    folders(app, content)
    export(runner, content)
    fill(content, lesson_units)
    sync_content(content.folder)
    db.session.commit()
    course = db.session.scalar(db.select(Course).where(Course.slug == COURSE))
    from academy.learning import services

    services.enrol(world.learner, course)
    db.session.commit()
    auth.as_user(world.learner)
    page = client.get(f"/courses/{COURSE}/lessons/first-lesson", headers={"Accept-Language": "sq"})
    assert "SQ The first lesson" in page.text and "SQ By the end of this lesson" in page.text
    assert "(§1)" in page.text  # the citation kept
    assert "?original=1" in page.text
    english = client.get(f"/courses/{COURSE}/lessons/first-lesson?original=1", headers={"Accept-Language": "sq"})
    assert "SQ By the end" not in english.text and "By the end of this lesson" in english.text
    # another language has no translation: the English, with a note saying so
    croatian = client.get(f"/courses/{COURSE}/lessons/first-lesson", headers={"Accept-Language": "hr"})
    assert "By the end of this lesson" in croatian.text and 'lang="en"' in croatian.text


def test_a_stale_segment_sends_the_lesson_back_to_english_and_check_reports_it(app, runner, content):
    folders(app, content)
    export(runner, content)
    fill(content, lesson_units)
    content.edit("intro-course/lessons/first-lesson.md", "explain why it matters", "explain why it matters most")
    code, lines = check_lines(runner, content)
    assert code == 0
    assert any(line.startswith(f"courses/{PO}: sq intro-course:") and "1 stale" in line for line in lines), lines
    sync_content(content.folder)
    db.session.commit()
    assert translations.one("lesson", "first-lesson", "sq") is None  # English until the translator catches up
    assert translations.one("lesson", "second-lesson", "sq") is not None


def test_a_broken_citation_a_half_question_and_an_unknown_language_are_errors_and_nothing_is_loaded(app, runner,
                                                                                                     content):
    folders(app, content)
    export(runner, content)

    def broken(context, english):
        if context == "lesson/first-lesson/body" and "§1" in english:
            return "SQ pa citim"
        if context == "question/first-module/single-one/prompt":
            return "SQ Kur?"  # and no option
        return None

    fill(content, broken)
    content.write(f"{COURSE}/translations/xx.po", 'msgid ""\nmsgstr ""\n')
    code, lines = check_lines(runner, content)
    assert code == 1
    text = "\n".join(lines)
    assert f"courses/{PO}:" in text and "section citations" in text
    assert "question/first-module/single-one: translated in part; not translated:" in text and "option" in text
    assert f"courses/{COURSE}/translations/xx.po:1: unknown language 'xx'" in text
    assert db.session.scalar(db.select(db.func.count()).select_from(ContentTranslation)) == 0


def test_a_translated_question_scores_the_same_and_shows_its_translation(app, runner, content, client, auth, world):
    folders(app, content)
    export(runner, content)
    fill(content, lambda context, english: albanian(context, english) if context.startswith("question/") else None)
    tree = load_content(content.folder)
    assert tree.errors == []
    sync_content(content.folder)
    db.session.commit()
    module = db.session.scalar(db.select(Module).where(Module.slug == "first-module"))
    question = db.session.scalar(db.select(Question).where(Question.module_id == module.id,
                                                           Question.slug == "single-one"))
    localised = translations.localised_questions({question.id: question}, "first-module", "sq")[question.id]
    assert localised.prompt.startswith("SQ ")
    assert [o["id"] for o in localised.data["options"]] == [o["id"] for o in question.data["options"]]
    assert [o["correct"] for o in localised.data["options"]] == [o["correct"] for o in question.data["options"]]
    assert {o["text"] for o in localised.data["options"]} == {"SQ 2001", "SQ 2004", "SQ 1981"}
    from academy.learning.question_types import TYPES

    right = next(o["id"] for o in question.data["options"] if o["correct"])
    assert TYPES["single"].is_correct(localised.data, right) == TYPES["single"].is_correct(question.data, right)


def test_import_puts_a_file_back_in_its_place_and_refuses_a_broken_one(app, runner, content, tmp_path):
    folders(app, content)
    away = tmp_path / "away"
    result = runner.invoke(args=["content", "translations", "export", "sq", "--course", COURSE, "--to", str(away)])
    assert result.exit_code == 0, result.output
    taken = away / f"course-{COURSE}.sq.po"
    fill(content, lesson_units, name=str(taken))
    result = runner.invoke(args=["content", "translations", "import", str(taken)])
    assert result.exit_code == 0, result.output
    assert "SQ The first lesson" in content.read(PO)
    fill(content, lambda context, english: "SQ pa citim" if context == "lesson/first-lesson/body" else None,
         name=str(taken))
    before = content.read(PO)
    result = runner.invoke(args=["content", "translations", "import", str(taken)])
    assert result.exit_code == 1 and "nothing was written" in result.output
    assert content.read(PO) == before


def test_the_locales_api_lists_every_locale_with_its_shares(app, runner, content, client):
    folders(app, content)
    export(runner, content)
    fill(content, lesson_units)
    sync_content(content.folder)
    db.session.commit()
    response = client.get("/api/v1/locales", headers={"Accept-Language": "mk"})
    assert response.status_code == 200 and response.headers["Content-Language"] == "mk"
    found = {entry["tag"]: entry for entry in response.get_json()}
    assert list(found) == ["en", "sq", "mk", "sr-Cyrl", "sr-Latn", "bs", "hr", "cnr"]
    assert found["en"]["ui"] == 1.0 and found["mk"]["name"] == "Македонски"
    assert 0 < found["sq"]["courses"][COURSE] < 1  # the lessons, not the questions
    assert found["hr"]["courses"] == {}


def test_the_api_answers_in_the_callers_language_and_says_which(app, runner, content, client, world):
    folders(app, content)
    export(runner, content)
    fill(content, lesson_units)
    sync_content(content.folder)
    db.session.commit()
    from tests import factories

    raw = factories.issue_token(world.learner, "languages")[1]
    for language, title in (("sq", "SQ An introduction"), ("hr", "An introduction"), (None, "An introduction")):
        headers = {"Authorization": f"Bearer {raw}", **({"Accept-Language": language} if language else {})}
        response = client.get("/api/v1/courses", headers=headers)
        assert response.status_code == 200
        assert response.headers["Content-Language"] == (language or "en")
        [course] = response.get_json()
        assert course["title"] == title
        assert course["modules"][0]["title"] == ("SQ The first module" if language == "sq" else "The first module")


def test_a_quiz_says_which_questions_are_still_in_english(app, runner, content, client, auth, world):
    folders(app, content)
    export(runner, content)
    fill(content, lesson_units)  # the lessons, not the questions
    sync_content(content.folder)
    db.session.commit()
    from academy.learning import services

    services.enrol(world.learner, db.session.scalar(db.select(Course).where(Course.slug == COURSE)))
    db.session.commit()
    auth.as_user(world.learner)
    started = client.post(f"/courses/{COURSE}/modules/first-module/quiz/start", headers={"Accept-Language": "sq"})
    page = client.get(started.headers["Location"], headers={"Accept-Language": "sq"})
    assert '<html lang="sq">' in page.text and "/languages" in page.text
    assert page.text.count('lang="en">') >= 8  # each question, in English, says so


def test_the_languages_page_shows_what_each_language_has_by_title(app, runner, content, client):
    folders(app, content)
    export(runner, content)
    fill(content, lesson_units)
    sync_content(content.folder)
    db.session.commit()
    page = client.get("/languages", headers={"Accept-Language": "hr"})
    assert page.status_code == 200 and '<html lang="hr">' in page.text
    assert "SQ An introduction" in page.text  # the course by its title in that language, with its share
    assert page.text.count("An introduction") == 1  # and no other language claims it
