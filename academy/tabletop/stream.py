"""The live stream (server-sent events) of a session, and the per-process log poller.

A stream subscribes to the broker first, then sends what the session hub holds after the viewer's last event id,
then what the hub hands it, in order, each event filtered by engine.sees() for a participant. It holds no
database connection while it waits: 500 open streams must not hold 500 connections.
"""

import logging
import queue
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

from flask import Response, abort, current_app, request, url_for
from flask_babel import _
from flask_login import current_user
from werkzeug.exceptions import TooManyRequests

from academy.accounts.languages import current_tag
from academy.core.permissions import PUBLIC, allow
from academy.extensions import db
from academy.tabletop import services
from academy.tabletop import translations as scenario_translations
from academy.tabletop.broker import broker
from academy.tabletop.cards import card_renderer
from academy.tabletop.hub import CARD_INJECT_TOKEN, Item, SessionHub, hubs
from academy.tabletop.permissions import load_viewer
from academy.tabletop.ticker import ensure_ticker
from academy.tabletop.views import bp

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15  # also how often a stream looks in the log when the poller is off
RETRY_MILLISECONDS = 3000
RETRY_AFTER_SECONDS = 30  # what a refused stream is told to wait
CLOSE = object()  # put in a stream's inbox: end this stream (its viewer opened too many)


class TooManyStreams(Exception):
    """This client address holds as many open streams as one process allows."""


class StreamSlots:
    """Open streams per viewer and per client address in this process: one cookie cannot hold thousands.

    A viewer over the limit (a participant with many tabs, or reloading faster than closed connections are
    noticed) ends their own oldest stream, so nobody is ever locked out of their own session; an address over
    the limit is refused.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._by_viewer: dict[tuple, list[queue.SimpleQueue]] = defaultdict(list)
        self._by_address: Counter = Counter()

    def take(self, viewer: tuple, address: str, inbox: queue.SimpleQueue, per_viewer: int, per_address: int) -> None:
        with self._lock:
            if self._by_address[address] >= per_address:
                raise TooManyStreams(address)
            self._by_address[address] += 1
            open_streams = self._by_viewer[viewer]
            open_streams.append(inbox)
            while len(open_streams) > per_viewer:
                open_streams.pop(0).put(CLOSE)

    def give_back(self, viewer: tuple, address: str, inbox: queue.SimpleQueue) -> None:
        with self._lock:
            self._by_address[address] -= 1
            if self._by_address[address] <= 0:
                del self._by_address[address]
            open_streams = self._by_viewer.get(viewer, [])
            if inbox in open_streams:
                open_streams.remove(inbox)
            if not open_streams:
                self._by_viewer.pop(viewer, None)

    def forget(self) -> None:
        with self._lock:
            self._by_viewer.clear()
            self._by_address.clear()

    def count(self, viewer: tuple | None = None, address: str | None = None) -> int:
        with self._lock:
            return len(self._by_viewer.get(viewer, [])) if viewer is not None else self._by_address.get(address, 0)


slots = StreamSlots()


def forget_streams() -> None:
    """Forget every stream, hub and subscription of this process: a test's application and database are gone."""
    broker.forget_subscribers()
    hubs.forget()
    slots.forget()


def _event_number(value: str) -> int | None:
    # ASCII digits only ("²" is a digit to str.isdigit) and at most 18 of them: int() refuses more than 4,300.
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _last_event_id() -> int:
    """The later of the Last-Event-ID header (EventSource's own reconnects) and ?after= (a recreated source).

    A header that is no event number (a proxy mangled it) counts as none; ?after= is the page's own, so anything but
    an event number there is refused (400).
    """
    header = _event_number(request.headers.get("Last-Event-ID", "").strip()) or 0
    raw = request.args.get("after", "").strip()
    after = _event_number(raw) if raw else 0
    if after is None:
        abort(400, description=_("The stream's ?after= must be the number of an event."))
    return max(header, after)


