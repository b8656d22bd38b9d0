"""Property tests of the content loader: generated course trees load exactly as written; broken ones only ever
give clear `file:line: message` errors, and syncing a broken one writes nothing."""
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Integer, String

from academy.core.content.sections import SECTIONS
from academy.extensions import db
from academy.learning import models, schemas
from academy.learning.content import load_content
from academy.learning.sync import sync_content
from tests.content_fixture import COURSE, COURSE_YML, FIRST_LESSON, QUIZ_YML, SECOND_LESSON, TRACKS_YML
from tests.yaml_mutations import ERROR_LINE, UNSTORABLE, assert_clear, broken_data, dump, garbled, replaced, stretched

SLUGS = st.from_regex(r"[a-z0-9]{1,6}(-[a-z0-9]{1,6}){0,2}", fullmatch=True)
SECTION_LISTS = st.lists(st.sampled_from(sorted(SECTIONS)), min_size=1, max_size=3, unique=True)
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# One line of any text but a section sign (that would cite a section), NUL and lone surrogates (nothing can store
# them: a database or UTF-8).
LINE = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="§\x00" + LINE_BREAKS),
               min_size=1, max_size=16).filter(str.strip)
# Lesson Markdown without the characters of raw HTML, code spans, link syntax and tables, which blocks add on purpose.
PLAIN = st.text(st.one_of(st.characters(categories=("Lu", "Ll", "Lo", "Nd")), st.sampled_from(" .,;:!?'\"-()*_#+=")),
                min_size=1, max_size=24).filter(str.strip)
LESSON_LINK = re.compile(r"\]\(lesson:([a-z0-9-]+)\)")
QUESTION_TYPES = sorted(schemas.QUESTION_SCHEMAS)
OPTIONAL = frozenset({"published", "correct"})
KNOWN = frozenset(name for schema in (schemas.CourseSchema, schemas.ModuleSchema, schemas.QuizSettingsSchema,
                                      schemas.LessonFrontMatterSchema, schemas.TracksFileSchema, schemas.TrackSchema,
                                      schemas.QuizFileSchema, schemas.OptionSchema, schemas.PairSchema,
                                      *schemas.QUESTION_SCHEMAS.values())
                  for name in schema().fields)
# Examples share the test's app and database on purpose: each leaves them as it found them.
SHARED_APP = settings(suppress_health_check=[*settings.default.suppress_health_check,
                                             HealthCheck.function_scoped_fixture])


@dataclass
class Lesson:
    front: object
    body: str

    def text(self) -> str:
        return "---\n" + dump(self.front) + "---\n" + self.body


def render(document) -> bytes:
    if isinstance(document, bytes):
        return document
    return (document.text() if isinstance(document, Lesson) else dump(document)).encode("utf-8")


def write(files: dict, root: Path) -> Path:
    folder = root / "courses"
    for name, document in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(render(document))
    return folder


# --- Valid trees ------------------------------------------------------------------------------

