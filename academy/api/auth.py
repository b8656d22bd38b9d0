"""Bearer-token authentication and access declarations for API views.

Two kinds of token: a person's (g.api_user is that person) and an institution's (g.api_user is None and
g.api_institution_id is its institution). An institution token is accepted only by views that declare
INSTITUTION_TOKENS, and those views must check the institution through `api_caller()` and scope_to_user.
"""

from datetime import timedelta
from functools import wraps

from flask import abort, g, request

from academy.accounts.services import user_for_token
from academy.core.models import utcnow
from academy.core.permissions import PUBLIC, SIGNED_IN
from academy.institutions.tokens import InstitutionCaller, institution_for_token

LAST_USED_RESOLUTION = timedelta(minutes=5)
# Declares that an institution's own token may call the view, as a manager of that institution.
INSTITUTION_TOKENS = "institution_tokens"


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _authenticate() -> None:
    """Set g.api_token with g.api_user (a person's token) or g.api_institution_id (an institution's)."""
    raw = bearer_token() or ""
    found = user_for_token(raw)
    if found is not None:
        g.api_user, g.api_token = found
        g.api_institution_id = None
    else:
        token = institution_for_token(raw)
        if token is None:
            abort(401, description="A valid bearer token is required.")
        g.api_user, g.api_token, g.api_institution_id = None, token, token.institution_id
    if g.api_token.last_used_at is None or utcnow() - g.api_token.last_used_at > LAST_USED_RESOLUTION:
        # Coarse on purpose: no database write on every API call.
        g.api_token.last_used_at = utcnow()


def api_caller():
    """Who is calling, for permission checks and scope_to_user: the person, or the institution acting as manager."""
    if g.get("api_user") is not None:
        return g.api_user
    return InstitutionCaller(institution_id=g.api_institution_id)


def api_allow(*who):
    """Declare and enforce who may call an API view; callers authenticate with a bearer token."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if PUBLIC not in who:
                _authenticate()
                if g.api_user is None:
                    if INSTITUTION_TOKENS not in who:
                        abort(
                            403,
                            description="An institution token can only read its own institution's "
                            "members, progress and completion report.",
                        )
                elif SIGNED_IN not in who and not g.api_user.has_role(*who):
                    abort(403, description="Your roles do not allow this request.")
            return view(*args, **kwargs)

        wrapped.access = who
        return wrapped

    return decorator
