import pytest

from tests.content_fixture import ContentFolder
from tests.tabletop.scenario_fixture import ScenarioFolder


@pytest.fixture
def courses(tmp_path):
    """The fixture course tree: its module `first-module` is the one the fixture scenario names."""
    return ContentFolder(tmp_path)


@pytest.fixture
def exercises(tmp_path):
    return ScenarioFolder(tmp_path)


@pytest.fixture
def content_args(courses, exercises):
    return ["--path", str(courses.folder), "--exercises", str(exercises.folder)]


@pytest.fixture
def check(runner, content_args):
    """Run `content check` over both fixture trees; returns (exit code, output lines)."""

    def run():
        result = runner.invoke(args=["content", "check", *content_args])
        return result.exit_code, result.output.splitlines()

    return run
