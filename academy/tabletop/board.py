"""What the trainer console shows: the timeline of injects, the lobby and the live board of responses.

Pure functions of a session's folded state and its pinned scenario, plus one query for the lobby.
"""

from dataclasses import dataclass, field
from datetime import datetime

from academy.extensions import db
from academy.tabletop import engine
from academy.tabletop.models import LiveSession, Participant
from academy.tabletop.scenario import Inject, Scenario

ASKS_RESPONSE = "asks_response"  # payload key of an ad-hoc inject that wants an answer


@dataclass
class TimelineItem:
    inject_id: str
    title: str
    offset: int | None  # minutes from the start; None for an ad-hoc inject
    audience: object  # scenario form ("all", "participant", [roles]) before release, the release's dict after
    asks_response: bool
    follow_up: bool = False
    locked: bool = False  # a follow-up no decision has unlocked yet
    release: engine.Release | None = None
    closed: bool = False
    body: str = ""

    @property
    def one_person(self) -> bool:
        return self.release is None and self.audience == "participant"

    def early(self, elapsed_seconds: int) -> bool:
        """Releasing it now is ahead of its place on the timeline."""
        return self.offset is not None and self.offset * 60 > elapsed_seconds


@dataclass
class Answer:
    participant_id: int
    name: str
    option: str | None  # the option's text; None for a written answer only
    rationale: str
    seconds: int
    at: datetime


@dataclass
class BoardRow:
    role: str | None  # None: the people addressed without a role (one person, or not yet assigned)
    answered: list[Answer] = field(default_factory=list)
    waiting: list[dict] = field(default_factory=list)  # joined payloads: participant_id, name, institution


@dataclass
class BoardItem:
    item: TimelineItem
    rows: list[BoardRow]

    @property
    def answered_count(self) -> int:
        return sum(len(row.answered) for row in self.rows)

    @property
    def expected_count(self) -> int:
        return self.answered_count + sum(len(row.waiting) for row in self.rows)


def asks_response(inject: Inject | None, adhoc: dict | None = None) -> bool:
    """Whether an inject waits for decisions: a scripted one with a decision, an ad-hoc one marked so."""
    if inject is not None:
        return inject.decision is not None
    return bool(adhoc and adhoc.get(ASKS_RESPONSE))


def released(state: engine.SessionState, scenario: Scenario) -> list[TimelineItem]:
    """Released injects, scripted and ad-hoc, in the order they went out."""
    items = []
    for inject_id, release in state.releases.items():
        inject = engine.inject_of(scenario, inject_id)
        adhoc = state.adhoc.get(inject_id)
        items.append(
            TimelineItem(
                inject_id=inject_id,
                title=inject.title if inject else release.title,
                offset=inject.offset if inject else None,
                audience=release.audience,
                asks_response=asks_response(inject, adhoc),
                follow_up=bool(inject and inject.follow_up),
                release=release,
                closed=inject_id in state.closed,
                body=inject.body if inject else (adhoc or {}).get("body", ""),
            )
        )
    return items


def upcoming(state: engine.SessionState, scenario: Scenario) -> list[TimelineItem]:
    """Every scripted inject not released yet, in timeline order; follow-ups say whether they are unlocked."""
    return [
        TimelineItem(
            inject_id=inject.id,
            title=inject.title,
            offset=inject.offset,
            audience=inject.audience,
            asks_response=asks_response(inject),
            follow_up=inject.follow_up,
            locked=not engine.eligible(state, inject),
            body=inject.body,
        )
        for inject in sorted(scenario.injects, key=lambda i: i.offset)
        if inject.id not in state.releases
    ]


def next_inject(state: engine.SessionState, scenario: Scenario) -> Inject | None:
    """What "Release next" sends: the first eligible inject on the timeline."""
    return next(iter(engine.upcoming(state, scenario)), None)


def live_board(state: engine.SessionState, scenario: Scenario) -> list[BoardItem]:
    """Per released inject that asks for a response, newest first: who answered what, who has not yet."""
    role_codes = [role.code for role in scenario.roles]
    board = []
    for item in reversed(released(state, scenario)):
        if item.asks_response:
            board.append(BoardItem(item, _rows(state, scenario, item, role_codes)))
    return board


def _rows(state, scenario, item: TimelineItem, role_codes: list[str]) -> list[BoardRow]:
    assert item.release is not None  # live_board passes released items only
    audience = item.release.audience
    rows: dict[str | None, BoardRow]
    if "participant" in audience:
        rows = {None: BoardRow(None)}
        addressed = [audience["participant"]]
    else:
        codes = role_codes if audience.get("all") else list(audience.get("roles", []))
        rows = {code: BoardRow(code) for code in codes}
        addressed = [pid for pid in state.participants if engine.sees(audience, pid, state.roles.get(pid))]
        if audience.get("all"):
            rows[None] = BoardRow(None)  # everyone includes people still without a role
    for pid in addressed:
        decision = state.decisions.get((pid, item.inject_id))
        key = None if "participant" in audience else state.roles.get(pid)
        if decision is not None:
            key = None if "participant" in audience else decision.payload.get("role")
        row = rows.setdefault(key, BoardRow(key))
        if decision is None:
            row.waiting.append(state.participants.get(pid, {"participant_id": pid, "name": "?", "institution": ""}))
        else:
            row.answered.append(_answer(scenario, item.inject_id, decision))
    # Answers from people who no longer match the audience (reassigned since) still count where they were given.
    for (pid, inject_id), decision in state.decisions.items():
        if inject_id == item.inject_id and pid not in addressed:
            key = None if "participant" in audience else decision.payload.get("role")
            rows.setdefault(key, BoardRow(key)).answered.append(_answer(scenario, inject_id, decision))
    return [row for key, row in rows.items() if key is not None or row.answered or row.waiting]


def _answer(scenario: Scenario, inject_id: str, decision: engine.Event) -> Answer:
    p = decision.payload
    option = engine.option_of(scenario, inject_id, p.get("option_id"))
    return Answer(
        participant_id=p["participant_id"],
        name=p.get("name", ""),
        option=option.text if option else None,
        rationale=p.get("rationale", ""),
        seconds=int(p.get("response_seconds", 0)),
        at=decision.at,
    )


def lobby(session: LiveSession) -> list[Participant]:
    """Everyone who joined, in the order they came."""
    return list(
        db.session.scalars(db.select(Participant).where(Participant.session_id == session.id).order_by(Participant.id))
    )
