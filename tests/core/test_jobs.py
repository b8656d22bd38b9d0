"""The job queue: chosen by the configuration, run by `flask jobs worker` in application contexts of its own."""
import logging
import time

import pytest
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from academy.accounts import jobs as account_jobs
from academy.core import jobs
from academy.core.jobs import huey


@pytest.mark.parametrize("queue,redis_url,storage", [
    ("auto", None, SqliteStorage),  # no other server to run
    ("auto", "redis://redis.internal:6379/0", RedisStorage),
    ("sqlite", "redis://redis.internal:6379/0", SqliteStorage),
    ("memory", None, MemoryStorage),
])
def test_the_queue_is_chosen_by_the_configuration(tmp_path, queue, redis_url, storage):
    config = {"JOBS_QUEUE": queue, "REDIS_URL": redis_url, "JOBS_QUEUE_NAME": "academy-jobs",
              "JOBS_SQLITE_PATH": tmp_path / "instance" / "jobs.db"}
    chosen = jobs._storage(config)
    assert type(chosen) is storage


@pytest.mark.parametrize("settings", [{"JOBS_IMMEDIATE": False}])
def test_the_worker_runs_each_job_in_an_application_context(app, world, caplog):
    caplog.set_level(logging.WARNING)
    account_jobs.send_password_reset("learner@a.org", "203.0.113.9")
    assert huey.pending_count() == 1
    consumer = huey.create_consumer(workers=1, worker_type="thread", periodic=False)
    consumer.start()  # worker threads, which have no application context of their own
    try:
        deadline = time.monotonic() + 10
        while not any("Mail to learner@a.org" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "the job did not run"
            time.sleep(0.05)
    finally:
        consumer.stop(graceful=True)
    mail = next(r.getMessage() for r in caplog.records if "Mail to learner@a.org" in r.getMessage())
    assert "http://localhost/account/reset/" in mail
    assert huey.pending_count() == 0


def test_the_worker_command_runs_huey_s_consumer(runner, monkeypatch):
    started = []

    class Consumer:
        def run(self):
            started.append("run")

    monkeypatch.setattr(huey, "create_consumer", lambda **options: started.append(options) or Consumer())
    result = runner.invoke(args=["jobs", "worker", "--workers", "3"])
    assert result.exit_code == 0, result.output
    assert started[0]["workers"] == 3 and started[0]["worker_type"] == "thread" and started[1] == "run"
