"""Work done outside the request (e-mail, report files, large imports): a huey queue chosen by the configuration,
and its worker command.

A request only enqueues; `flask --app wsgi jobs worker` runs the jobs, each in an application context of its own.
"""

import functools
import logging
from pathlib import Path

import click
from flask import current_app, has_app_context
from flask.cli import AppGroup
from huey import Huey, crontab
from huey.consumer_options import ConsumerConfig
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

# Tasks register on this one instance when their modules are imported; init_app points it at the configured queue.
huey = Huey("academy-jobs", results=False, immediate=True)
_context = {"app": None}  # the application whose contexts the worker's jobs run in

cli = AppGroup("jobs", help="The queue of work done outside the request.")


def _in_context(function):
    @functools.wraps(function)
    def in_context(*args, **kwargs):
        app = current_app._get_current_object() if has_app_context() else _context["app"]
        with app.app_context():
            return function(*args, **kwargs)

    return in_context


def job(**settings):
    """Declare a huey task that runs in an application context of its own, as a request does."""

    def decorator(function):
        return huey.task(**settings)(_in_context(function))  # registered as module.name, like any huey task

    return decorator


def periodic_job(**schedule):
    """Declare a task that the worker runs on a schedule (huey's crontab: minute="17" is every hour at :17)."""

    def decorator(function):
        return huey.periodic_task(crontab(**schedule))(_in_context(function))

    return decorator


def _storage(config):
    kind = config["JOBS_QUEUE"]
    if kind == "auto":
        kind = "redis" if config.get("REDIS_URL") else "sqlite"
    name = config["JOBS_QUEUE_NAME"]
    if kind == "memory":  # one process only: tests
        return MemoryStorage(name)
    if kind == "redis":
        return RedisStorage(name, url=config["REDIS_URL"])
    path = Path(config["JOBS_SQLITE_PATH"])
    path.parent.mkdir(parents=True, exist_ok=True)
    storage = SqliteStorage(name, filename=str(path))  # creates the queue's tables
    # Each process opens its own connection when it first uses the queue: one opened while the application loads
    # would be shared by every gunicorn worker forked after it.
    storage.close()
    return storage


def init_app(app) -> None:
    """Point the queue at JOBS_QUEUE (Redis, a SQLite file, or memory) and add `flask jobs worker`."""
    huey.name = app.config["JOBS_QUEUE_NAME"]
    huey.immediate_use_memory = False  # the storage below is used as it is, immediate or not
    huey.storage = _storage(app.config)
    huey.immediate = app.config["JOBS_IMMEDIATE"]
    _context["app"] = app
    app.extensions["huey"] = huey
    app.cli.add_command(cli)


@cli.command("worker")
@click.option("--workers", default=2, show_default=True, help="Jobs run at the same time (threads).")
def worker(workers):
    """Run queued jobs until stopped (SIGINT finishes the running jobs first)."""
    # Without Redis the queue is polled: at most a second apart when idle (huey's default backs off to ten), so that a
    # person waiting for a report file is not kept waiting for the worker to look.
    options = ConsumerConfig(workers=workers, worker_type="thread", max_delay=1.0)
    options.validate()
    options.setup_logger(logging.getLogger("huey"))
    huey.create_consumer(**options.values).run()
