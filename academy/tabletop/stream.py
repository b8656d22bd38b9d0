"""The live stream (server-sent events) of a session, and the per-process ticker that releases scheduled injects.

A stream subscribes to the broker first, then sends what the session hub holds after the viewer's last event id,
then what the broker hands it, each event filtered by engine.sees() for a participant. It holds no database
connection while it waits: 500 open streams must not hold 500 connections.
"""
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from flask import Response, current_app, request, url_for

from academy.core.permissions import PUBLIC, allow
from academy.extensions import db
from academy.tabletop import engine, services
from academy.tabletop.broker import broker
from academy.tabletop.models import LiveSession, SessionEvent
from academy.tabletop.permissions import load_viewer
from academy.tabletop.scenario_files import Scenario
from academy.tabletop.views import bp

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15  # also how often a stream looks in the log for events committed by other processes
RETRY_MILLISECONDS = 3000
TICK_SECONDS = 1.0
CARD_INJECT_TOKEN = "__inject__"


def inject_title(state: engine.SessionState, scenario: Scenario, inject_id: str) -> str:
    inject = engine.inject_of(scenario, inject_id)
    if inject is not None:
        return inject.title
    release = state.releases.get(inject_id)
    return release.title if release else inject_id


def decision_entry(payload: dict, state: engine.SessionState, scenario: Scenario) -> dict:
    """A decision as the shared role log shows it: who, which inject, which option, why, at what exercise time."""
    inject_id = payload["inject_id"]
    option = engine.option_of(scenario, inject_id, payload.get("option_id"))
    release = state.releases.get(inject_id)
    return {"participant_id": payload["participant_id"], "name": payload.get("name", ""),
            "role": payload.get("role"), "inject_id": inject_id,
            "inject_title": inject_title(state, scenario, inject_id), "option_text": option.text if option else "",
            "rationale": payload.get("rationale", ""),
            "exercise_seconds": (release.elapsed_seconds if release else 0) + payload.get("response_seconds", 0)}


@dataclass
class Item:
    """One event as every stream of this process sends it: folded once, serialised once per kind of viewer."""

    id: int
    audience: dict
    for_trainer: str
    for_participant: str


class SessionHub:
    """This process's single view of one session's log, shared by all its streams.

    Folding and serialising an event once per process, not once per stream, is what lets a worker keep
    hundreds of participants current within a fraction of a second and in little memory.
    """

    REFRESH_WINDOW = 500  # ids below the newest one that a late commit (another process) may still fill

    def __init__(self, session_id: int, scenario: Scenario, card_urls: dict[str, str]):
        self.session_id, self.scenario, self.card_urls = session_id, scenario, card_urls
        self.state = engine.SessionState()
        self.items: list[Item] = []
        self.seen: set[int] = set()
        self.refreshed_at = 0.0
        self.lock = threading.RLock()

    def role_of(self, participant_id: int) -> str | None:
        return self.state.roles.get(participant_id)

    def visible(self, item: Item, participant_id: int | None) -> bool:
        if participant_id is None:
            return True
        return engine.sees(item.audience, participant_id, self.role_of(participant_id))

    def add(self, event: dict) -> Item | None:
        """Fold a committed event once; None when this process has it already."""
        with self.lock:
            if event["id"] in self.seen:
                return None
            self.seen.add(event["id"])
            at = datetime.fromisoformat(event["at"].removesuffix("Z"))
            engine.apply(self.state, engine.Event(event["id"], event["kind"], at, event["payload"]), self.scenario)
            data = {**event, "status": self.state.status, "elapsed_seconds": self.state.elapsed_seconds(at)}
            inject_id = event["payload"].get("inject_id")
            if event["kind"] == engine.DECIDED:
                data["entry"] = decision_entry(event["payload"], self.state, self.scenario)
            elif event["kind"] in (engine.RELEASED, engine.CLOSED):
                data["title"] = inject_title(self.state, self.scenario, inject_id)
            wires = {}
            for viewer, url in self.card_urls.items():
                if inject_id and event["kind"] in (engine.RELEASED, engine.CLOSED):
                    data["card_url"] = url.replace(CARD_INJECT_TOKEN, inject_id)
                wires[viewer] = _wire(data)
            item = Item(event["id"], event["audience"], wires["trainer"], wires["participant"])
            self.items.append(item)
            return item

    def refresh(self, force: bool = False, min_interval: float = 0.0) -> list[Item]:
        """Read what the log holds that this process has not seen (the first time: all of it)."""
        now = time.monotonic()
        if not force and now - self.refreshed_at < min_interval:
            return []
        self.refreshed_at = now
        newest = max(self.seen, default=0)
        query = db.select(SessionEvent).where(SessionEvent.session_id == self.session_id,
                                              SessionEvent.id > newest - self.REFRESH_WINDOW if self.seen else True)
        rows = [row.as_stream_dict() for row in db.session.scalars(query.order_by(SessionEvent.id))]
        return [item for item in (self.add(row) for row in rows) if item is not None]


