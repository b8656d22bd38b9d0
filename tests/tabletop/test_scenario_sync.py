"""`flask content sync` for scenarios: a version per distinct content, old versions untouched, archive not delete."""
import copy

import pytest

from academy.core.content.files import ContentInvalid
from academy.extensions import db
from academy.learning.models import Lesson
from academy.tabletop.models import Scenario, ScenarioVersion
from academy.tabletop.scenario import Scenario as ScenarioData
from academy.tabletop.scenario_files import load_scenarios
from academy.tabletop.scenario_sync import sync_scenarios
from tests.tabletop.scenario_fixture import SCENARIO

MODULES = {"first-module"}  # the fixture course tree's one module


def sync(exercises) -> dict:
    counts = sync_scenarios(exercises.folder, MODULES)
    db.session.commit()
    return {outcome: count for outcome, count in counts.items() if count}


def scenario() -> Scenario:
    return db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))


def row_counts() -> list[int]:
    return [db.session.scalar(db.select(db.func.count()).select_from(model)) for model in (Scenario, ScenarioVersion)]


def test_first_sync_creates_the_scenario_and_version_1(app, exercises):
    assert sync(exercises) == {"created": 1}
    row = scenario()
    assert (row.title, row.duration_minutes, row.archived_at) == ("A small scenario for the tests", 60, None)
    assert row.summary == "A botnet floods a bank and the e-government portal."
    [version] = row.versions
    assert row.current_version is version and version.number == 1
    [loaded], _ = load_scenarios(exercises.folder, MODULES)
    assert version.content_hash == loaded.content_hash
    assert version.definition == loaded.to_definition()


def test_a_stored_definition_rebuilds_the_scenario(app, exercises):
    sync(exercises)
    [loaded], _ = load_scenarios(exercises.folder, MODULES)
    assert ScenarioData.from_definition(scenario().current_version.definition) == loaded


def test_second_sync_changes_nothing(app, exercises):
    sync(exercises)
    assert sync(exercises) == {"unchanged": 1}
    assert row_counts() == [1, 1]


def test_comments_and_layout_do_not_make_a_version(app, exercises):
    sync(exercises)
    exercises.edit(SCENARIO, "slug: fixture-scenario", "# Edited by the tests.\nslug: fixture-scenario")
    exercises.edit(SCENARIO, "audience: all", 'audience: "all"')
    exercises.edit(SCENARIO, "scores: {cert-share: 3}", "scores:\n            cert-share: 3")
    assert sync(exercises) == {"unchanged": 1}


def test_an_edit_makes_version_2_and_leaves_version_1_intact(app, exercises):
    sync(exercises)
    first = scenario().current_version
    first_id, first_hash, first_definition = first.id, first.content_hash, copy.deepcopy(first.definition)
    exercises.edit(SCENARIO, "title: A small scenario for the tests", "title: A longer night")
    assert sync(exercises) == {"new version": 1}
    db.session.expire_all()
    row = scenario()
    assert row.title == "A longer night"
    assert [version.number for version in row.versions] == [1, 2]
    assert row.current_version.number == 2 and row.current_version.definition["title"] == "A longer night"
    old = db.session.get(ScenarioVersion, first_id)
    assert (old.content_hash, old.definition) == (first_hash, first_definition)


def test_going_back_to_earlier_content_reuses_its_version(app, exercises):
    sync(exercises)
    text = exercises.read(SCENARIO)
    exercises.edit(SCENARIO, "duration_minutes: 60", "duration_minutes: 90")
    sync(exercises)
    exercises.write(SCENARIO, text)
    assert sync(exercises) == {"new version": 1}
    row = scenario()
    assert row.current_version.number == 1 and row.duration_minutes == 60
    assert row_counts() == [1, 2]


def test_a_removed_file_is_archived_then_restored(app, exercises):
    sync(exercises)
    text = exercises.read(SCENARIO)
    exercises.remove(SCENARIO)
    assert sync(exercises) == {"archived": 1}
    row = scenario()
    assert row.archived_at is not None and row.current_version.number == 1
    assert sync(exercises) == {}  # already archived
    exercises.write(SCENARIO, text)
    assert sync(exercises) == {"restored": 1}
    assert scenario().archived_at is None
    assert row_counts() == [1, 1]


def test_versions_cannot_be_changed(app, exercises):
    sync(exercises)
    version = scenario().current_version
    version.definition = {**version.definition, "title": "Rewritten"}
    with pytest.raises(ValueError, match="immutable"):
        db.session.flush()
    db.session.rollback()


def test_invalid_scenarios_raise_before_writing(app, exercises):
    line = exercises.edit(SCENARIO, "duration_minutes: 60", "duration_minutes: 20")
    with pytest.raises(ContentInvalid) as raised:
        sync_scenarios(exercises.folder, MODULES)
    assert [str(error) for error in raised.value.errors] == [
        exercises.error(SCENARIO, line, "duration_minutes: must be between 60 and 120")]
    assert row_counts() == [0, 0]


def test_sync_command_syncs_both_trees_and_prints_both_counts(app, runner, content_args):
    result = runner.invoke(args=["content", "sync", *content_args])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "13 created, 0 updated, 0 archived, 0 unchanged" in lines[-2]
    assert lines[-1] == "scenarios  1 created, 0 new version, 0 restored, 0 unchanged, 0 archived"
    db.session.rollback()
    assert row_counts() == [1, 1]
    assert db.session.scalar(db.select(db.func.count()).select_from(Lesson)) == 2


def test_an_error_in_either_tree_writes_nothing(app, runner, courses, exercises, content_args):
    assert runner.invoke(args=["content", "sync", *content_args]).exit_code == 0
    lesson = "intro-course/lessons/second-lesson.md"
    courses.edit(lesson, "## Montenegro", "## Montenegro, edited")
    exercises.edit(SCENARIO, "title: A small scenario for the tests", "title: A longer night")
    line = exercises.edit(SCENARIO, "phase: crisis", "phase: panic")
    result = runner.invoke(args=["content", "sync", *content_args])
    assert result.exit_code == 1
    assert exercises.error(SCENARIO, line, "phase: unknown phase 'panic' (expected one of: detection, spread, "
                                           "crisis, recovery)") in result.output.splitlines()
    db.session.expire_all()
    assert row_counts() == [1, 1]
    assert scenario().title == "A small scenario for the tests"
    assert "edited" not in db.session.scalar(db.select(Lesson).where(Lesson.slug == "second-lesson")).body_markdown


def test_a_course_error_keeps_the_scenarios_out_too(app, runner, courses, content_args):
    courses.edit("intro-course/course.yml", "pass_mark: 70", "pass_mark: 0")
    result = runner.invoke(args=["content", "sync", *content_args])
    assert result.exit_code == 1
    assert "courses/intro-course/course.yml:12: pass_mark: must be between 1 and 100" in result.output
    assert row_counts() == [0, 0]