@st.composite
def bodies(draw, lessons: list[str]) -> str:
    paragraph = st.tuples(PLAIN, st.sampled_from(["", " (§4.5)", " — see §3.1."])).map("".join)
    heading = PLAIN.map(lambda text: f"## {text}")
    bullets = st.lists(PLAIN, min_size=1, max_size=3).map(lambda items: "\n".join(f"- {item}" for item in items))
    table = st.lists(st.tuples(PLAIN, PLAIN), min_size=1, max_size=3).map(
        lambda rows: "| country | CERT |\n|---|:-:|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows))
    link = st.tuples(PLAIN, st.sampled_from(lessons)).map(lambda pair: f"Read [{pair[0]}](lesson:{pair[1]}).")
    external = st.tuples(PLAIN, SLUGS).map(lambda pair: f"See [{pair[0]}](https://example.org/{pair[1]}).")
    blocks = draw(st.lists(st.one_of(paragraph, heading, bullets, table, link, external), min_size=1, max_size=5))
    return "\n\n".join(blocks) + "\n"


def citing(words):
    """A text, sometimes citing a section."""
    cited = st.tuples(words, st.sampled_from(sorted(SECTIONS))).map(lambda pair: f"{pair[0]} ({pair[1]})")
    return st.one_of(words, cited)


@st.composite
def questions(draw, slug: str, words) -> dict:
    kind = draw(st.sampled_from(QUESTION_TYPES))
    question = {"slug": slug, "type": kind, "sections": draw(SECTION_LISTS), "prompt": draw(citing(words))}
    if kind in ("single", "multiple"):
        texts = draw(st.lists(words, min_size=3, max_size=5, unique=True))
        if kind == "single":
            right = draw(st.integers(0, len(texts) - 1))
            flags = [index == right for index in range(len(texts))]
        else:
            flags = draw(st.lists(st.booleans(), min_size=len(texts), max_size=len(texts)).filter(any))
        # `correct: false` may be written or left out.
        question["options"] = [{"text": text, **({"correct": flag} if flag or draw(st.booleans()) else {})}
                               for text, flag in zip(texts, flags)]
    elif kind == "true_false":
        question["answer"] = draw(st.booleans())
    elif kind == "ordering":
        question["items"] = draw(st.lists(words, min_size=3, max_size=6, unique=True))
    else:
        count = draw(st.integers(3, 6))
        lefts, rights = (draw(st.lists(words, min_size=count, max_size=count, unique=True)) for _ in range(2))
        question["pairs"] = [{"left": left, "right": right} for left, right in zip(lefts, rights)]
    question["explanation"] = draw(citing(words))
    return question


@st.composite
def modules(draw, slug: str, lessons: list[str], words) -> tuple[dict, dict]:
    """A module of course.yml and its quiz file."""
    quiz = {"pass_mark": draw(st.integers(1, 100)), "questions_per_attempt": draw(st.integers(1, 10)),
            "max_attempts": draw(st.integers(0, 5))}
    size = max(8, quiz["questions_per_attempt"]) + draw(st.integers(0, 1))
    slugs = draw(st.lists(SLUGS, min_size=size, max_size=size, unique=True))
    module = {"slug": slug, "title": draw(words), "summary": draw(words), "lessons": lessons, "quiz": quiz}
    return module, {"module": slug, "questions": [draw(questions(question, words)) for question in slugs]}


@st.composite
def course_trees(draw, courses: int = 2) -> dict:
    """A valid courses/ tree of 1 to `courses` courses: file name under courses/ -> YAML data, or Lesson."""
    shape = draw(st.lists(st.lists(st.integers(1, 2), min_size=1, max_size=2), min_size=1, max_size=courses))
    count = len(shape) + sum(len(course) for course in shape) + sum(map(sum, shape))
    names = iter(draw(st.lists(SLUGS, min_size=count, max_size=count, unique=True)))
    plan = [(next(names), [(next(names), [next(names) for _ in range(n)]) for n in course]) for course in shape]
    every_lesson = [lesson for _, course in plan for _, lessons in course for lesson in lessons]
    # Texts drawn from a few arbitrary ones: as varied, and much faster to generate than one for every field.
    words = st.sampled_from(draw(st.lists(LINE, min_size=6, max_size=10, unique=True)))
    files = {}
    for course, course_modules in plan:
        data = {"slug": course, "title": draw(words), "summary": draw(words),
                "tracks": draw(st.lists(st.sampled_from(schemas.TRACK_CODES), min_size=1, unique=True))}
        published = draw(st.sampled_from([True, False, None]))
        data.update({} if published is None else {"published": published})
        data["modules"] = []
        for module, lessons in course_modules:
            written, quiz = draw(modules(module, lessons, words))
            data["modules"].append(written)
            files[f"{course}/quizzes/{module}.yml"] = quiz
            for lesson in lessons:
                front = {"slug": lesson, "title": draw(words), "sections": draw(SECTION_LISTS),
                         "minutes": draw(st.integers(1, 120))}
                files[f"{course}/lessons/{lesson}.md"] = Lesson(front, draw(bodies(every_lesson)))
        files[f"{course}/course.yml"] = data
    courses = [course for course, _ in plan]
    tracks = draw(st.lists(st.sampled_from(schemas.TRACK_CODES), min_size=1, unique=True))
    files["tracks.yml"] = {"tracks": [{"code": code, "title": draw(words), "summary": draw(words),
                                       "courses": draw(st.lists(st.sampled_from(courses), min_size=1, unique=True))}
                                      for code in tracks]}
    return files


def answers(kind: str, written: dict) -> object:
    """The right answer of a question as written in its file."""
    if kind in ("single", "multiple"):
        return [(option["text"], option.get("correct", False)) for option in written["options"]]
    if kind == "true_false":
        return written["answer"]
    if kind == "ordering":
        return written["items"]
    return [(pair["left"], pair["right"]) for pair in written["pairs"]]


def loaded_answers(question) -> object:
    data = question.data
    if question.type in ("single", "multiple"):
        return [(option["text"], option["correct"]) for option in data["options"]]
    if question.type == "true_false":
        return data["answer"]
    if question.type == "ordering":
        return [item["text"] for item in data["items"]]
    return [(pair["left"], pair["right"]) for pair in data["pairs"]]


def assert_loads_as_written(tree, files: dict) -> None:
    assert tree.errors == []
    # In the order of their folders, as the loader reads them.
    course_files = sorted((name for name in files if name.endswith("/course.yml")), key=lambda name: name.split("/")[0])
    assert [course.slug for course in tree.courses] == [files[name]["slug"] for name in course_files]
    lesson_courses = {name.split("/")[2][:-3]: name.split("/")[0] for name in files if name.endswith(".md")}
    for course, name in zip(tree.courses, course_files):
        written = files[name]
        assert (course.title, course.summary, course.tracks, course.published) == (
            written["title"], written["summary"], written["tracks"], written.get("published", False))
        assert [module.slug for module in course.modules] == [module["slug"] for module in written["modules"]]
        for module, raw in zip(course.modules, written["modules"]):
            assert (module.title, module.summary, module.pass_mark, module.questions_per_attempt,
                    module.max_attempts) == (raw["title"], raw["summary"], *raw["quiz"].values())
            assert [lesson.slug for lesson in module.lessons] == raw["lessons"]
            for position, lesson in enumerate(module.lessons):
                source = files[f"{course.slug}/lessons/{lesson.slug}.md"]
                assert (lesson.title, lesson.sections, lesson.minutes, lesson.body_markdown, lesson.position) == (
                    source.front["title"], source.front["sections"], source.front["minutes"], source.body, position)
                for target in LESSON_LINK.findall(source.body):
                    assert f'href="/courses/{lesson_courses[target]}/lessons/{target}"' in lesson.body_html
            quiz = files[f"{course.slug}/quizzes/{module.slug}.yml"]["questions"]
            assert [(q.slug, q.type, q.prompt, q.sections, q.explanation) for q in module.questions] == [
                (q["slug"], q["type"], q["prompt"], q["sections"], q["explanation"]) for q in quiz]
            assert [loaded_answers(q) for q in module.questions] == [answers(q["type"], q) for q in quiz]
    assert [(t.code, t.title, t.summary, t.course_slugs) for t in tree.tracks] == [
        (t["code"], t["title"], t["summary"], t["courses"]) for t in files["tracks.yml"]["tracks"]]


@pytest.mark.no_database
@given(course_trees(), st.booleans())
def test_a_generated_tree_loads_as_written(files, windows):
    # Saved by a Windows editor: a byte order mark and CRLF line ends change nothing.
    with tempfile.TemporaryDirectory() as tmp:
        folder = write({name: b"\xef\xbb\xbf" + render(doc).replace(b"\n", b"\r\n") if windows else doc
                        for name, doc in files.items()}, Path(tmp))
        assert_loads_as_written(load_content(folder), files)


def assert_synced(tree, report) -> None:
    """The database holds what was loaded: every row created, with its texts and answers."""
    assert report.total("created") == (len(tree.courses) + len(tree.modules) + len(tree.lessons)
                                       + len(tree.questions) + len(tree.tracks))
    stored = {row.slug: (row.title, row.summary, row.tracks, row.published)
              for row in db.session.scalars(db.select(models.Course))}
    assert stored == {c.slug: (c.title, c.summary, c.tracks, c.published) for c in tree.courses}
    stored = {row.slug: (row.title, row.sections, row.body_markdown, row.body_html)
              for row in db.session.scalars(db.select(models.Lesson))}
    assert stored == {lesson.slug: (lesson.title, lesson.sections, lesson.body_markdown, lesson.body_html)
                      for lesson in tree.lessons}
    query = db.select(models.Module.slug, models.Question.slug, models.Question.type, models.Question.prompt,
                      models.Question.data).join(models.Module, models.Question.module_id == models.Module.id)
    stored = {(module, slug): rest for module, slug, *rest in db.session.execute(query)}
    assert stored == {(module.slug, q.slug): [q.type, q.prompt, q.data]
                      for module in tree.modules for q in module.questions}


@SHARED_APP
@given(course_trees(courses=1))
def test_a_generated_tree_syncs_as_loaded(app, files):
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(files, Path(tmp))
        tree = load_content(folder)
        try:
            assert_synced(tree, sync_content(folder))
        finally:
            db.session.rollback()  # sync only flushes: the next example starts from an empty database again


# --- Broken trees -----------------------------------------------------------------------------

def _yaml_names(files: dict) -> list[str]:
    return sorted(name for name in files if name.endswith(".yml"))


def _lesson_names(files: dict) -> list[str]:
    return sorted(name for name in files if name.endswith(".md"))


@st.composite
def broken_file(draw, files: dict, name: str) -> tuple[dict, bool]:
    """One file changed; True when the change must be refused."""
    document = files[name]
    data = document.front if isinstance(document, Lesson) else document
    how = draw(st.sampled_from(["schema", "schema", "stretch", "bytes"] + ["body"] * isinstance(document, Lesson)))
    if how == "bytes":
        broken, refused = draw(garbled(render(document).decode("utf-8")))
        return {**files, name: broken}, refused
    if how == "body":
        return {**files, name: Lesson(document.front, draw(broken_bodies(document.body)))}, True
    data = replaced(data, *draw(broken_data(data, OPTIONAL, KNOWN) if how == "schema" else stretched(data)))
    return {**files, name: Lesson(data, document.body) if isinstance(document, Lesson) else data}, how == "schema"


@st.composite
def broken_bodies(draw, body: str) -> str:
    """A lesson body with one mistake the checker must report."""
    at = draw(st.integers(0, len(body)))
    mistake = draw(st.sampled_from(["", "<b>bold</b>", "<script>alert(1)</script>\n", "[x](lesson:no-such-lesson)",
                                    "(§9.9)", "§4.99"]))
    return "" if not mistake else body[:at] + f"\n\n{mistake}\n\n" + body[at:]


@st.composite
def broken_tree(draw, files: dict) -> tuple[dict, bool]:
    """A change across files: a duplicate, a missing or a stray file; always refused."""
    lessons, quizzes = _lesson_names(files), [name for name in _yaml_names(files) if "/quizzes/" in name]
    courses = sorted(name.split("/")[0] for name in files if name.endswith("/course.yml"))
    how = draw(st.sampled_from(["copy-lesson", "copy-course", "same-question", "front-matter", "missing", "stray"]))
    if how == "copy-lesson":
        source = draw(st.sampled_from(lessons))
        target = f"{draw(st.sampled_from(courses))}/lessons/{draw(SLUGS)}.md"
        return ({**files, target: files[source]}, True) if target not in files else (files, False)
    if how == "copy-course":
        course = draw(st.sampled_from(courses))
        copy = draw(SLUGS.filter(lambda slug: slug not in courses))
        return {**files, **{copy + name[len(course):]: doc for name, doc in files.items()
                            if name.startswith(course + "/")}}, True
    if how == "same-question":
        name = draw(st.sampled_from(quizzes))
        quiz = files[name]
        first, second = sorted(draw(st.lists(st.integers(0, len(quiz["questions"]) - 1), min_size=2, max_size=2,
                                             unique=True)))
        changed = [dict(q) for q in quiz["questions"]]
        changed[second]["slug"] = changed[first]["slug"]
        return {**files, name: {**quiz, "questions": changed}}, True
    if how == "front-matter":
        name = draw(st.sampled_from(lessons))
        text = files[name].text()
        if draw(st.booleans()):
            return {**files, name: text[4:].encode("utf-8")}, True
        # Without its closing line, a later `---` line of the body would close the front matter instead.
        refused = "---" not in (line.strip() for line in files[name].body.splitlines())
        return {**files, name: text.replace("\n---\n", "\n", 1).encode("utf-8")}, refused
    if how == "missing":
        name = draw(st.sampled_from(sorted(files)))
        return {key: value for key, value in files.items() if key != name}, True
    folder = draw(st.sampled_from(["lessons", "quizzes"]))
    return {**files, f"{draw(st.sampled_from(courses))}/{folder}/notes.txt": b"stray"}, True


@st.composite
def broken_trees(draw, refused_only: bool = False, courses: int = 2) -> tuple[dict, str | None, bool]:
    """A valid tree with one thing broken: (files, the changed file or None, whether the change must be refused)."""
    files = draw(course_trees(courses))
    if draw(st.booleans()):
        broken, refused = draw(broken_tree(files))
        name = None
    else:
        name = draw(st.sampled_from(sorted(files)))
        broken, refused = draw(broken_file(files, name))
    if refused_only and not refused:  # a change the checker may accept: break tracks.yml instead
        broken, refused, name = {**files, "tracks.yml": b"tracks: [unclosed\n"}, True, "tracks.yml"
    return broken, name, refused


def assert_fits_database(tree) -> None:
    """What the checker accepts, every database column can hold: no check passes and then a sync fails."""
    for rows, model in ((tree.courses, models.Course), (tree.modules, models.Module), (tree.lessons, models.Lesson),
                        (tree.questions, models.Question), (tree.tracks, models.Track)):
        for row in rows:
            for column in model.__table__.columns:
                value = getattr(row, column.name, None)
                if isinstance(value, str):
                    assert not UNSTORABLE.search(value), (column, value[:80])
                    assert not isinstance(column.type, String) or not column.type.length \
                        or len(value) <= column.type.length, (column, len(value))
                elif isinstance(value, int) and isinstance(column.type, Integer):
                    assert -(2**31) <= value < 2**31, (column, value)


@pytest.mark.no_database
@given(broken_trees())
def test_a_broken_tree_gives_clear_errors_and_never_raises(case):
    files, name, refused = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(files, Path(tmp))
        tree = load_content(folder)
        assert_clear(tree.errors, folder.parent, "courses")
    if refused:
        assert tree.errors
    if refused and name:
        assert f"courses/{name}" in {error.path for error in tree.errors}
    if not tree.errors:
        assert_fits_database(tree)


@SHARED_APP
@given(broken_trees(refused_only=True, courses=1))
def test_syncing_a_broken_tree_prints_its_errors_and_writes_nothing(app, runner, case):
    files, _, _ = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(files, Path(tmp))
        result = runner.invoke(args=["content", "sync", "--path", str(folder)])
    assert result.exit_code == 1 and type(result.exception) is SystemExit, result.output
    lines = result.stdout.split("\n")[:-1]
    assert lines and all(ERROR_LINE.fullmatch(line) for line in lines), result.stdout
    assert result.stderr == f"{len(lines)} error(s); nothing was written.\n"
    for model in (models.Course, models.Module, models.Lesson, models.Question, models.Track,
                  models.ContentRelease):
        assert db.session.scalar(db.select(db.func.count()).select_from(model)) == 0


# --- The fixture tree, changed in one place -----------------------------------------------------

def _fixture_lesson(text: str) -> Lesson:
    _, front, body = text.split("---\n", 2)
    return Lesson(yaml.safe_load(front), body)


# The small valid tree of tests/content_fixture.py, as data.
FIXTURE = {"tracks.yml": yaml.safe_load(TRACKS_YML), f"{COURSE}/course.yml": yaml.safe_load(COURSE_YML),
           f"{COURSE}/lessons/first-lesson.md": _fixture_lesson(FIRST_LESSON),
           f"{COURSE}/lessons/second-lesson.md": _fixture_lesson(SECOND_LESSON),
           f"{COURSE}/quizzes/first-module.yml": yaml.safe_load(QUIZ_YML)}


@st.composite
def fixture_changes(draw) -> tuple[str, tuple, object]:
    """One change to one file of the fixture tree: (file name, path in its data or front matter, new value)."""
    name = draw(st.sampled_from(sorted(FIXTURE)))
    document = FIXTURE[name]
    data = document.front if isinstance(document, Lesson) else document
    return name, *draw(st.one_of(broken_data(data, OPTIONAL, KNOWN), stretched(data)))


# What the property found once, kept as examples that every run tries.
@example(("intro-course/quizzes/first-module.yml", ("questions", 0, "options", 0, "text"), "2001\ud800"))
@example(("intro-course/course.yml", ("modules", 0, "lessons", 0), "first-lesson" + "x" * 300))
@example(("intro-course/lessons/first-lesson.md", ("minutes",), 2**31))
@example(("intro-course/course.yml", ("title",), "x" * 201))
@example(("intro-course/course.yml", ("unknown\nkey",), 1))
@example(("tracks.yml", ("tracks", 0, "title"), "CERT\x00"))
@given(fixture_changes())
def test_a_changed_fixture_file_gives_clear_errors_or_fits_the_database(change):
    name, path, value = change
    document = FIXTURE[name]
    if isinstance(document, Lesson):
        document = Lesson(replaced(document.front, path, value), document.body)
    else:
        document = replaced(document, path, value)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write({**FIXTURE, name: document}, Path(tmp))
        tree = load_content(folder)
        assert_clear(tree.errors, folder.parent, "courses")
    if not tree.errors:
        assert_fits_database(tree)


@st.composite
def fixture_edits(draw) -> tuple[str, bytes]:
    """One file of the fixture tree damaged at the byte level: (file name, its new content)."""
    name = draw(st.sampled_from(sorted(FIXTURE)))
    return name, draw(garbled(render(FIXTURE[name]).decode("utf-8")))[0]


def _edited(name: str, old: str, new: str) -> tuple[str, bytes]:
    text = render(FIXTURE[name]).decode("utf-8")
    assert old in text
    return name, text.replace(old, new, 1).encode("utf-8")


@example(_edited("intro-course/course.yml", "published: true", "published: 2001-02-30"))
@example(_edited("intro-course/course.yml", "published: true", "published: !!bool maybe"))
@example(_edited("intro-course/course.yml", "title: An introduction", "title: An\x07introduction"))
@example(_edited("intro-course/course.yml", "tracks:", "tracks: " + "[" * 5000))  # deeper than any recursion limit
@example(_edited("intro-course/lessons/first-lesson.md", "explain why", "explain\x00why"))
@given(fixture_edits())
def test_an_edited_fixture_file_gives_clear_errors_or_fits_the_database(edit):
    name, content = edit
    with tempfile.TemporaryDirectory() as tmp:
        folder = write({**FIXTURE, name: content}, Path(tmp))
        tree = load_content(folder)
        assert_clear(tree.errors, folder.parent, "courses")
    if not tree.errors:
        assert_fits_database(tree)
