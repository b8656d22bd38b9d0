"""Who may use a view: every view declares it, and create_app() refuses a view that does not."""

from functools import wraps

from flask import abort
from flask_login import current_user

from academy.extensions import login_manager

PUBLIC = "public"
SIGNED_IN = "signed_in"
# Framework views that serve no user data.
EXEMPT_ENDPOINTS = {"static", "api-docs.openapi_json"}


def allow(*who):
    """Declare and enforce access: PUBLIC, SIGNED_IN or one or more Role values."""
    if not who:
        raise ValueError("allow() needs at least one audience")

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if PUBLIC not in who:
                if not current_user.is_authenticated:
                    return login_manager.unauthorized()
                if SIGNED_IN not in who and not current_user.has_role(*who):
                    abort(403)
            return view(*args, **kwargs)

        wrapped.access = who
        return wrapped

    return decorator


def declared_access(view):
    """The audience a view declared, looking through class-based views."""
    view_class = getattr(view, "view_class", None)
    return getattr(view_class, "access", None) if view_class else getattr(view, "access", None)


def check_views_declare_access(app) -> None:
    """Refuse to start when any view forgot to say who may use it."""
    missing = sorted(
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint not in EXEMPT_ENDPOINTS and not declared_access(view)
    )
    if missing:
        raise RuntimeError(f"views without an access declaration: {', '.join(missing)}")
