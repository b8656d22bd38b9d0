"""An installed package: it carries its migrations, is pointed at its folders by settings, and needs the packages of
an extra (pyproject.toml) only where a setting asks for them."""
import fnmatch
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import academy
from academy import MIGRATIONS_DIR
from academy.config import Config, ConfigError, check_extras

ROOT = Path(__file__).resolve().parents[1]
EXTRA_PACKAGES = ("gunicorn", "gevent", "psycopg", "redis")


def test_the_migrations_are_package_data():
    assert MIGRATIONS_DIR.parent == Path(academy.__file__).resolve().parent
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["package-data"]["academy"]
    files = [path.relative_to(MIGRATIONS_DIR.parent).as_posix() for path in MIGRATIONS_DIR.rglob("*")
             if path.is_file() and "__pycache__" not in path.parts]
    assert "migrations/alembic.ini" in files and "migrations/env.py" in files
    assert [name for name in files if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)] == []


def test_content_and_instance_folders_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Config.from_environ({"CONTENT_DIR": "content", "INSTANCE_DIR": str(tmp_path / "data")})
    assert settings["COURSES_DIR"] == tmp_path / "content" / "courses"
    assert settings["EXERCISES_DIR"] == tmp_path / "content" / "exercises"
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'data' / 'academy.db'}"
    assert settings["JOBS_SQLITE_PATH"] == tmp_path / "data" / "jobs.db"
    # Each folder of its own beats CONTENT_DIR; DATABASE_URL beats INSTANCE_DIR's database.
    settings = Config.from_environ({"CONTENT_DIR": "content", "EXERCISES_DIR": "/srv/scenarios",
                                    "INSTANCE_DIR": "data", "DATABASE_URL": "sqlite:////srv/academy.db"})
    assert settings["COURSES_DIR"] == tmp_path / "content" / "courses"
    assert settings["EXERCISES_DIR"] == Path("/srv/scenarios")
    assert settings["SQLALCHEMY_DATABASE_URI"] == "sqlite:////srv/academy.db"


def test_the_checkout_folders_are_the_defaults():
    settings = Config.from_environ({})
    assert (settings["COURSES_DIR"], settings["EXERCISES_DIR"]) == (ROOT / "courses", ROOT / "exercises")
    assert settings["INSTANCE_DIR"] == ROOT / "instance"


def test_a_content_command_names_the_setting_of_a_missing_folder(app, runner, tmp_path):
    app.config["COURSES_DIR"] = tmp_path / "courses"
    result = runner.invoke(args=["content", "sync"])
    assert result.exit_code == 1
    assert f"Error: COURSES_DIR is {tmp_path / 'courses'}, which is not a folder" in result.output


@pytest.mark.parametrize(("environ", "message"), [
    ({"REDIS_URL": "redis://localhost:6379/0"},
     "REDIS_URL needs the redis package, which is not installed: pip install 'wb-cyber-academy[redis]'."),
    ({"JOBS_QUEUE": "redis"}, "JOBS_QUEUE=redis needs the redis package"),
    ({"DATABASE_URL": "postgresql://academy@localhost/academy"},
     ("A PostgreSQL DATABASE_URL needs the psycopg package, which is not installed: "
      "pip install 'wb-cyber-academy[postgresql]'.")),
])
def test_a_setting_that_needs_a_missing_extra_says_which(environ, message, monkeypatch):
    settings = Config.from_environ(environ)
    check_extras(settings)  # installed here
    monkeypatch.setattr("academy.config.find_spec", lambda name: None if name in EXTRA_PACKAGES else object())
    with pytest.raises(ConfigError) as refused:
        check_extras(settings)
    assert str(refused.value).startswith(message)
    check_extras(Config.from_environ({}))  # SQLite alone needs no extra


CORE_ONLY = f"""
import sys
for name in {EXTRA_PACKAGES!r}:
    sys.modules[name] = None  # as if not installed: importing it raises ImportError
from academy import create_app
from academy.extensions import db
app = create_app({{"SECRET_KEY": "x", "TABLETOP_TICKER": False}})
with app.app_context():
    db.create_all()
print(app.test_client().get("/healthz").status_code, app.test_client().get("/").status_code)
"""


def test_the_core_runs_on_sqlite_without_the_extras(tmp_path):
    environ = {"PATH": "/usr/bin:/bin", "INSTANCE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CORE_ONLY], cwd=tmp_path, env=environ, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "200"]
    assert (tmp_path / "academy.db").is_file()
