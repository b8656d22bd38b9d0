import pytest

from tests.conftest import KEEPABLE, kept_value
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


def make_scenario(root):
    """The fixture course and scenario synced from under `root`: the Scenario row."""
    from academy.extensions import db
    from academy.learning.sync import sync_content
    from academy.tabletop.models import Scenario
    from academy.tabletop.scenario_sync import sync_scenarios

    courses = ContentFolder(root)
    folder = ScenarioFolder(root)
    sync_content(courses.folder)
    sync_scenarios(folder.folder, {"first-module"})
    db.session.commit()
    return db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))


def make_live(world, scenario):
    """A session of `scenario` run by the world's trainer, with a diplomat, a CERT and an operator."""
    from types import SimpleNamespace

    from academy.extensions import db
    from academy.tabletop import services
    from tests import factories

    session = services.create_session(world.trainer, scenario, "Test session", allow_guests=True)
    people = {}
    for role, user in (("diplomat", world.learner),
                       ("cert", factories.make_user("cert@a.org", institution=world.institution_a)),
                       ("operator", factories.make_user("operator@b.org", institution=world.institution_b))):
        participant = services.join(session, user=user)
        services.assign_role(session, participant, role, world.trainer)
        people[role] = SimpleNamespace(user=user, participant=participant)
    db.session.commit()
    return SimpleNamespace(session=session, scenario=scenario, **people)


KEEPABLE["scenario"] = lambda made, folder: make_scenario(folder)
KEEPABLE["live"] = lambda made, folder: make_live(made["world"], made["scenario"])


@pytest.fixture
def scenario(app, tmp_path, kept_scenario):
    """The fixture course and scenario, synced: returns the Scenario row."""
    return kept_scenario if kept_scenario is not None else make_scenario(tmp_path / "live")


@pytest.fixture
def kept_scenario(app):
    return kept_value(app, "scenario")


@pytest.fixture
def live(app, world, scenario, kept_live):
    """A session of the fixture scenario run by the world's trainer, with a diplomat, a CERT and an operator."""
    return kept_live if kept_live is not None else make_live(world, scenario)


@pytest.fixture
def kept_live(app):
    return kept_value(app, "live")
