"""Bearer-token authentication and access declarations for API views."""
from datetime import timedelta
from functools import wraps

from flask import abort, g, request

from academy.accounts.services import user_for_token
from academy.core.models import utcnow
from academy.core.permissions import PUBLIC, SIGNED_IN

LAST_USED_RESOLUTION = timedelta(minutes=5)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def api_allow(*who):
    """Declare and enforce who may call an API view; callers authenticate with a bearer token."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if PUBLIC not in who:
                found = user_for_token(bearer_token() or "")
                if found is None:
                    abort(401, description="A valid bearer token is required.")
                g.api_user, g.api_token = found
                if g.api_token.last_used_at is None or utcnow() - g.api_token.last_used_at > LAST_USED_RESOLUTION:
                    # Coarse on purpose: no database write on every API call.
                    g.api_token.last_used_at = utcnow()
                if SIGNED_IN not in who and not g.api_user.has_role(*who):
                    abort(403, description="Your roles do not allow this request.")
            return view(*args, **kwargs)

        wrapped.access = who
        return wrapped

    return decorator
