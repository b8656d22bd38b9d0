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

    for item in items:  # the marker stays true: a test that asks for an app is run on every database
        if item.get_closest_marker("no_database") and {"app", "session_app", "live_app"} & set(item.fixturenames):
            raise pytest.UsageError(f"{item.nodeid} is marked no_database but asks for an app and its database")

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
    keep(app)
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
    limiter.init_app(app)  # off in the tests: this puts `enabled` back after an app of a test that turned it on


# --- Data kept for consecutive tests ---------------------------------------------------------------------------------
# Making the usual data (the world, the fixture course, the tabletop scenario and its session) is most of the time of
# many tests. Consecutive tests of one module that ask for the same of these fixtures, with the same settings, share
# one making of it: it is kept in a SAVEPOINT that each test's own SAVEPOINT nests in and is rolled back to, so every
# test starts from it exactly as made. A fixture joins by having a maker here and asking for `kept_<name>`.

KEEPABLE: dict = {}  # fixture name -> make(made: dict of the names made before it, folder), in the order they are made
_KEPT: dict = {}  # app -> (key, the SAVEPOINT, Kept of {name: value})


class Kept:
    """Values made once, committed, holding database rows (in namespaces): each test takes them into its session."""

    def __init__(self, value):
        for row in _rows_in(value):
            db.session.refresh(row)  # loaded now, so that a test needs no query to take it
        self.value = value

    def read(self):
        """The value with its rows in the current database session, as made (no query)."""
        return _taken(self.value)


def _rows_in(value):
    if hasattr(value, "_sa_instance_state"):
        yield value
    elif isinstance(value, (SimpleNamespace, dict)):
        for item in (vars(value) if isinstance(value, SimpleNamespace) else value).values():
            yield from _rows_in(item)


def _taken(value):
    if hasattr(value, "_sa_instance_state"):
        return db.session.merge(value, load=False)
    if isinstance(value, SimpleNamespace):
        return SimpleNamespace(**{name: _taken(item) for name, item in vars(value).items()})
    if isinstance(value, dict):
        return {name: _taken(item) for name, item in value.items()}
    return value


def keep(app, request=None, settings=None) -> None:
    """Keep what the test asks for of KEEPABLE, made once for as long as the tests that follow ask for the same
    (without `request`: keep nothing)."""
    names = tuple(name for name in KEEPABLE if request is not None and f"kept_{name}" in request.fixturenames)
    key = (request.module, names, repr(sorted(settings.items()))) if names else None
    kept = _KEPT.get(app)
    if kept is not None and kept[0] != key:
        _KEPT.pop(app)[1].close()
        kept = None
    if key is not None and kept is None:
        folders = request.getfixturevalue("tmp_path_factory")
        with ExitStack() as level:
            level.enter_context(rolled_back(app))
            with app.app_context():
                made: dict = {}
                for name in names:
                    made[name] = KEEPABLE[name](made, folders.mktemp(name))
                db.session.commit()
                kept_made = Kept(made)
            _KEPT[app] = (key, level.pop_all(), kept_made)


def kept_value(app, name):
    """The kept value of fixture `name` for the current test, or None: the fixture makes its own."""
    kept = _KEPT.get(app)
    return _taken(kept[2].value[name]) if kept is not None and name in kept[0][1] else None


@pytest.fixture(scope="module", autouse=True)
def kept_data_ends_with_its_module(request):
    """What a module's tests kept goes when they end, before the next module makes its own data."""
    yield
    for app, (key, _level, _kept) in list(_KEPT.items()):
        if key[0] is request.module:
            keep(app)


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
    keep(app, request, settings)
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
def world(app, kept_world):
    """Two institutions with one person of every role, the usual cast of permission tests."""
    return kept_world if kept_world is not None else factories.make_world()


@pytest.fixture
def kept_world(app):
    return kept_value(app, "world")


KEEPABLE["world"] = lambda made, folder: factories.make_world()


def sync_fixture_course(folder):
    """The small fixture course of tests/content_fixture.py, written under `folder`, synced and published."""
    from academy.learning.models import Course
    from academy.learning.sync import sync_content
    from tests.content_fixture import ContentFolder

    sync_content(ContentFolder(folder / "content").folder)
    db.session.commit()
    return db.session.scalar(db.select(Course).where(Course.slug == "intro-course"))


@pytest.fixture
def course(app, tmp_path, kept_course):
    """The small fixture course of tests/content_fixture.py, synced and published."""
    return kept_course if kept_course is not None else sync_fixture_course(tmp_path)


@pytest.fixture
def kept_course(app):
    return kept_value(app, "course")


KEEPABLE["course"] = lambda made, folder: sync_fixture_course(folder)


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
