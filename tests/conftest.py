"""The suite's fixtures: one application per test session, and each test inside a transaction rolled back at its end.

The session's app (one per pytest-xdist worker) has a database of its own, given its tables and the countries once.
A test that uses `app` runs inside one transaction on one connection, which every `db.session` of that app joins
(SQLAlchemy's "Joining a Session into an External Transaction"): the application's commits and rollbacks end
SAVEPOINTs, and the transaction is rolled back when the test ends, so the next test finds what the session made.

A test gets an app of its own, built and given fresh tables as before, whose data is committed, when its `settings`
take effect only as the app is built (the database, PROXY_FIX, the rate limiter …), or when it is marked `committed`:
its data must reach other connections (server processes, threads with connections of their own).
"""
import copy
import os
import sqlite3
from contextlib import ExitStack, contextmanager
from types import SimpleNamespace
from urllib.parse import urlsplit

import hypothesis
import pytest
from flask import current_app
from flask.globals import app_ctx
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSqlalchemySession
from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.orm import scoped_session, sessionmaker

from academy import create_app
from academy.config import TestConfig
from academy.core import jobs
from academy.extensions import db, limiter
from academy.organisations.services import ensure_countries
from academy.tabletop import broker
from tests import factories

# Property tests: "ci" (the default) replays the same examples on every run, so a failure in CI is reproducible;
# HYPOTHESIS_PROFILE=dev explores new and more examples. Tests that set their own settings (schemathesis) keep them.
hypothesis.settings.register_profile(
    "ci", hypothesis.settings.get_profile("default"), max_examples=25, derandomize=True, deadline=None,
    database=None, print_blob=True, suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.register_profile("dev", hypothesis.settings.get_profile("ci"), max_examples=300,
                                     derandomize=False)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Settings a test may change on the session's app: they are read while a request is served (JOBS_IMMEDIATE when
# each test points the job queue at its app). Any other setting needs an app built with it.
RUNTIME_SETTINGS = frozenset({"JOBS_IMMEDIATE", "MAX_CONTENT_LENGTH", "TABLETOP_KEEPALIVE_SECONDS", "TRUSTED_HOSTS",
                              "WTF_CSRF_ENABLED"})


def pytest_configure(config):
    """With pytest-xdist (make test runs two processes) each one gets a PostgreSQL database and a Redis number."""
    config.addinivalue_line(
        "markers", "committed: the test's app commits to a database of its own (server processes, threads with "
                   "connections of their own) instead of running in the session app's rolled-back transaction")
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False  # pytest-xdist: the order of pytest_collection_modifyitems, not its own
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", …
    if not worker:
        return
    database = os.environ.get("TEST_DATABASE_URL", "")
    if database.startswith("postgresql"):
        os.environ["TEST_DATABASE_URL"] = _database_beside(database, f"_{worker}")
    if os.environ.get("TEST_REDIS_URL"):
        redis_url = urlsplit(os.environ["TEST_REDIS_URL"])
        os.environ["TEST_REDIS_URL"] = redis_url._replace(path=f"/{int(worker[2:]) + 1}").geturl()


def pytest_report_header(config):
    from tests.report_source import REPORT

    if not REPORT.exists():
        return f"the report's text is not at {REPORT} (REPORT_PATH): the tests marked `report` are deselected"
    return None


def pytest_collection_modifyitems(config, items):
    """Without the report's text, the few tests that read it are deselected, as the PostgreSQL ones are on SQLite.
    The files that take longest run first (see `_guessed_seconds`)."""
    from tests.report_source import REPORT

    if not REPORT.exists():
        needing = [item for item in items if item.get_closest_marker("report")]
        if needing:
            config.hook.pytest_deselected(items=needing)
            items[:] = [item for item in items if not item.get_closest_marker("report")]
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)
    items[:] = [item for tests in sorted(files.values(), key=_guessed_seconds, reverse=True) for item in tests]


