"""Events committed as another process commits them: in the log, numbered, but announced to no stream here."""
from academy.extensions import db
from academy.tabletop import services
from academy.tabletop.models import LiveSession


def commit_unannounced(session_id: int, kind: str, payload: dict, audience: dict, *, dedupe_key: str | None = None,
                       at=None):
    """Append and commit an event whose announcement never reaches this process's broker (nor its relay)."""
    live = db.session.get(LiveSession, session_id)
    row = services.append(live, kind, payload, audience, dedupe_key=dedupe_key, now=at)
    db.session.info.pop(services.OUTBOX, None)
    db.session.commit()
    return row