class Hubs:
    """The hubs of this process, one per session that has a stream open here."""

    def __init__(self):
        self._lock = threading.Lock()
        self._hubs: dict[int, SessionHub] = {}

    def get(self, live: LiveSession, scenario: Scenario, card_urls: dict[str, str]) -> SessionHub:
        with self._lock:
            hub = self._hubs.get(live.id)
            if hub is None:  # the scenario version is pinned: a hub never needs rebuilding
                hub = self._hubs[live.id] = SessionHub(live.id, scenario, card_urls)
            return hub

    def release(self, session_id: int) -> None:
        """Forget a session nobody here watches any more; the next stream reads its log again."""
        with self._lock:
            if broker.subscriber_count(session_id) == 0:
                self._hubs.pop(session_id, None)

    def prepare(self, session_id: int, event: dict) -> Item | None:
        """The broker's hook: fold a freshly committed event into the session's hub, if this process has one."""
        hub = self._hubs.get(session_id)
        return hub.add(event) if hub is not None else None

    def catch_up(self, session_ids: set[int] | None = None) -> int:
        """The broker's hook when its relay may have missed events: the hubs (all, or these) read the log."""
        with self._lock:
            chosen = [hub for session_id, hub in self._hubs.items() if session_ids is None or session_id in session_ids]
        return sum(broker.deliver(hub.session_id, fresh) for hub in chosen for fresh in hub.refresh(force=True))


hubs = Hubs()
broker.prepare = hubs.prepare
broker.refresh = hubs.catch_up


def _wire(data: dict) -> str:
    return f"id: {data['id']}\nevent: {data['kind']}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _last_event_id() -> int:
    """The later of the Last-Event-ID header (EventSource's own reconnects) and ?after= (a recreated source)."""
    values = [request.headers.get("Last-Event-ID", ""), request.args.get("after", "")]
    return max((int(value) for value in values if value.strip().isdigit()), default=0)


@bp.get("/exercises/sessions/<int:session_id>/stream")
@allow(PUBLIC)
def stream(session_id):
    """The session's events as server-sent events: the trainer's view, or what one participant may see."""
    live, participant = load_viewer(session_id, as_participant=request.args.get("view") == "participant")
    app = current_app._get_current_object()
    ensure_ticker(app)
    card_urls = {viewer: url_for("tabletop.inject_card", session_id=live.id, inject_id=CARD_INJECT_TOKEN,
                                 view="participant" if viewer == "participant" else None)
                 for viewer in ("trainer", "participant")}
    inbox = broker.subscribe(live.id)  # before reading the log: an event committed in between is not lost
    hub = hubs.get(live, services.scenario_of(live), card_urls)
    try:
        hub.refresh(force=True)
    except Exception:
        broker.unsubscribe(live.id, inbox)
        raise
    db.session.remove()  # no connection is held while the stream waits
    viewer_id = participant.id if participant else None
    after = _last_event_id()
    with hub.lock:
        first = [item for item in hub.items if item.id > after and hub.visible(item, viewer_id)]
        sent = {item.id for item in hub.items}
    once = app.testing and request.args.get("once") == "1"
    keepalive = app.config.get("TABLETOP_KEEPALIVE_SECONDS", KEEPALIVE_SECONDS)
    response = Response(_events(app, hub, inbox, viewer_id, first, sent, once, keepalive),
                        mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _events(app, hub: SessionHub, inbox, viewer_id: int | None, first: list[Item], sent: set[int], once: bool,
            keepalive: float):
    # A plain generator: the request and its database session are gone by the time it runs.
    pick = (lambda item: item.for_trainer) if viewer_id is None else (lambda item: item.for_participant)
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        for item in first:
            yield pick(item)
        if once:
            return
        beat = time.monotonic() + keepalive
        while True:
            try:
                item = inbox.get(timeout=max(0.0, beat - time.monotonic()))
            except queue.Empty:
                # Events another process committed reach this one's hub here (its broker is not ours).
                with app.app_context():
                    for fresh in hub.refresh(min_interval=keepalive / 2):
                        broker.deliver(hub.session_id, fresh)
                yield ": keepalive\n\n"
                beat = time.monotonic() + keepalive
                continue
            if item.id in sent:
                continue
            sent.add(item.id)
            if hub.visible(item, viewer_id):
                yield pick(item)
    finally:
        broker.unsubscribe(hub.session_id, inbox)
        hubs.release(hub.session_id)


@dataclass
class Ticker:
    thread: threading.Thread
    stop: threading.Event


_ticker_lock = threading.Lock()


def ensure_ticker(app) -> None:
    """Start this process's ticker on first use, unless the configuration turns it off (as the tests do)."""
    if not app.config.get("TABLETOP_TICKER", True):
        return
    with _ticker_lock:
        ticker = app.extensions.get("tabletop_ticker")
        if ticker is not None and ticker.thread.is_alive():
            return
        stop = threading.Event()
        thread = threading.Thread(target=_run_ticker, args=(app, stop), name="tabletop-ticker", daemon=True)
        app.extensions["tabletop_ticker"] = Ticker(thread, stop)
        thread.start()


def _run_ticker(app, stop: threading.Event) -> None:
    while not stop.wait(TICK_SECONDS):
        try:
            with app.app_context():
                tick_running_sessions()
        except Exception:  # the ticker must outlive a bad second (a database restart, a bad row)
            log.exception("the tabletop ticker failed")


def tick_running_sessions(now: datetime | None = None) -> int:
    """Release what is due in every running session, one commit each; several processes may do it at once."""
    released = 0
    ids = db.session.scalars(db.select(LiveSession.id).where(LiveSession.status == engine.RUNNING)).all()
    for session_id in ids:
        live = db.session.get(LiveSession, session_id)
        try:
            released += len(services.tick(live, now=now))
            db.session.commit()
        except Exception:  # one broken session must not stop the clock of the others
            db.session.rollback()
            log.exception("ticking session %s failed", session_id)
    return released
