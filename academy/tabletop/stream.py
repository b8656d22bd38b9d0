"""The live stream (server-sent events) of a session, and the per-process ticker that releases scheduled injects.

A stream subscribes to the broker first, then sends what the log holds after the viewer's last event id, then
what the broker hands it, each event filtered by engine.sees() for a participant. It holds no database
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
CARD_PLACEHOLDER = "__inject__"


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


class StreamView:
    """What one viewer may receive, folded from the log as events arrive; no database, no request.

    `participant_id` None is the trainer's view: every event, including trainer-only ones.
    """

    def __init__(self, scenario: Scenario, participant_id: int | None, card_url: str):
        self.scenario, self.participant_id, self.card_url = scenario, participant_id, card_url
        self.state = engine.SessionState()
        self.seen: set[int] = set()

    def catch_up(self, events: list[dict], after_id: int) -> list[str]:
        """Fold the whole log; send what came after `after_id`, judged by the viewer's role now (as the page is)."""
        enriched = [(event, self._fold(event)) for event in events if event["id"] not in self.seen]
        return [self._wire(data) for event, data in enriched if event["id"] > after_id and self.visible(event)]

    def take(self, event: dict) -> str | None:
        """One event from the broker or the log: its wire text, or None when already sent or not for this viewer."""
        if event["id"] in self.seen:
            return None
        data = self._fold(event)
        return self._wire(data) if self.visible(event) else None

    @property
    def last_id(self) -> int:
        return max(self.seen, default=0)

    def visible(self, event: dict) -> bool:
        if self.participant_id is None:
            return True
        return engine.sees(event["audience"], self.participant_id, self.state.roles.get(self.participant_id))

    def _fold(self, event: dict) -> dict:
        self.seen.add(event["id"])
        at = datetime.fromisoformat(event["at"].removesuffix("Z"))
        engine.apply(self.state, engine.Event(event["id"], event["kind"], at, event["payload"]), self.scenario)
        data = {**event, "status": self.state.status, "elapsed_seconds": self.state.elapsed_seconds(at)}
        inject_id = event["payload"].get("inject_id")
        if event["kind"] in (engine.RELEASED, engine.CLOSED):
            data["card_url"] = self.card_url.replace(CARD_PLACEHOLDER, inject_id)
            data["title"] = inject_title(self.state, self.scenario, inject_id)
        elif event["kind"] == engine.DECIDED:
            data["entry"] = decision_entry(event["payload"], self.state, self.scenario)
        return data

    @staticmethod
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
    card_url = url_for("tabletop.inject_card", session_id=live.id, inject_id=CARD_PLACEHOLDER,
                       view="participant" if participant else None)
    view = StreamView(services.scenario_of(live), participant.id if participant else None, card_url)
    inbox = broker.subscribe(live.id)  # before reading the log: an event committed in between is not lost
    try:
        first = view.catch_up([row.as_stream_dict() for row in services.events_of(live)], _last_event_id())
    except Exception:
        broker.unsubscribe(live.id, inbox)
        raise
    db.session.remove()  # no connection is held while the stream waits
    once = app.testing and request.args.get("once") == "1"
    keepalive = app.config.get("TABLETOP_KEEPALIVE_SECONDS", KEEPALIVE_SECONDS)
    response = Response(_events(app, live.id, inbox, view, first, once, keepalive), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _events(app, session_id: int, inbox, view: StreamView, first: list[str], once: bool, keepalive: float):
    # A plain generator: the request and its database session are gone by the time it runs.
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        yield from first
        if once:
            return
        beat = time.monotonic() + keepalive
        while True:
            try:
                event = inbox.get(timeout=max(0.0, beat - time.monotonic()))
            except queue.Empty:
                for event in _logged_after(app, session_id, view.last_id):
                    if chunk := view.take(event):
                        yield chunk
                yield ": keepalive\n\n"
                beat = time.monotonic() + keepalive
                continue
            if chunk := view.take(event):
                yield chunk
    finally:
        broker.unsubscribe(session_id, inbox)


def _logged_after(app, session_id: int, after_id: int) -> list[dict]:
    """Events another process committed (its broker is not ours); the app context ends, and so does the session."""
    with app.app_context():
        rows = db.session.scalars(db.select(SessionEvent).where(SessionEvent.session_id == session_id,
                                                                SessionEvent.id > after_id)
                                  .order_by(SessionEvent.id))
        return [row.as_stream_dict() for row in rows]


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
