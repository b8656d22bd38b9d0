"""Live sessions: create, join, run the clock, release injects, take decisions — all as appended events."""

import secrets
from datetime import datetime

from flask import abort
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession

from academy.core.codes import unused_code
from academy.core.models import utcnow
from academy.extensions import db
from academy.tabletop import engine
from academy.tabletop.broker import broker
from academy.tabletop.models import LiveSession, Participant, Scenario, SessionEvent
from academy.tabletop.scenario import Scenario as ScenarioDefinition

OUTBOX = "tabletop_outbox"
STATES = "tabletop_states"  # per transaction: another process's events are read by the next transaction


def scenario_of(session: LiveSession) -> ScenarioDefinition:
    """The pinned scenario version of a session, parsed once per request."""
    cache = db.session.info.setdefault("tabletop_scenarios", {})
    version = session.scenario_version
    if version.id not in cache:
        cache[version.id] = ScenarioDefinition.from_definition(version.definition)
    return cache[version.id]


def new_join_code() -> str:
    return unused_code(LiveSession.join_code, 6)


def live_scenarios() -> list[Scenario]:
    return list(
        db.session.scalars(
            db.select(Scenario)
            .where(Scenario.archived_at.is_(None), Scenario.current_version_id.is_not(None))
            .order_by(Scenario.title)
        )
    )


def create_session(trainer, scenario: Scenario, title: str, allow_guests: bool) -> LiveSession:
    """A new session in the lobby, pinned to the scenario's current version."""
    session = LiveSession(
        scenario_version_id=scenario.current_version_id,
        trainer_id=trainer.id,
        title=title.strip() or scenario.title,
        join_code=new_join_code(),
        allow_guests=allow_guests,
        status=engine.LOBBY,
    )
    db.session.add(session)
    db.session.flush()
    return session


def load_session(session_id: int, user) -> LiveSession:
    """A session its trainer (or a platform admin) may run; anyone else gets 404."""
    session = db.session.get(LiveSession, session_id)
    if session is None or not (user.is_admin or session.trainer_id == user.id):
        abort(404)
    return session


def find_by_code(code: str) -> LiveSession | None:
    code = (code or "").strip().upper()
    if not code:
        return None
    return db.session.scalar(
        db.select(LiveSession).where(LiveSession.join_code == code, LiveSession.status != engine.ENDED_STATUS)
    )


def events_of(session: LiveSession, after_id: int = 0) -> list[SessionEvent]:
    """The session's events after one event id (its `seq`), in order."""
    return list(
        db.session.scalars(
            db.select(SessionEvent)
            .where(SessionEvent.session_id == session.id, SessionEvent.seq > after_id)
            .order_by(SessionEvent.seq)
        )
    )


def state_of(session: LiveSession) -> engine.SessionState:
    """The session's state, folded once per transaction and kept current by `append`."""
    cache = db.session.info.setdefault(STATES, {})
    if session.id not in cache:
        rows = db.session.execute(
            db.select(SessionEvent.seq, SessionEvent.kind, SessionEvent.at, SessionEvent.payload)
            .where(SessionEvent.session_id == session.id)
            .order_by(SessionEvent.seq)
        )
        cache[session.id] = engine.fold([engine.Event(*row) for row in rows], scenario_of(session))
    return cache[session.id]


