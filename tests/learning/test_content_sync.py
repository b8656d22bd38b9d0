"""`flask content sync`: upsert by slug, idempotent, archive instead of delete, nothing written when invalid."""
import shutil

import pytest

from academy.core.content.files import ContentInvalid
from academy.core.models import ContentTranslation
from academy.extensions import db
from academy.learning.models import ContentRelease, Course, Lesson, Module, Question, Track
from academy.learning.sync import sync_content

LESSON = "intro-course/lessons/second-lesson.md"
FIRST_LESSON = "intro-course/lessons/first-lesson.md"
MODELS = (Course, Module, Lesson, Question, Track, ContentRelease)


def row_counts() -> list[int]:
    return [db.session.scalar(db.select(db.func.count()).select_from(model)) for model in MODELS]


def lesson(slug: str) -> Lesson:
    return db.session.scalar(db.select(Lesson).where(Lesson.slug == slug))


def sync(content):
    report = sync_content(content.folder)
    db.session.commit()
    return {outcome: report.total(outcome) for outcome in ("created", "updated", "archived", "unchanged")}


def test_first_sync_creates_everything(app, content):
    assert sync(content) == {"created": 1 + 1 + 2 + 8 + 1, "updated": 0, "archived": 0, "unchanged": 0}
    course = db.session.scalar(db.select(Course))
    assert (course.slug, course.tracks, course.published) == ("intro-course", ["cert", "policy"], True)
    module = course.modules[0]
    assert (module.pass_mark, module.questions_per_attempt, module.max_attempts) == (70, 8, 3)
    assert [item.slug for item in module.lessons] == ["first-lesson", "second-lesson"]
    assert [q.slug for q in module.questions][:5] == ["single-one", "multiple-one", "true-false-one",
                                                     "ordering-one", "matching-one"]
    assert lesson("second-lesson").sections == ["§4.5", "§4.8"]
    assert db.session.scalar(db.select(Track)).course_slugs == ["intro-course"]


def test_second_sync_changes_nothing(app, content):
    sync(content)
    first = db.session.scalar(db.select(ContentRelease))
    stamps = [row.updated_at for row in db.session.scalars(db.select(Question))]
    assert sync(content) == {"created": 0, "updated": 0, "archived": 0, "unchanged": 13}
    second = db.session.scalar(db.select(ContentRelease).order_by(ContentRelease.id.desc()))
    assert second.tree_hash == first.tree_hash
    assert second.detail["lessons"] == {"created": 0, "updated": 0, "archived": 0, "unchanged": 2}
    assert [row.updated_at for row in db.session.scalars(db.select(Question))] == stamps


def test_editing_a_lesson_updates_only_that_lesson(app, content):
    sync(content)
    content.edit(LESSON, "## Montenegro", "## Montenegro and its CIRT")
    assert sync(content) == {"created": 0, "updated": 1, "archived": 0, "unchanged": 12}
    assert "Montenegro and its CIRT" in lesson("second-lesson").body_html


def test_removed_lesson_is_archived_then_restored(app, content):
    sync(content)
    lesson_id = lesson("first-lesson").id
    text = content.read(FIRST_LESSON)
    content.remove(FIRST_LESSON)
    content.edit("intro-course/course.yml", "[first-lesson, second-lesson]", "[second-lesson]")
    # second-lesson moved up to position 0: that is its update
    assert sync(content) == {"created": 0, "updated": 1, "archived": 1, "unchanged": 11}
    archived = lesson("first-lesson")
    assert archived.id == lesson_id and archived.archived_at is not None
    assert lesson("second-lesson").position == 0

    content.write(FIRST_LESSON, text)
    content.edit("intro-course/course.yml", "[second-lesson]", "[first-lesson, second-lesson]")
    assert sync(content) == {"created": 0, "updated": 2, "archived": 0, "unchanged": 11}
    restored = lesson("first-lesson")
    assert restored.id == lesson_id and restored.archived_at is None


def test_renamed_course_is_archived_and_its_content_moves(app, content):
    sync(content)
    module_id = db.session.scalar(db.select(Module)).id
    shutil.move(content.path("intro-course"), content.path("other-course"))
    content.edit("other-course/course.yml", "slug: intro-course", "slug: other-course")
    content.edit("tracks.yml", "[intro-course]", "[other-course]")
    # updated: the module (new course), the track (new list) and first-lesson (its link's URL names the course)
    assert sync(content) == {"created": 1, "updated": 3, "archived": 1, "unchanged": 9}
    module = db.session.get(Module, module_id)
    assert module.course.slug == "other-course"
    old = db.session.scalar(db.select(Course).where(Course.slug == "intro-course"))
    assert old.archived_at is not None and old.modules == []
    assert "/courses/other-course/lessons/second-lesson" in lesson("first-lesson").body_html


def test_invalid_tree_writes_nothing(app, runner, content):
    sync(content)
    before = row_counts()
    content.edit(LESSON, "## Montenegro", "## Montenegro, edited")
    content.edit("intro-course/course.yml", "pass_mark: 70", "pass_mark: 700")
    result = runner.invoke(args=["content", "sync", "--path", str(content.folder)])
    assert result.exit_code == 1
    assert "courses/intro-course/course.yml:12: pass_mark: must be between 1 and 100" in result.output
    db.session.expire_all()
    assert row_counts() == before
    assert "edited" not in lesson("second-lesson").body_markdown


def test_invalid_tree_raises_before_writing(app, content):
    content.edit("intro-course/course.yml", "pass_mark: 70", "pass_mark: 0")
    with pytest.raises(ContentInvalid) as raised:
        sync_content(content.folder)
    assert [str(error) for error in raised.value.errors] == [
        "courses/intro-course/course.yml:12: pass_mark: must be between 1 and 100"]
    assert row_counts() == [0] * len(MODELS)


def test_sync_command_prints_counts_and_commits(app, runner, content):
    result = runner.invoke(args=["content", "sync", "--path", str(content.folder)])
    assert result.exit_code == 0, result.output
    assert "lessons    2 created, 0 updated, 0 archived, 0 unchanged" in result.output
    assert "13 created, 0 updated, 0 archived, 0 unchanged" in result.output.splitlines()[-1]
    db.session.rollback()
    assert row_counts() == [1, 1, 2, 8, 1, 1]


def test_real_courses_sync_twice(app, runner):
    courses = ["--path", str(app.config["COURSES_DIR"])]  # the course folder alone, without the scenarios
    assert runner.invoke(args=["content", "sync", *courses]).exit_code == 0
    result = runner.invoke(args=["content", "sync", *courses])
    assert result.exit_code == 0
    release = db.session.scalar(db.select(ContentRelease).order_by(ContentRelease.id.desc()))
    assert release.created == release.updated == release.archived == 0
    translated = db.session.scalar(db.select(db.func.count()).select_from(ContentTranslation))
    assert release.unchanged == sum(row_counts()[:5]) + translated  # the units synced in other languages too
