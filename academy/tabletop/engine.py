"""The live-session state machine: an append-only list of events folded into state. No Flask, no database.

Every change to a session is an event; the state is what the events say, so a session survives a crash
or a restart by reading its events again. Time is passed in, never read here, so tests can freeze it.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from academy.tabletop.scenario import Inject, Scenario

# Event kinds and who may see each (resolved per event by `audience_of`).
JOINED = "participant.joined"
ASSIGNED = "role.assigned"
STARTED = "session.started"
PAUSED = "session.paused"
RESUMED = "session.resumed"
ENDED = "session.ended"
RELEASED = "inject.released"
CLOSED = "inject.closed"
DECIDED = "decision.submitted"
OBSERVED = "observation.added"
OVERRIDDEN = "score.overridden"

LOBBY, RUNNING, PAUSED_STATUS, ENDED_STATUS = "lobby", "running", "paused", "ended"
TRAINER_ONLY = {"trainer": True}
EVERYONE = {"all": True}


class EngineError(ValueError):
    """A command the session cannot accept in its current state; the message is for the user."""


@dataclass
class Event:
    id: int
    kind: str
    at: datetime
    payload: dict


@dataclass
class Release:
    inject_id: str
    event_id: int
    at: datetime
    elapsed_seconds: int
    audience: dict  # {"all": True} | {"roles": [...]} | {"participant": id}
    how: str  # scheduled | next | early | adhoc | unlocked
    title: str = ""


@dataclass
class SessionState:
    status: str = LOBBY
    started_at: datetime | None = None
    ended_at: datetime | None = None
    running_since: datetime | None = None
    banked_seconds: float = 0.0
    participants: dict = field(default_factory=dict)  # id -> joined payload
    roles: dict = field(default_factory=dict)  # participant id -> role code
    releases: dict = field(default_factory=dict)  # inject id -> Release, in release order
    closed: set = field(default_factory=set)
    decisions: dict = field(default_factory=dict)  # (participant id, inject id) -> Event
    unlocked: set = field(default_factory=set)
    adhoc: dict = field(default_factory=dict)  # inject id -> payload
    observations: list = field(default_factory=list)
    overrides: list = field(default_factory=list)
    last_event_id: int = 0

    def elapsed_seconds(self, now: datetime) -> int:
        """Exercise time: wall time while running, frozen while paused or after the end."""
        running = (now - self.running_since).total_seconds() if self.running_since else 0.0
        return int(self.banked_seconds + max(0.0, running))


def fold(events, scenario: Scenario) -> SessionState:
    """The state a list of events (in id order) leaves a session in."""
    state = SessionState()
    for event in events:
        apply(state, event, scenario)
    return state


def apply(state: SessionState, event: Event, scenario: Scenario) -> None:
    """Apply one event; events are facts already accepted, so this never refuses one."""
    p, kind = event.payload, event.kind
    state.last_event_id = max(state.last_event_id, event.id)
    if kind == JOINED:
        state.participants[p["participant_id"]] = p
    elif kind == ASSIGNED:
        state.roles[p["participant_id"]] = p["role"]
    elif kind == STARTED:
        state.status, state.started_at, state.running_since = RUNNING, event.at, event.at
    elif kind == PAUSED:
        state.banked_seconds += (event.at - state.running_since).total_seconds() if state.running_since else 0
        state.status, state.running_since = PAUSED_STATUS, None
    elif kind == RESUMED:
        state.status, state.running_since = RUNNING, event.at
    elif kind == ENDED:
        if state.running_since:
            state.banked_seconds += (event.at - state.running_since).total_seconds()
        state.status, state.running_since, state.ended_at = ENDED_STATUS, None, event.at
    elif kind == RELEASED:
        state.releases[p["inject_id"]] = Release(
            p["inject_id"], event.id, event.at, p["elapsed_seconds"], p["audience"], p["how"], p.get("title", "")
        )
        if p["how"] == "adhoc":
            state.adhoc[p["inject_id"]] = p
    elif kind == CLOSED:
        state.closed.add(p["inject_id"])
    elif kind == DECIDED:
        state.decisions[(p["participant_id"], p["inject_id"])] = event
        option = option_of(scenario, p["inject_id"], p.get("option_id"))
        if option:
            state.unlocked.update(option.unlocks)
    elif kind == OBSERVED:
        state.observations.append(event)
    elif kind == OVERRIDDEN:
        state.overrides.append(event)


def inject_of(scenario: Scenario, inject_id: str) -> Inject | None:
    return next((inject for inject in scenario.injects if inject.id == inject_id), None)


def option_of(scenario: Scenario, inject_id: str, option_id: str | None):
    inject = inject_of(scenario, inject_id)
    if inject is None or inject.decision is None or option_id is None:
        return None
    return next((option for option in inject.decision.options if option.id == option_id), None)


def eligible(state: SessionState, inject: Inject) -> bool:
    """Not yet released, and either on the timeline or unlocked by a decision."""
    return inject.id not in state.releases and (not inject.follow_up or inject.id in state.unlocked)


def due_injects(state: SessionState, scenario: Scenario, now: datetime) -> list[Inject]:
    """Injects whose time has come while running; one-person injects wait for the trainer to pick someone."""
    if state.status != RUNNING:
        return []
    elapsed = state.elapsed_seconds(now)
    return [
        inject
        for inject in sorted(scenario.injects, key=lambda i: i.offset)
        if eligible(state, inject) and inject.audience != "participant" and inject.offset * 60 <= elapsed
    ]


def next_due_at(state: SessionState, scenario: Scenario) -> datetime | None:
    """The moment `due_injects` next returns something, if the clock keeps running; None when nothing is left."""
    if state.status != RUNNING or state.running_since is None:
        return None
    offsets = [
        inject.offset * 60
        for inject in scenario.injects
        if eligible(state, inject) and inject.audience != "participant"
    ]
    if not offsets:
        return None
    # Due once the whole elapsed seconds reach the offset, i.e. once banked + running >= offset: rounded up to the
    # microsecond, so that at this moment the inject is due and not a microsecond later.
    wait = max(0.0, min(offsets) - state.banked_seconds)
    return state.running_since + timedelta(microseconds=math.ceil(round(wait * 1_000_000, 3)))


def upcoming(state: SessionState, scenario: Scenario) -> list[Inject]:
    """Eligible injects in timeline order: the console's 'next' list."""
    return [inject for inject in sorted(scenario.injects, key=lambda i: i.offset) if eligible(state, inject)]


