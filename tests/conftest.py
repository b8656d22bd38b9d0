import os
from urllib.parse import urlsplit

import hypothesis
import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text

from academy import create_app
from academy.config import TestConfig
from academy.extensions import db
from academy.institutions.services import ensure_countries
from tests import factories

# Property tests: "ci" (the default) replays the same examples on every run, so a failure in CI is reproducible;
# HYPOTHESIS_PROFILE=dev explores new and more examples. Tests that set their own settings (schemathesis) keep them.
hypothesis.settings.register_profile(
    "ci", hypothesis.settings.get_profile("default"), max_examples=25, derandomize=True, deadline=None,
    database=None, print_blob=True, suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.register_profile("dev", hypothesis.settings.get_profile("ci"), max_examples=300,
                                     derandomize=False)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    """With pytest-xdist (make test runs two processes) each one gets a PostgreSQL database and a Redis number."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", …
    if not worker:
        return
    database = os.environ.get("TEST_DATABASE_URL", "")
    if database.startswith("postgresql"):
        os.environ["TEST_DATABASE_URL"] = _database_of_worker(database, worker)
    if os.environ.get("TEST_REDIS_URL"):
        redis_url = urlsplit(os.environ["TEST_REDIS_URL"])
        os.environ["TEST_REDIS_URL"] = redis_url._replace(path=f"/{int(worker[2:]) + 1}").geturl()


def pytest_report_header(config):
    from tests.report_source import REPORT

    if not REPORT.exists():
        return f"the report's text is not at {REPORT} (REPORT_PATH): the tests marked `report` are deselected"
    return None


def pytest_collection_modifyitems(config, items):
    """Without the report's text, the few tests that read it are deselected, as the PostgreSQL ones are on SQLite."""
    from tests.report_source import REPORT

    if REPORT.exists():
        return
    needing = [item for item in items if item.get_closest_marker("report")]
    if needing:
        config.hook.pytest_deselected(items=needing)
        items[:] = [item for item in items if not item.get_closest_marker("report")]


def _database_of_worker(url: str, worker: str) -> str:
    """An empty database beside TEST_DATABASE_URL's, created on the first run of this worker."""
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if not connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def build_settings(**overrides) -> dict:
    settings = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    if os.environ.get("TEST_DATABASE_URL"):
        settings["SQLALCHEMY_DATABASE_URI"] = os.environ["TEST_DATABASE_URL"]
    settings.update(overrides)
    return settings


class FreshContextClient(FlaskClient):
    """Each request gets its own application context, as in production.

    The test keeps an app context open for its own database work; without this, requests
    would share its `g` (and the signed-in user cached there) and its database session.
    """

    def open(self, *args, **kwargs):
        # The test's own transaction ends before and after each request, as separate requests' would.
        db.session.commit()
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.commit()
        db.session.expire_all()
        return response


@pytest.fixture
def settings():
    """Per-test overrides, applied before the app is built."""
    return {}


@pytest.fixture
def app(settings):
    app = create_app(build_settings(**settings))
    app.test_client_class = FreshContextClient
    with app.app_context():
        db.drop_all()
        db.create_all()
        ensure_countries()
        db.session.commit()
        yield app
        db.session.remove()
        db.drop_all()
        db.engine.dispose()  # a server database (TEST_DATABASE_URL) must not keep one idle connection per test


@pytest.fixture(autouse=True)
def no_stream_outlives_its_test():
    """Live streams, hubs and subscriptions are per process; a test's are gone with its database (ids repeat)."""
    yield
    from academy.tabletop.stream import forget_streams

    forget_streams()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, email, password=factories.PASSWORD, follow_redirects=False, **extra):
        return self.client.post("/account/login", data={"email": email, "password": password, **extra},
                                follow_redirects=follow_redirects)

    def as_user(self, user):
        """Sign in without a request: put the user's id in the session cookie."""
        with self.client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        return user

    def logout(self):
        return self.client.post("/account/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def world(app):
    """Two institutions with one person of every role, the usual cast of permission tests."""
    return factories.make_world()


@pytest.fixture
def course(app, tmp_path):
    """The small fixture course of tests/content_fixture.py, synced and published."""
    from academy.learning.models import Course
    from academy.learning.sync import sync_content
    from tests.content_fixture import ContentFolder

    folder = ContentFolder(tmp_path / "content")
    sync_content(folder.folder)
    db.session.commit()
    return db.session.scalar(db.select(Course).where(Course.slug == "intro-course"))


EVIL_HOST = "academy-login.evil.example"


@pytest.fixture(params=[{"Host": EVIL_HOST}, {"X-Forwarded-Host": EVIL_HOST}], ids=["Host", "X-Forwarded-Host"])
def hostile_headers(request):
    """A request that names another site; link tests also turn TRUSTED_HOSTS off and trust one proxy (PROXY_FIX)."""
    return request.param


def keep_signed_in_on(client, host=EVIL_HOST) -> None:
    """Send the signed-in session cookie to `host` too, as a browser that reached it by that name would."""
    client.set_cookie("session", client.get_cookie("session").value, domain=host)


# The settings of a link test: every Host is let through and a proxy is trusted, so that the test shows the link
# comes from PUBLIC_URL itself, not from the 400 that TRUSTED_HOSTS gives a stranger's Host first.
ANY_HOST_BEHIND_A_PROXY = {"TRUSTED_HOSTS": None, "PROXY_FIX": 1}
