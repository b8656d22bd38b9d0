import pytest

from academy import create_app
from academy.config import Config, ConfigError
from tests.conftest import build_settings


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_503_when_database_unreachable(tmp_path):
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/db.sqlite"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_production_refuses_to_start_without_secret_key():
    with pytest.raises(ConfigError):
        Config.from_environ({"ACADEMY_ENV": "production"})


def test_production_settings_are_secure():
    settings = Config.from_environ({"ACADEMY_ENV": "production", "SECRET_KEY": "s" * 32,
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
