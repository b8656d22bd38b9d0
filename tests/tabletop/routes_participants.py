"""Route-matrix rows for joining, the play page, decisions, inject cards and the live stream.

The builder runs a session of the fixture scenario: the learner plays the diplomat and the embassy note has been
released to them. Everyone else is a stranger to it, except its trainer and the platform admin, who run it.
"""
import tempfile
from pathlib import Path

from academy.extensions import db
from tests.route_rows import EVERYONE_200, row

# Only a participant (here the learner) has a play page; for anyone else it does not exist.
PARTICIPANT_ONLY = row(404, 200, 404, 404, 404, 404)
# The trainer and the admin see every released inject and the whole stream; participants what their role may.
PARTICIPANT_OR_RUNNER = row(404, 200, 200, 404, 404, 200)


def _session(w):
    """The learner's running session (built once per world)."""
    if getattr(w, "participants_session", None) is None:
        from academy.tabletop import services
        from academy.tabletop.models import Scenario
        from academy.tabletop.scenario_sync import sync_scenarios
        from tests.tabletop.scenario_fixture import ScenarioFolder

        with tempfile.TemporaryDirectory() as folder:
            sync_scenarios(ScenarioFolder(Path(folder)).folder, {"first-module"})
        scenario = db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))
        live = services.create_session(w.trainer, scenario, "Matrix session", allow_guests=True)
        diplomat = services.join(live, user=w.learner)
        services.assign_role(live, diplomat, "diplomat", w.trainer)
        services.run_command(live, "start", w.trainer)
        services.release(live, "embassy-note", "early", w.trainer)
        db.session.commit()
        w.participants_session = live
    return w.participants_session


ROUTES = {
    ("tabletop.join", "GET"): (lambda w: "/join", EVERYONE_200),
    # No code: the form again with its message, for everyone.
    ("tabletop.join", "POST"): (lambda w: "/join", EVERYONE_200),
    # The learner is in already (to the play page); others see how to join; a guest sees the guest form.
    ("tabletop.join_code", "GET"): (lambda w: f"/join/{_session(w).join_code}", row(200, 302, 200, 200, 200, 200)),
    # Signed in: joined (or already in) and sent to the play page; a guest without a name gets the form again.
    ("tabletop.join_code", "POST"): (lambda w: f"/join/{_session(w).join_code}", row(200, 302, 302, 302, 302, 302)),
    ("tabletop.play", "GET"): (lambda w: f"/exercises/play/{_session(w).id}", PARTICIPANT_ONLY),
    # An empty answer: the participant gets the page again with the message (400), nothing is recorded.
    ("tabletop.decide", "POST"): (lambda w: f"/exercises/play/{_session(w).id}/decisions",
                                  row(404, 400, 404, 404, 404, 404)),
    ("tabletop.inject_card", "GET"): (lambda w: f"/exercises/play/{_session(w).id}/injects/embassy-note",
                                      PARTICIPANT_OR_RUNNER),
    # ?once=1 (honoured in tests only) ends the stream after its catch-up.
    ("tabletop.stream", "GET"): (lambda w: f"/exercises/sessions/{_session(w).id}/stream?once=1",
                                 PARTICIPANT_OR_RUNNER),
}
