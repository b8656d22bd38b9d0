"""API tokens that belong to an institution rather than a person, for its own systems (an HR system, say).

Such a token reads its institution's members, progress and completion report through the API, as a manager of
that institution would, and nothing else. It survives the manager who created it; only its SHA-256 is stored.
"""

import hashlib
import secrets
from dataclasses import dataclass

from academy.accounts.models import ApiToken, Role
from academy.core import audit
from academy.extensions import db
from academy.organisations.models import Institution

# A different prefix from personal tokens ("wbca_"): the two kinds never look each other up.
PREFIX = "wbci_"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def institution_tokens(institution: Institution) -> list[ApiToken]:
    """The institution's tokens, newest first, revoked ones included."""
    return list(
        db.session.scalars(
            db.select(ApiToken)
            .where(ApiToken.institution_id == institution.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def issue_institution_token(institution: Institution, name: str) -> tuple[ApiToken, str]:
    """Create a token for the institution; the raw value is returned once and never stored."""
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(institution_id=institution.id, name=name.strip()[:80], prefix=raw[:12], token_hash=_digest(raw))
    db.session.add(token)
    db.session.flush()
    audit.record(
        "token.create",
        target=f"token {token.prefix}",
        institution_id=institution.id,
        owner="institution",
        name=token.name,
    )
    return token, raw


def load_institution_token(institution: Institution, token_id: int) -> ApiToken | None:
    """One of the institution's tokens; another institution's (or a person's) token is not found."""
    return db.session.scalar(
        db.select(ApiToken).where(ApiToken.id == token_id, ApiToken.institution_id == institution.id)
    )


def revoke_institution_token(token: ApiToken) -> bool:
    """Revoke a live token; False when it was revoked already."""
    if not token.is_live:
        return False
    token.revoke()
    audit.record(
        "token.revoke",
        target=f"token {token.prefix}",
        institution_id=token.institution_id,
        owner="institution",
        name=token.name,
    )
    return True


def institution_for_token(raw: str) -> ApiToken | None:
    """The live institution token behind a bearer value, or None (also when the institution is inactive)."""
    if not raw or not raw.startswith(PREFIX):
        return None
    token = db.session.scalar(
        db.select(ApiToken).where(ApiToken.token_hash == _digest(raw), ApiToken.institution_id.is_not(None))
    )
    if token is None or not token.is_live or not token.institution.active:
        return None
    return token


@dataclass(frozen=True)
class InstitutionCaller:
    """Who an institution token acts as: a manager of its institution, for scoping and permission checks."""

    institution_id: int
    is_admin: bool = False
    is_authenticated: bool = True
    id: None = None

    def has_role(self, *roles: Role) -> bool:
        return Role.MANAGER in roles
