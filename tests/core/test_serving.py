"""What the production server settings (deploy/gunicorn.conf.py) rely on: the application is loaded once, in gunicorn's
arbiter, and the workers are forked from it. Whatever loading it opened or started would be shared by every worker
(a database or queue connection) or lost in them (a thread). The servers of tests/tabletop run with these settings.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.server_process import ROOT

LOAD_AS_THE_ARBITER_DOES = """
import json, sys, threading
import wsgi
from academy.core.jobs import huey
from academy.extensions import db

for thread in threading.enumerate():  # the in-memory rate-limit store's timer lasts a hundredth of a second
    if thread is not threading.main_thread():
        thread.join(timeout=2)
with wsgi.app.app_context():
    pool = db.engine.pool
    print(json.dumps({
        "database connections": pool.checkedin() + pool.checkedout(),
        "queue connection open": getattr(huey.storage, "_conn", None) is not None,
        "threads": [t.name for t in threading.enumerate() if t is not threading.main_thread()],
        "alembic imported": "alembic" in sys.modules,
    }))
"""


@pytest.mark.no_database  # its own SQLite file in a process of its own, whichever database the suite runs on
def test_a_loaded_application_holds_no_connection_and_runs_no_thread_for_its_workers_to_inherit(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "TEST_REDIS_URL")}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path}/academy.db", "SECRET_KEY": "serving-test",
                "INSTANCE_DIR": str(tmp_path / "instance"), "JOBS_QUEUE": "sqlite"})
    done = subprocess.run([sys.executable, "-c", LOAD_AS_THE_ARBITER_DOES], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state == {"database connections": 0, "queue connection open": False, "threads": [],
                     "alembic imported": False}
    assert (tmp_path / "instance" / "jobs.db").exists()  # the queue's tables were made, then let go of


def test_the_migration_commands_come_from_flask_migrate_when_first_used(app):
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["db", "--help"])
    assert listing.exit_code == 0, listing.output
    assert "upgrade" in listing.output and "--directory" in listing.output
    heads = runner.invoke(args=["db", "-x", "unused", "heads"])  # the group's own options reach its commands
    assert heads.exit_code == 0, heads.output
    assert type(app.extensions["migrate"]).__module__ == "flask_migrate"
