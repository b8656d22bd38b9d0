"""This process's view of each watched session's log: events folded once, in order, and handed to its streams.

Events reach a hub from this process's commits, from the relay (other processes' commits) and from reading the
log. They may arrive in any order and more than once; a hub hands each to the broker exactly once, in the order
of its number (`seq`), so every stream gets every event once, in order, with no gap. An event that arrives
before one numbered lower waits while the hub reads the log: the lower one is committed already, because a
session's events are committed in the order of their numbers (services.append).
"""

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from academy.extensions import db
from academy.tabletop import engine
from academy.tabletop.broker import broker
from academy.tabletop.models import LiveSession, SessionEvent
from academy.tabletop.scenario import Scenario

log = logging.getLogger(__name__)

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
    return {
        "participant_id": payload["participant_id"],
        "name": payload.get("name", ""),
        "role": payload.get("role"),
        "inject_id": inject_id,
        "inject_title": inject_title(state, scenario, inject_id),
        "option_text": option.text if option else "",
        "rationale": payload.get("rationale", ""),
        "exercise_seconds": (release.elapsed_seconds if release else 0) + payload.get("response_seconds", 0),
    }


@dataclass
class Item:
    """One event as every stream of this process sends it: folded once, serialised once per kind of viewer (and, for
    an inject's card, once per language that participants here read)."""

    id: int
    audience: dict
    for_trainer: str
    for_participant: dict[str, str]  # language tag → wire; ANY_LANGUAGE when the event says the same in all
    carded: dict | None = None  # what a participant's wire (a card, a role log entry) is made of, per language


ANY_LANGUAGE = "*"


class SessionHub:
    """This process's single view of one session's log, shared by all its streams.

    Folding and serialising an event once per process, not once per stream, is what lets a worker keep
    hundreds of participants current within a fraction of a second and in little memory.
    """

    def __init__(self, session_id: int, scenario: Scenario, card_urls: dict[str, str], render_card=None):
        self.session_id, self.scenario, self.card_urls = session_id, scenario, card_urls
        self.render_card = (
            render_card  # (state, scenario, inject id, tag, localised) -> participants' card HTML or None
        )
        self.languages: dict[str, Any] = {"en": None}  # tag → its Localised text, for each language read here
        self.state = engine.SessionState()
        self.items: list[Item] = []
        self.last = 0  # the number of the newest event folded: every event up to it is in `items`
        self.waiting: dict[int, dict] = {}  # events that came before one numbered lower
        self.refreshed_at = 0.0
        self.created_at: datetime | None = None  # of the session: tells it apart from another that later has its id
        self.lock = threading.RLock()

    def role_of(self, participant_id: int) -> str | None:
        return self.state.roles.get(participant_id)

    def visible(self, item: Item, participant_id: int | None) -> bool:
        if participant_id is None:
            return True
        return engine.sees(item.audience, participant_id, self.role_of(participant_id))

    def offer(self, event: dict) -> int:
        """Take a committed event (from this process or a relay); returns how many events were handed out."""
        with self.lock:
            if event["id"] <= self.last:
                return 0
            self.waiting[event["id"]] = event
            handed = self._advance()
            gap = bool(self.waiting)
        if gap:  # what comes before it is committed: read it, in an application context of our own
            with broker.context():
                handed += self.refresh(force=True)
        return handed

    def refresh(self, force: bool = False, min_interval: float = 0.0) -> int:
        """Read the log after the newest event folded here (the first time: all of it); returns how many."""
        now = time.monotonic()
        if not force and now - self.refreshed_at < min_interval:
            return 0
        self.refreshed_at = now
        rows = db.session.scalars(
            db.select(SessionEvent)
            .where(SessionEvent.session_id == self.session_id, SessionEvent.seq > self.last)
            .order_by(SessionEvent.seq)
        )
        events = [row.as_stream_dict() for row in rows]
        with self.lock:
            for event in events:
                if event["id"] > self.last:
                    self.waiting[event["id"]] = event
            handed = self._advance()
            if self.waiting:  # cannot happen while numbers are committed in order; the next poll tries again
                log.warning(
                    "session %s: events %s wait for %s, which the log does not hold yet",
                    self.session_id,
                    sorted(self.waiting),
                    self.last + 1,
                )
        return handed

    def _advance(self) -> int:
        """Fold and hand out the waiting events that follow the newest one, in order (holding the lock)."""
        handed = 0
        while self.last + 1 in self.waiting:
            item = self._fold(self.waiting.pop(self.last + 1))
            self.items.append(item)
            self.last = item.id
            broker.deliver(self.session_id, item)  # under the lock: every inbox gets items in order
            handed += 1
        return handed

    def _fold(self, event: dict) -> Item:
        at = datetime.fromisoformat(event["at"].removesuffix("Z"))
        engine.apply(self.state, engine.Event(event["id"], event["kind"], at, event["payload"]), self.scenario)
        data = {**event, "status": self.state.status, "elapsed_seconds": self.state.elapsed_seconds(at)}
        inject_id = event["payload"].get("inject_id")
        if event["kind"] == engine.DECIDED:
            data["entry"] = decision_entry(event["payload"], self.state, self.scenario)
        elif event["kind"] in (engine.RELEASED, engine.CLOSED):
            data["title"] = inject_title(self.state, self.scenario, inject_id)
        carded = bool(inject_id) and event["kind"] in (engine.RELEASED, engine.CLOSED)
        if not carded and event["kind"] != engine.DECIDED:  # says the same in every language
            text = wire(data)
            return Item(event["id"], event["audience"], text, {ANY_LANGUAGE: text})
        if carded:
            urls = {viewer: url.replace(CARD_INJECT_TOKEN, inject_id) for viewer, url in self.card_urls.items()}
            trainer = wire({**data, "card_url": urls["trainer"]})
            data = {**data, "card_url": urls["participant"]}
        else:
            trainer = wire(data)
        item = Item(event["id"], event["audience"], trainer, {}, data)
        for tag in self.languages:
            item.for_participant[tag] = self._participant_wire(item, tag)
        return item

    def _participant_wire(self, item: Item, tag: str) -> str:
        """A carded event (or a decision for the role log) for participants reading `tag`: its card rendered once
        here, not fetched by each of hundreds of pages as the event reaches them (holding the lock)."""
        data = dict(item.carded or {})
        localised = self.languages.get(tag)
        inject_id = data["payload"]["inject_id"]
        if data["kind"] == engine.DECIDED:  # the role log's entry: the inject's title and the option's text
            if localised is not None:
                data["entry"] = localised.entry(self.scenario, data["entry"])
            return wire(data)
        if localised is not None:
            data["title"] = localised.title_of(self.scenario, inject_id, data.get("title", ""))
        if self.render_card is not None:
            data["card_html"] = self.render_card(self.state, self.scenario, inject_id, tag, localised)
        return wire(data)

    def speak(self, tag: str, localised) -> None:
        """Participants here read `tag` (with its Localised text): cards are rendered in it from now on."""
        with self.lock:
            if tag not in self.languages:
                self.languages[tag] = localised

    def participant_wire(self, item: Item, tag: str) -> str:
        """The event as a participant reading `tag` receives it."""
        found = item.for_participant.get(ANY_LANGUAGE) or item.for_participant.get(tag)
        if found is None:
            with self.lock:  # a language that came after the event: rendered once, then kept
                found = item.for_participant.get(tag)
                if found is None:
                    found = item.for_participant[tag] = self._participant_wire(item, tag)
        return found