@bp.get("/exercises/sessions/<int:session_id>/stream")
@allow(PUBLIC)
def stream(session_id):
    """The session's events as server-sent events: the trainer's view, or what one participant may see."""
    live, participant = load_viewer(session_id, as_participant=request.args.get("view") == "participant")
    app = current_app._get_current_object()
    ensure_ticker(app)
    ensure_poller(app)
    card_urls = {
        viewer: url_for(
            "tabletop.inject_card",
            session_id=live.id,
            inject_id=CARD_INJECT_TOKEN,
            view="participant" if viewer == "participant" else None,
        )
        for viewer in ("trainer", "participant")
    }
    viewer = ("participant", participant.id) if participant else ("trainer", current_user.get_id())
    address = request.remote_addr or "unknown"
    inbox = broker.subscribe(live.id)  # before reading the log: an event committed in between is not lost
    try:
        slots.take(
            viewer, address, inbox, app.config["LIVE_STREAMS_PER_VIEWER"], app.config["LIVE_STREAMS_PER_ADDRESS"]
        )
    except TooManyStreams:
        broker.unsubscribe(live.id, inbox)
        raise TooManyRequests(
            _(
                "Too many live views are open from your network. Close some tabs or windows of "
                "this exercise, then reload the page."
            ),
            retry_after=RETRY_AFTER_SECONDS,
        ) from None
    end = _ender(live.id, viewer, address, inbox)
    hub = hubs.find(live) or hubs.get(live, services.scenario_of(live), card_urls, card_renderer(app, live.id))
    tag = current_tag()
    try:
        if participant is not None and tag not in hub.languages:
            hub.speak(tag, scenario_translations.localised(hub.scenario.slug, tag))
        hub.refresh(force=True)
    except Exception:
        end()
        raise
    db.session.remove()  # no connection is held while the stream waits
    viewer_id = participant.id if participant else None
    after = _last_event_id()
    with hub.lock:  # the hub hands out later events in order: what it holds now is the catch-up, then the inbox
        first = [item for item in hub.items if item.id > after and hub.visible(item, viewer_id)]
        cursor = hub.last
    once = app.testing and request.args.get("once") == "1"
    keepalive = app.config.get("TABLETOP_KEEPALIVE_SECONDS", KEEPALIVE_SECONDS)
    response = Response(
        _events(app, hub, tag, inbox, viewer_id, first, cursor, once, keepalive, end), mimetype="text/event-stream"
    )
    response.call_on_close(end)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _ender(session_id: int, viewer: tuple, address: str, inbox):
    """What ends a stream once, when its response ends, whether or not the server ever started sending it.

    Made of plain values, not of the request's database objects: a stream lasts for hours, and a session loaded
    with its scenario version would keep that version's whole definition alive once per open stream.
    """
    ended = threading.Event()

    def end() -> None:
        if not ended.is_set():
            ended.set()
            slots.give_back(viewer, address, inbox)
            broker.unsubscribe(session_id, inbox)
            hubs.release(session_id)

    return end


def _events(
    app,
    hub: SessionHub,
    tag: str,
    inbox,
    viewer_id: int | None,
    first: list[Item],
    cursor: int,
    once: bool,
    keepalive: float,
    end,
):
    # A plain generator: the request and its database session are gone by the time it runs.
    def pick(item: Item) -> str:
        return item.for_trainer if viewer_id is None else hub.participant_wire(item, tag)

    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        for item in first:
            yield pick(item)
        if once:
            return
        while True:
            try:
                item = inbox.get(timeout=keepalive)
            except queue.Empty:
                if not app.config.get("LIVE_POLL_SECONDS"):  # no poller: events of other processes come here
                    with app.app_context():
                        hub.refresh(min_interval=keepalive / 2)
                yield ": keepalive\n\n"
                continue
            if item is CLOSE:
                return
            if item.id <= cursor:  # in the catch-up already
                continue
            cursor = item.id
            if hub.visible(item, viewer_id):
                yield pick(item)
    finally:
        end()


def ensure_poller(app) -> None:
    """Start this process's log poller on first use, unless LIVE_POLL_SECONDS is 0 (as in the tests)."""
    if app.config.get("LIVE_POLL_SECONDS"):
        _ensure_background(app, "tabletop_poller", app.config["LIVE_POLL_SECONDS"], hubs.poll)


@dataclass
class Background:
    thread: threading.Thread
    stop: threading.Event


_background_lock = threading.Lock()


def _ensure_background(app, name: str, interval: float, work) -> None:
    """Start this process's `name` thread once: `work()` every `interval` seconds, in an application context."""
    with _background_lock:
        running = app.extensions.get(name)
        if running is not None and running.thread.is_alive():
            return
        stop = threading.Event()
        thread = threading.Thread(target=_repeat, args=(app, stop, interval, work, name), name=name, daemon=True)
        app.extensions[name] = Background(thread, stop)
        thread.start()


def _repeat(app, stop: threading.Event, interval: float, work, name: str) -> None:
    while not stop.wait(interval):
        try:
            with app.app_context():
                work()
        except Exception:  # it must outlive a bad second (a database restart, a bad row)
            log.exception("%s failed", name)
