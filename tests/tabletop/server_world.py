"""What the tests that run the academy as real server processes share: a fresh database with the fixture content
and a trainer, and the signed cookies a browser would hold."""
from academy.accounts.models import Role
from academy.extensions import db
from academy.learning.sync import sync_content
from academy.organisations.services import ensure_countries
from academy.tabletop.models import Scenario
from academy.tabletop.scenario_sync import sync_scenarios
from tests import factories
from tests.content_fixture import ContentFolder
from tests.tabletop.scenario_fixture import ScenarioFolder


def fresh_database(root, trainer_email: str):
    """Empty the app's database, load the fixture course and scenario; returns (trainer, scenario). In an app context."""
    db.drop_all()
    db.create_all()
    ensure_countries()
    sync_content(ContentFolder(root).folder)
    sync_scenarios(ScenarioFolder(root).folder, {"first-module"})
    trainer = factories.make_user(trainer_email, roles=(Role.TRAINER,), institution=None, track=None)
    scenario = db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))
    return trainer, scenario


def signed_cookie(app, values: dict) -> tuple[str, str]:
    """The session cookie holding `values` and a CSRF token, and that token: what a browser holds after a page."""
    from flask import session as flask_session
    from flask_wtf.csrf import generate_csrf

    serializer = app.session_interface.get_signing_serializer(app)
    with app.app_context(), app.test_request_context():  # a new `g`: Flask-WTF keeps the token there
        flask_session.update(values)
        csrf = generate_csrf()
        return serializer.dumps(dict(flask_session)), csrf
