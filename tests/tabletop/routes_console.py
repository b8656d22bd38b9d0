"""Route-matrix rows of the trainer console: trainers and admins only; the session's own trainer or an admin."""
import tempfile
from pathlib import Path

from academy.extensions import db
from tests.route_rows import row

RUNNERS_200 = row(302, 403, 200, 403, 403, 200)
# An empty POST is refused as incomplete and sent back to the console, where the message is flashed.
RUNNERS_302 = row(302, 403, 302, 403, 403, 302)


def fixture_scenario():
    """The fixture scenario, synced once per database."""
    from academy.tabletop.models import Scenario
    from academy.tabletop.scenario_sync import sync_scenarios
    from tests.tabletop.scenario_fixture import ScenarioFolder

    found = db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))
    if found is None:
        with tempfile.TemporaryDirectory() as folder:
            sync_scenarios(ScenarioFolder(Path(folder)).folder, {"first-module"})
        db.session.commit()
        found = db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))
    return found


def session_url(action=""):
    """A builder: a session of the world's trainer, and the URL of its console (or of one of its actions)."""

    def build(w) -> str:
        from academy.tabletop import services

        live = services.create_session(w.trainer, fixture_scenario(), "Matrix session", allow_guests=False)
        db.session.commit()
        return f"/exercises/sessions/{live.id}" + (f"/{action}" if action else "")

    return build


ROUTES = {
    ("tabletop.sessions", "GET"): (lambda w: "/exercises", RUNNERS_200),
    ("tabletop.new_session", "GET"): (lambda w: "/exercises/new", RUNNERS_200),
    # An empty form: shown again with its errors, nothing created.
    ("tabletop.new_session", "POST"): (lambda w: "/exercises/new", RUNNERS_200),
    ("tabletop.console", "GET"): (session_url(), RUNNERS_200),
    ("tabletop.console_board", "GET"): (session_url("board"), RUNNERS_200),
    ("tabletop.console_command", "POST"): (session_url("command"), RUNNERS_302),
    ("tabletop.console_assign", "POST"): (session_url("assign"), RUNNERS_302),
    ("tabletop.console_release", "POST"): (session_url("release"), RUNNERS_302),
    ("tabletop.console_release_next", "POST"): (session_url("release-next"), RUNNERS_302),
    ("tabletop.console_close", "POST"): (session_url("close"), RUNNERS_302),
    # Forms with typed text: shown again on the console with their errors, so nothing typed is lost.
    ("tabletop.console_adhoc", "POST"): (session_url("adhoc"), RUNNERS_200),
    ("tabletop.console_observe", "POST"): (session_url("observations"), RUNNERS_200),
    ("tabletop.console_override", "POST"): (session_url("overrides"), RUNNERS_200),
}