def append(
    session: LiveSession,
    kind: str,
    payload: dict,
    audience: dict,
    *,
    actor=None,
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> SessionEvent | None:
    """Append one event; None when its dedupe key says it already happened (a double click, a race).

    The event takes the session's next number; the row lock that takes lasts until commit, so events of one
    session are committed in the order of their numbers, whichever process appends them.
    """
    row = SessionEvent(
        session_id=session.id,
        kind=kind,
        payload=payload,
        audience=audience,
        at=now or utcnow(),
        actor_id=getattr(actor, "id", None),
        dedupe_key=dedupe_key,
    )
    try:
        with db.session.begin_nested():  # a refused event gives its number back
            row.seq = db.session.execute(
                db.update(LiveSession)
                .where(LiveSession.id == session.id)
                .values(last_seq=LiveSession.last_seq + 1)
                .returning(LiveSession.last_seq)
                .execution_options(synchronize_session=False)
            ).scalar_one()
            db.session.add(row)
    except IntegrityError:
        return None
    db.session.info.setdefault(OUTBOX, []).append((session.id, row))
    cached = db.session.info.get(STATES, {}).get(session.id)
    if cached is not None:
        engine.apply(cached, row.as_engine_event(), scenario_of(session))
    return row


@sa_event.listens_for(OrmSession, "after_commit")
def _publish_committed(orm_session) -> None:
    # Streams hear of an event only once it is durable: a rolled-back event is never shown.
    orm_session.info.pop(STATES, None)
    for session_id, row in orm_session.info.pop(OUTBOX, []):
        broker.publish(session_id, row.as_stream_dict())


@sa_event.listens_for(OrmSession, "after_rollback")
def _forget_rolled_back(orm_session) -> None:
    # A savepoint rolled back (an event refused by its dedupe key) leaves the events appended before it to be
    # announced; the state is read again, as the refusal means another process appended what this one did not see.
    if not orm_session.in_nested_transaction():
        orm_session.info.pop(OUTBOX, None)
    orm_session.info.pop(STATES, None)


def join(session: LiveSession, *, user=None, guest_name: str = "", guest_institution: str = "") -> Participant:
    """Join the lobby (again): a signed-in user is one participant per session, however often they join."""
    if user is not None:
        existing = db.session.scalar(
            db.select(Participant).where(Participant.session_id == session.id, Participant.user_id == user.id)
        )
        if existing:
            return existing
    participant = Participant(
        session_id=session.id,
        user_id=getattr(user, "id", None),
        institution_id=getattr(user, "institution_id", None),
        name=user.name if user else guest_name.strip(),
        institution_name=(user.institution.name if user and user.institution else guest_institution.strip()),
        guest_token=None if user else secrets.token_urlsafe(24),
    )
    try:
        with db.session.begin_nested():
            db.session.add(participant)
    except IntegrityError:
        return db.session.scalar(
            db.select(Participant).where(Participant.session_id == session.id, Participant.user_id == user.id)
        )
    append(
        session,
        engine.JOINED,
        {"participant_id": participant.id, "name": participant.name, "institution": participant.institution_name},
        {"trainer": True},
        actor=user,
        dedupe_key=f"join:{participant.id}",
    )
    return participant


def assign_role(session: LiveSession, participant: Participant, role: str, actor) -> None:
    """Give a participant a role of the scenario (reassigning is allowed)."""
    if role not in {r.code for r in scenario_of(session).roles}:
        raise engine.EngineError("That role is not part of this scenario.")
    if participant.session_id != session.id:
        abort(404)
    participant.role = role
    append(
        session,
        engine.ASSIGNED,
        {"participant_id": participant.id, "role": role},
        {"participant": participant.id},
        actor=actor,
    )


def run_command(session: LiveSession, command: str, actor, now: datetime | None = None) -> None:
    """Start, pause, resume or end the session clock."""
    state = state_of(session)
    engine.check_command(state, command)
    kinds = {"start": engine.STARTED, "pause": engine.PAUSED, "resume": engine.RESUMED, "end": engine.ENDED}
    statuses = {
        "start": engine.RUNNING,
        "pause": engine.PAUSED_STATUS,
        "resume": engine.RUNNING,
        "end": engine.ENDED_STATUS,
    }
    now = now or utcnow()
    # The dedupe key makes a double click on "start" or "end" count once.
    key = f"{command}:{state.last_event_id}" if command in ("pause", "resume") else command
    if append(session, kinds[command], {}, dict(engine.EVERYONE), actor=actor, dedupe_key=key, now=now):
        session.status = statuses[command]
        if command == "end":
            session.ended_at = now
        if command in ("start", "resume"):
            check_clock_at(session, now)


def check_clock_at(session: LiveSession, moment: datetime) -> None:
    """Have the ticker look at the session from `moment` on: an inject may fall due sooner than it planned."""
    session.next_due_at = moment


def release(
    session: LiveSession,
    inject_id: str,
    how: str,
    actor=None,
    participant_id: int | None = None,
    now: datetime | None = None,
) -> SessionEvent | None:
    """Release a scripted inject now (once: a second release of the same inject is ignored)."""
    scenario = scenario_of(session)
    state = state_of(session)
    engine.check_command(state, "release")
    inject = engine.inject_of(scenario, inject_id)
    if inject is None:
        abort(404)
    if inject_id in state.releases:
        raise engine.EngineError("This inject has already been released.")
    if participant_id is not None and participant_id not in state.participants:
        raise engine.EngineError("That person is not a participant of this session.")
    now = now or utcnow()
    audience = engine.release_audience(inject, participant_id)
    payload = {
        "inject_id": inject.id,
        "how": how,
        "title": inject.title,
        "audience": audience,
        "elapsed_seconds": state.elapsed_seconds(now),
    }
    return append(session, engine.RELEASED, payload, audience, actor=actor, dedupe_key=f"release:{inject.id}", now=now)


def release_adhoc(
    session: LiveSession,
    title: str,
    body: str,
    audience: dict,
    actor,
    asks_response: bool = False,
    now: datetime | None = None,
) -> SessionEvent | None:
    """An inject typed live by the trainer, to everyone, some roles or one participant; it may ask for answers."""
    state = state_of(session)
    engine.check_command(state, "release")
    number = len(state.adhoc) + 1
    now = now or utcnow()
    payload = {
        "inject_id": f"adhoc-{number}",
        "how": "adhoc",
        "title": title.strip(),
        "body": body.strip(),
        "audience": audience,
        "elapsed_seconds": state.elapsed_seconds(now),
    }
    if asks_response:
        payload["asks_response"] = True
    return append(
        session, engine.RELEASED, payload, audience, actor=actor, dedupe_key=f"release:adhoc-{number}", now=now
    )


def close_inject(session: LiveSession, inject_id: str, actor) -> None:
    state = state_of(session)
    if inject_id not in state.releases:
        raise engine.EngineError("Only a released inject can be closed.")
    append(
        session,
        engine.CLOSED,
        {"inject_id": inject_id},
        dict(engine.EVERYONE),
        actor=actor,
        dedupe_key=f"close:{inject_id}",
    )


def decide(
    session: LiveSession,
    participant: Participant,
    inject_id: str,
    option_id: str | None,
    rationale: str,
    now: datetime | None = None,
) -> SessionEvent | None:
    """Record a participant's decision once; a double submit returns None and changes nothing."""
    now = now or utcnow()
    state = state_of(session)
    if (participant.id, inject_id) in state.decisions:
        return None
    engine.check_decision(state, scenario_of(session), participant.id, inject_id, option_id or None, rationale)
    role = state.roles.get(participant.id)
    payload = {
        "participant_id": participant.id,
        "name": participant.name,
        "role": role,
        "inject_id": inject_id,
        "option_id": option_id or None,
        "rationale": rationale.strip()[:4000],
        "response_seconds": engine.response_seconds(state, inject_id, now),
    }
    audience = {"roles": [role]} if role else {"participant": participant.id}
    row = append(
        session, engine.DECIDED, payload, audience, dedupe_key=f"decision:{participant.id}:{inject_id}", now=now
    )
    option = engine.option_of(scenario_of(session), inject_id, option_id or None)
    if row is not None and option is not None and option.unlocks:
        check_clock_at(session, now)  # a follow-up whose minute has passed is due now
    return row


def observe(
    session: LiveSession, text: str, actor, inject_id: str | None = None, objective: str | None = None
) -> SessionEvent:
    """A private observation of the trainer, optionally tagged to an inject and an objective."""
    scenario = scenario_of(session)
    if objective and objective not in {o.code for o in scenario.objectives}:
        raise engine.EngineError("Unknown objective.")
    event = append(
        session,
        engine.OBSERVED,
        {"text": text.strip()[:4000], "inject_id": inject_id or None, "objective": objective or None},
        dict(engine.TRAINER_ONLY),
        actor=actor,
    )
    assert event is not None  # without a dedupe key an event is always appended
    return event


def override_score(
    session: LiveSession, actor, points: int, reason: str, objective: str | None = None, role: str | None = None
) -> SessionEvent:
    """Adjust an objective's or a role's score, with the reason recorded."""
    scenario = scenario_of(session)
    if objective and objective not in {o.code for o in scenario.objectives}:
        raise engine.EngineError("Unknown objective.")
    if role and role not in {r.code for r in scenario.roles}:
        raise engine.EngineError("Unknown role.")
    if not (objective or role) or not reason.strip() or not -10 <= points <= 10:
        raise engine.EngineError("Give an objective or a role, points between -10 and 10, and a reason.")
    event = append(
        session,
        engine.OVERRIDDEN,
        {"objective": objective or None, "role": role or None, "points": points, "reason": reason.strip()[:1000]},
        dict(engine.TRAINER_ONLY),
        actor=actor,
    )
    assert event is not None  # without a dedupe key an event is always appended
    return event


def visible_events(session: LiveSession, participant: Participant | None, after_id: int = 0) -> list[SessionEvent]:
    """Events a viewer may see: everything for the trainer (participant None), else by audience."""
    rows = events_of(session, after_id)
    if participant is None:
        return rows
    return [row for row in rows if engine.sees(row.audience, participant.id, participant.role)]
