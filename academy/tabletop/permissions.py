"""Who is who in a live session: its participants (signed in or guests) and the trainer who runs it."""

from datetime import timedelta

from flask import abort, session
from flask_login import current_user

from academy.accounts.models import Role
from academy.extensions import db
from academy.tabletop.models import LiveSession, Participant

RUNNERS = (Role.TRAINER, Role.ADMIN)  # who may run sessions: the console and the session list
REPEAT_WINDOW = timedelta(minutes=1)  # the same console action twice within this is a double submit
GUEST_KEY = "guest_participants"  # Flask session: {str(session id): guest token}


def can_run(user, session: LiveSession) -> bool:
    """Platform admins, and the trainer who runs this session."""
    return user.is_authenticated and (user.is_admin or (user.has_role(Role.TRAINER) and session.trainer_id == user.id))


def participant_for(live_session: LiveSession) -> Participant | None:
    """The current visitor's participant in this session: by account, else by the guest token they were given."""
    if current_user.is_authenticated:
        participant = db.session.scalar(
            db.select(Participant).where(
                Participant.session_id == live_session.id, Participant.user_id == current_user.id
            )
        )
        if participant is not None:
            return participant
    token = session.get(GUEST_KEY, {}).get(str(live_session.id))
    if not token:
        return None
    return db.session.scalar(
        db.select(Participant).where(Participant.session_id == live_session.id, Participant.guest_token == token)
    )


def remember_guest(participant: Participant) -> None:
    """Keep a guest's token in their session cookie: it is how they are recognised on their next request."""
    tokens = dict(session.get(GUEST_KEY, {}))
    tokens[str(participant.session_id)] = participant.guest_token
    session[GUEST_KEY] = tokens


def load_participant(session_id: int) -> tuple[LiveSession, Participant]:
    """The session and the visitor's participant in it; 404 for anyone who has not joined it."""
    live_session = db.session.get(LiveSession, session_id)
    participant = participant_for(live_session) if live_session is not None else None
    if live_session is None or participant is None:
        abort(404)
    return live_session, participant


def load_viewer(session_id: int, as_participant: bool = False) -> tuple[LiveSession, Participant | None]:
    """The session and who watches it: a participant, or None for its trainer or an admin (who see everything).

    `as_participant` is for a trainer or admin who also joined as a participant: their play page must show
    what their role sees, not the trainer's view.
    """
    live_session = db.session.get(LiveSession, session_id)
    if live_session is None:
        abort(404)
    participant = participant_for(live_session)
    if participant is not None and (as_participant or not can_run(current_user, live_session)):
        return live_session, participant
    if not can_run(current_user, live_session):
        abort(404)
    return live_session, None
