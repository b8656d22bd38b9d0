import pytest
from sqlalchemy import event, make_url, text

from academy import create_app
from academy.config import Config, ConfigError
from academy.core.health import WriteProbe
from academy.core.models import HealthProbe
from academy.extensions import db
from tests.conftest import FreshContextClient, build_settings


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_503_when_database_unreachable(tmp_path):
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/db.sqlite"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unreachable"}


def test_healthz_503_when_the_database_takes_no_write(tmp_path):
    path = tmp_path / "academy.db"
    writable = create_app(build_settings(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}"))
    with writable.app_context():
        db.create_all()
        assert writable.test_client().get("/healthz").status_code == 200
        db.engine.dispose()
    # Opened read-only, as after a remount or with the disk's files made read-only: reads work, writes do not.
    read_only = create_app(build_settings(SQLALCHEMY_DATABASE_URI=f"sqlite:///file:{path}?mode=ro&uri=true"))
    response = read_only.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "read-only"}
    with read_only.app_context():
        db.engine.dispose()


@pytest.mark.postgresql
def test_healthz_503_when_postgresql_takes_no_write(app):
    # As on a standby, or a server switched to read-only: every transaction refuses to write.
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    url = url.update_query_dict({"options": "-c default_transaction_read_only=on"}).render_as_string(False)
    read_only = create_app(build_settings(SQLALCHEMY_DATABASE_URI=url))
    response = read_only.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "read-only"}
    with read_only.app_context():
        db.engine.dispose()


@pytest.fixture
def sqlite_client():
    """A client of an app on an in-memory SQLite database, whichever database the suite runs on (PRAGMA query_only)."""
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI="sqlite://"))
    app.test_client_class = FreshContextClient
    with app.app_context():
        db.create_all()
        yield app.test_client()
        db.session.remove()
        db.engine.dispose()


def test_the_write_probe_is_a_committed_write_asked_at_most_every_five_seconds(sqlite_client):
    app, client = sqlite_client.application, sqlite_client
    now = [1000.0]
    app.extensions["health_write_probe"] = WriteProbe(clock=lambda: now[0])
    writes = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(conn, cursor, statement, *args):
        if statement.startswith(("UPDATE health_probe", "INSERT INTO health_probe")):
            writes.append(statement)

    def health(at: float):
        now[0] = 1000.0 + at
        response = client.get("/healthz")
        return response.status_code, response.get_json()["database"]

    assert health(0) == (200, "ok") and len(writes) == 2  # no row yet (create_all): UPDATE, then INSERT
    first = db.session.get(HealthProbe, 1).checked_at
    assert health(4.9) == (200, "ok") and len(writes) == 2  # a load balancer's polls share the answer
    db.session.execute(text("PRAGMA query_only = 1"))  # the database refuses every write from now on
    assert health(4.99) == (200, "ok") and len(writes) == 2
    assert health(5) == (503, "read-only") and len(writes) == 3
    assert health(9) == (503, "read-only") and len(writes) == 3
    db.session.execute(text("PRAGMA query_only = 0"))
    assert health(10) == (200, "ok") and len(writes) == 4
    assert db.session.get(HealthProbe, 1).checked_at > first  # a real change, committed


def test_production_refuses_to_start_without_secret_key():
    with pytest.raises(ConfigError):
        Config.from_environ({"ACADEMY_ENV": "production"})


def test_production_settings_are_secure():
    settings = Config.from_environ({"ACADEMY_ENV": "production", "SECRET_KEY": "s" * 32,
                                    "PUBLIC_URL": "https://academy.example.org",
                                    "DATABASE_URL": "postgres://u:p@localhost/academy"})
    assert settings["SESSION_COOKIE_SECURE"] and settings["REMEMBER_COOKIE_SECURE"]
    assert settings["SESSION_COOKIE_HTTPONLY"] and settings["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@localhost/academy"


def test_development_defaults_to_sqlite_in_instance():
    settings = Config.from_environ({})
    assert settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert settings["SQLALCHEMY_DATABASE_URI"].endswith("instance/academy.db")


def test_every_view_must_declare_access(app):
    from flask import Flask

    from academy.core.permissions import check_views_declare_access

    bare = Flask("bare")
    bare.add_url_rule("/forgotten", "forgotten", lambda: "x")
    with pytest.raises(RuntimeError, match="forgotten"):
        check_views_declare_access(bare)