class Hubs:
    """The hubs of this process, one per session that has a stream open here."""

    def __init__(self):
        self._lock = threading.Lock()
        self._hubs: dict[int, SessionHub] = {}

    def find(self, live: LiveSession) -> SessionHub | None:
        """The session's hub, if this process has one: what it needs is parsed once, when it is made, not per stream."""
        with self._lock:
            hub = self._hubs.get(live.id)
            return hub if hub is not None and hub.created_at == live.created_at else None

    def get(self, live: LiveSession, scenario: Scenario, card_urls: dict[str, str], render_card=None) -> SessionHub:
        with self._lock:
            hub = self._hubs.get(live.id)
            # The scenario version is pinned: a hub never needs rebuilding, unless its id now names another
            # session (a database restored or rebuilt under a running process reuses ids).
            if hub is None or hub.created_at != live.created_at:
                hub = self._hubs[live.id] = SessionHub(live.id, scenario, card_urls, render_card)
                hub.created_at = live.created_at
            return hub

    def release(self, session_id: int) -> None:
        """Forget a session nobody here watches any more; the next stream reads its log again."""
        with self._lock:
            if broker.subscriber_count(session_id) == 0:
                self._hubs.pop(session_id, None)

    def forget(self) -> None:
        """Drop every hub of this process (see Broker.forget_subscribers)."""
        with self._lock:
            self._hubs.clear()

    def offer(self, session_id: int, event: dict) -> int:
        """The broker's hook: a committed event for the session's hub, if this process has one."""
        hub = self._hubs.get(session_id)
        return hub.offer(event) if hub is not None else 0

    def catch_up(self, session_ids: set[int] | None = None) -> int:
        """The broker's hook when its relay may have missed events: the hubs (all, or these) read the log."""
        with self._lock:
            chosen = [hub for session_id, hub in self._hubs.items() if session_ids is None or session_id in session_ids]
        return sum(hub.refresh(force=True) for hub in chosen)

    def poll(self) -> int:
        """Read the log of every hub whose session has events this process has not seen; one query for all."""
        with self._lock:
            watched = dict(self._hubs)
        if not watched:
            return 0
        newest = dict(
            db.session.execute(
                db.select(LiveSession.id, LiveSession.last_seq).where(LiveSession.id.in_(sorted(watched)))
            ).all()
        )
        behind = [hub for session_id, hub in watched.items() if newest.get(session_id, 0) > hub.last or hub.waiting]
        return sum(hub.refresh(force=True) for hub in behind)


hubs = Hubs()
broker.prepare = hubs.offer
broker.refresh = hubs.catch_up


def wire(data: dict) -> str:
    return f"id: {data['id']}\nevent: {data['kind']}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
