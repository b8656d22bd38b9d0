"""The academy's gunicorn settings in production: `gunicorn -c deploy/gunicorn.conf.py -w 2 -b 0.0.0.0:8000 wsgi:app`.

The gevent worker class holds a live participant's server-sent-events stream for the whole session at the cost of a
greenlet, not of a process or thread. The application is loaded once, in the arbiter, before the workers are forked
(`preload_app`): its modules, templates and content are then one copy in memory that every worker shares, rather than
one copy per worker (about 100 MiB each). Settings given on the command line win over these.
"""

# gevent's worker patches the standard library when it starts, after the fork: too late for an application loaded
# before it, whose locks, events and sockets would be the blocking ones. Patch first, before anything imports them.
from gevent import monkey

monkey.patch_all()

import threading  # noqa: E402 (gevent's, now)

worker_class = "gevent"
worker_connections = 1000
preload_app = True


def when_ready(server):
    """Let threads that loading the application started end before the first fork (the in-memory rate-limit store
    starts a timer of a hundredth of a second): a thread does not survive a fork, and one of gevent's that ends after
    it fails in the arbiter."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(timeout=1)
            if thread.is_alive():
                server.log.warning("thread %s still runs as the workers are forked", thread.name)


def post_fork(server, worker):
    """A forked worker opens database connections of its own. The arbiter opens none while loading the application
    (tests/core/test_serving.py holds it to that); should one be pooled, the worker drops it without closing it, as
    SQLAlchemy advises, so the arbiter's connection is left alone."""
    app = server.app.wsgi()
    database = getattr(app, "extensions", {}).get("sqlalchemy")
    if database is not None:
        with app.app_context():
            for engine in database.engines.values():
                engine.dispose(close=False)
