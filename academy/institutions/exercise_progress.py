"""Live exercises as part of a person's progress: which sessions they played, in which role, and how their role did."""

from academy.extensions import db
from academy.tabletop import engine, services
from academy.tabletop.models import LiveSession, Participant, SessionEvent
from academy.tabletop.report_log import iso
from academy.tabletop.scoring import role_scores

# Enough of the log to date a session and score its roles; releases and clock ticks are not needed here.
SCORING_KINDS = (engine.STARTED, engine.DECIDED, engine.OVERRIDDEN)


def exercise_records(user_ids) -> dict[int, list[dict]]:
    """Each user's exercise sessions, newest first, in two queries however many users are asked about."""
    ids = sorted({int(user_id) for user_id in user_ids})
    records: dict[int, list[dict]] = {user_id: [] for user_id in ids}
    if not ids:
        return records
    # LiveSession.scenario_version is eagerly joined: the pinned scenario comes with the session.
    pairs = db.session.execute(
        db.select(Participant, LiveSession)
        .join(LiveSession, LiveSession.id == Participant.session_id)
        .where(Participant.user_id.in_(ids))
    ).all()
    sessions = {session.id: session for _, session in pairs}
    events: dict[int, list[engine.Event]] = {session_id: [] for session_id in sessions}
    if sessions:
        for row in db.session.scalars(
            db.select(SessionEvent)
            .where(SessionEvent.session_id.in_(sorted(sessions)), SessionEvent.kind.in_(SCORING_KINDS))
            .order_by(SessionEvent.session_id, SessionEvent.seq)
        ):
            events[row.session_id].append(row.as_engine_event())
    states = {
        session_id: engine.fold(events[session_id], services.scenario_of(session))
        for session_id, session in sessions.items()
    }
    for participant, session in pairs:
        records[participant.user_id].append(_record(participant, session, states[session.id]))
    for rows in records.values():
        rows.sort(key=lambda record: (record["date"], record["session_id"]), reverse=True)
    return records


def _record(participant: Participant, session: LiveSession, state: engine.SessionState) -> dict:
    scenario = services.scenario_of(session)
    role = state.roles.get(participant.id, participant.role)
    score = next((s for s in role_scores(state, scenario) if s.key == role), None)
    return {
        "session_id": session.id,
        "title": session.title,
        "scenario": scenario.title,
        "scenario_slug": scenario.slug,
        "status": session.status,
        "role": role,
        "role_title": next((r.title for r in scenario.roles if r.code == role), None),
        "date": (iso(state.started_at or session.created_at) or "")[:10],
        "decisions": sum(1 for key in state.decisions if key[0] == participant.id),
        "score_percent_of_role": score.percent if score else None,
    }