def release_audience(inject: Inject, participant_id: int | None = None) -> dict:
    """Who an inject is released to: everyone, some roles, or the one participant the trainer picked."""
    if inject.audience == "all":
        return dict(EVERYONE)
    if inject.audience == "participant":
        if participant_id is None:
            raise EngineError("Choose the participant who receives this inject.")
        return {"participant": participant_id}
    return {"roles": list(inject.audience)}


def sees(audience: dict, participant_id: int | None, role: str | None) -> bool:
    """Whether a participant with this role may see something addressed to `audience`."""
    if audience.get("all"):
        return True
    if audience.get("trainer"):
        return False
    if "participant" in audience:
        return participant_id is not None and audience["participant"] == participant_id
    return role is not None and role in audience.get("roles", [])


def check_command(state: SessionState, command: str) -> None:
    """Refuse clock commands that make no sense in the current status."""
    allowed = {
        "start": {LOBBY},
        "pause": {RUNNING},
        "resume": {PAUSED_STATUS},
        "end": {LOBBY, RUNNING, PAUSED_STATUS},
        "release": {RUNNING, PAUSED_STATUS},
    }
    if state.status not in allowed[command]:
        raise EngineError(f"The session is {state.status}; it cannot {command} now.")


def check_decision(
    state: SessionState, scenario: Scenario, participant_id: int, inject_id: str, option_id: str | None, rationale: str
) -> None:
    """Refuse a response the participant may not give; the message says why."""
    if participant_id not in state.participants:
        raise EngineError("Only participants of this session can respond.")
    if state.status == ENDED_STATUS:
        raise EngineError("The session has ended; responses are closed.")
    release = state.releases.get(inject_id)
    if release is None or not sees(release.audience, participant_id, state.roles.get(participant_id)):
        raise EngineError("This inject is not in your feed.")
    if inject_id in state.closed:
        raise EngineError("Responses to this inject are closed.")
    if (participant_id, inject_id) in state.decisions:
        raise EngineError("You have already responded to this inject.")
    inject = inject_of(scenario, inject_id)
    if inject is not None and inject.decision is not None and inject.decision.options:
        if option_of(scenario, inject_id, option_id) is None:
            raise EngineError("Choose one of the options.")
    elif option_id:
        raise EngineError("This inject asks for a written response only.")
    if not rationale.strip():
        raise EngineError("Explain your choice in a sentence or two: the rationale is part of the exercise.")


def response_seconds(state: SessionState, inject_id: str, now: datetime) -> int:
    """Exercise time between the release of an inject and a response to it."""
    release = state.releases[inject_id]
    return max(0, state.elapsed_seconds(now) - release.elapsed_seconds)