def _guessed_seconds(tests: list) -> float:
    """A file's time, roughly: pytest-xdist hands out whole files (--dist loadfile), and one that starts late and runs
    long (server processes, a browser, property tests) keeps the other workers waiting at the end."""
    module = getattr(tests[0], "module", None)
    seconds = 0.05 * len(tests)
    if hasattr(module, "subprocess") or hasattr(module, "ServerProcess"):
        seconds += 60
    if any("browser" in getattr(item, "fixturenames", ()) for item in tests):
        seconds += 30
    return seconds + 5 * sum(getattr(getattr(item, "obj", None), "is_hypothesis_test", False) for item in tests)


def _database_beside(url: str, suffix: str) -> str:
    """An empty database beside `url`'s, its name ending in `suffix`, created on the first run that asks for it."""
    base = make_url(url)
    name = f"{base.database}{suffix}"
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


# --- The rolled-back transaction -------------------------------------------------------------------------------------

_HELD: dict = {}  # app -> the connection whose transaction every db.session of that app joins


class TestSession(FlaskSqlalchemySession):
    """`db.session` in the tests: in an app whose test holds a transaction, it joins that transaction."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None:
            held = _HELD.get(current_app._get_current_object())
            if held is not None:
                return held
        return super().get_bind(mapper, clause=clause, bind=bind, **kwargs)


# As Flask-SQLAlchemy's own: one session per application context. create_savepoint: the session's commit or rollback
# ends a SAVEPOINT of the held transaction (when it holds none, sessions use the app's engine as usual).
db.session = scoped_session(sessionmaker(class_=TestSession, db=db, query_cls=db.Query,
                                         join_transaction_mode="create_savepoint"),
                            scopefunc=lambda: id(app_ctx._get_current_object()))


class HeldSqliteConnection(sqlite3.Connection):
    """The in-memory database's one connection (a StaticPool shares it). While a test holds its transaction, the
    commit or rollback of another SQLAlchemy connection on it (the health check's write probe opens its own) ends
    nothing: it would end the test's transaction."""

    held = False

    def commit(self):
        if not self.held:
            super().commit()

    def rollback(self):
        if not self.held:
            super().rollback()


def _begin_unless_begun(connection) -> None:
    # pysqlite opens no transaction for a SAVEPOINT (nor a SELECT): SQLAlchemy's documented workaround is to turn its
    # own handling off (isolation_level=None) and emit BEGIN here. A transaction open on the shared connection is
    # the test's: another connection's work joins it.
    if not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN")


def _hold(connection, held: bool) -> None:
    raw = connection.connection.dbapi_connection
    if isinstance(raw, HeldSqliteConnection):
        raw.held = held


@contextmanager
def rolled_back(app):
    """Run the block in a transaction of `app`'s database that is rolled back at its end; inside another such block
    (a module's data), in a SAVEPOINT of that one's. Every db.session of the app joins it."""
    outer = _HELD.get(app)
    if outer is None:
        with app.app_context():
            connection = db.engine.connect()
        transaction = connection.begin()
        _hold(connection, True)
        _HELD[app] = connection
    else:
        connection, transaction = outer, outer.begin_nested()
    try:
        yield connection
    finally:
        if outer is None:
            del _HELD[app]
            _hold(connection, False)
            transaction.rollback()
            connection.close()
        elif transaction.is_active:
            transaction.rollback()


# --- The applications ------------------------------------------------------------------------------------------------

def session_database_url() -> str:
    """The session app's database: in memory, or one beside TEST_DATABASE_URL's, whose tables the tests with an app
    of their own (and the server processes) drop and make again."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    return _database_beside(url, "_session") if url.startswith("postgresql") else "sqlite://"


@pytest.fixture(scope="session")
def session_app():
    """The app of every test that needs no app of its own, on a database with the tables and the countries."""
    url = session_database_url()
    options = {}
    if url == "sqlite://":
        options["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"factory": HeldSqliteConnection,
                                                                 "isolation_level": None}}
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=url, **options))
    app.test_client_class = FreshContextClient
    with app.app_context():
        if url == "sqlite://":
            event.listen(db.engine, "begin", _begin_unless_begun)
        db.drop_all()
        db.create_all()
        ensure_countries()
        db.session.commit()
    app.extensions["tests.pristine"] = (copy.deepcopy(dict(app.config)), set(app.extensions) | {"tests.pristine"})
    yield app
    keep_module_world(app, None)
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def restore(app) -> None:
    """Put back the session app's settings and forget what it cached in app.extensions (as a new app would)."""
    config, extensions = app.extensions["tests.pristine"]
    app.config.clear()
    app.config.update(copy.deepcopy(config))
    for name in set(app.extensions) - extensions:
        del app.extensions[name]


def bind_process_state(app) -> None:
    """Point what the process holds once for every app (job queue, live relay, rate limiter) at `app`, as building it
    did: an app of its own built since then took them, and each test gets an empty job queue."""
    jobs.init_app(app)
    broker.init_app(app)
    limiter.init_app(app)  # off in the tests: it only puts back `enabled`, which an app with a rate limit turned on


_KEPT: dict = {}  # app -> (module, the SAVEPOINT it is kept in, Cast) of `module_world`


def keep_module_world(app, module, tmp_path_factory=None) -> None:
    """Keep the world of `module_world` for `module`'s tests (None: for no module), making it when needed.

    A test that does not ask for it, or one of another module, gets a database without it."""
    kept = _KEPT.get(app)
    if kept is not None and kept[0] is not module:
        _KEPT.pop(app)[1].close()
        kept = None
    if module is not None and kept is None:
        level = ExitStack()
        level.enter_context(rolled_back(app))
        with app.app_context():
            world = factories.make_world()
            course = sync_fixture_course(tmp_path_factory.mktemp("module-world"))
            db.session.commit()
            _KEPT[app] = (module, level, Cast(**vars(world), course=course))


@pytest.fixture(scope="module", autouse=True)
def module_world_ends_with_its_module(request):
    """A module's kept world goes when the module's tests end, before the next module makes its own data."""
    yield
    for app, (module, _level, _cast) in list(_KEPT.items()):
        if module is request.module:
            keep_module_world(app, None)


def needs_own_app(request, settings) -> bool:
    return request.node.get_closest_marker("committed") is not None or not settings.keys() <= RUNTIME_SETTINGS


def _own_app(settings):
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


@pytest.fixture
def settings():
    """Per-test overrides: applied to the session's app, or to an app of the test's own (RUNTIME_SETTINGS)."""
    return {}


@pytest.fixture
def app(request, settings):
    if needs_own_app(request, settings):
        yield from _own_app(settings)
        return
    app = request.getfixturevalue("session_app")
    restore(app)
    app.config.update(settings)
    bind_process_state(app)
    if "module_world" in request.fixturenames:
        keep_module_world(app, request.module, request.getfixturevalue("tmp_path_factory"))
    else:
        keep_module_world(app, None)
    try:
        with rolled_back(app), app.app_context():
            yield app
    finally:
        restore(app)


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


def sync_fixture_course(folder):
    """The small fixture course of tests/content_fixture.py, written under `folder`, synced and published."""
    from academy.learning.models import Course
    from academy.learning.sync import sync_content
    from tests.content_fixture import ContentFolder

    sync_content(ContentFolder(folder / "content").folder)
    db.session.commit()
    return db.session.scalar(db.select(Course).where(Course.slug == "intro-course"))


class Cast:
    """Rows made once for many tests (a module's world), committed: each test takes them into its own session."""

    def __init__(self, **rows):
        for row in rows.values():
            db.session.refresh(row)  # loaded now, so that a test needs no query to take it
        self.rows = rows

    def read(self) -> SimpleNamespace:
        """The rows in the current database session, as made: each test starts from the state they were made in."""
        return SimpleNamespace(**{name: db.session.merge(row, load=False) for name, row in self.rows.items()})


@pytest.fixture
def module_world(app):
    """The world of `world`, with the course of `course` as `.course`, made once for the consecutive tests of a
    module that ask for it (a test per route, say) rather than for each: each test starts from them as made."""
    return _KEPT[app][2].read()


@pytest.fixture
def course(app, tmp_path):
    """The small fixture course of tests/content_fixture.py, synced and published."""
    return sync_fixture_course(tmp_path)


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
