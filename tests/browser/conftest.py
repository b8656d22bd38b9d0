"""A live academy server in a thread and Debian's chromium driven by Playwright."""
import shutil
import threading
import time

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from academy import create_app
from academy.extensions import db
from academy.organisations.services import ensure_countries
from academy.tabletop.ticker import stop_ticker
from tests import factories
from tests.conftest import build_settings

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-dev-shm-usage", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Debian's headless shell (what Playwright itself runs headless): the same Chromium without the browser's user
    # interface layer, which took half of the browser tests' CPU time on two cores. Debian's chromium does too.
    executable = shutil.which("chromium-headless-shell") or shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, ("Debian's chromium-headless-shell (or chromium) is required for browser tests: "
                        "apt-get install chromium-headless-shell, or make system-test-deps")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def live_app(tmp_path, request):
    import os

    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path}/browser.db"
    # A closed page's live stream ends at its next keepalive: soon, so that live_server can wait for it. The ticker
    # releases scheduled injects, as in production, unless the test releases them itself (marker trainer_releases).
    ticker = request.node.get_closest_marker("trainer_releases") is None
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=url, WTF_CSRF_ENABLED=True, TABLETOP_KEEPALIVE_SECONDS=1,
                                    TABLETOP_TICKER=ticker))
    with app.app_context():
        db.drop_all()
        db.create_all()
        ensure_countries()
        db.session.commit()
        yield app
        stop_ticker(app)
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


class ClosingRequestHandler(WSGIRequestHandler):
    """Werkzeug's development server leaves a response's file open when the browser drops the connection while it is
    sent (a page closed while its icon font loads): reading what is left of the request raises before the file is
    closed. This closes it, as a production server does."""

    def connection_dropped(self, error, environ=None):
        response = (environ or {}).pop("tests.response", None)
        if response is not None and hasattr(response, "close"):
            response.close()


def keeping_the_response(app):
    def serve(environ, start_response):
        response = environ["tests.response"] = app(environ, start_response)
        return response

    return serve


@pytest.fixture
def live_server(live_app):
    before = set(threading.enumerate())
    server = make_server("127.0.0.1", 0, keeping_the_response(live_app), threaded=True,
                         request_handler=ClosingRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()
    # Requests still running (live streams) must finish their database work before live_app disposes the engine.
    # Only the server's request threads: the app's own (the ticker, the relay) end with live_app, after this.
    deadline = time.monotonic() + 5
    for request_thread in set(threading.enumerate()) - before:
        if request_thread.name.endswith("(process_request_thread)"):
            request_thread.join(timeout=max(0.0, deadline - time.monotonic()))


@pytest.fixture
def open_context(browser, live_server):
    """open_context(**options): a browser context on the live server, closed when the test ends however it ends,
    before the server stops: a context left open keeps its live streams on the server while the next test drops and
    makes the tables again."""
    opened = []

    def open_one(**options):
        context = browser.new_context(base_url=live_server, **options)
        context.set_default_timeout(10_000)
        opened.append(context)
        return context

    yield open_one
    for context in opened:
        context.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def live_world(live_app):
    return factories.make_world()
