"""The navigation bar of every page, rendered once per process for each way it can look.

Every page renders it, and for one person on one page of one session it is the same every time. It is the macro
`navigation` of templates/_layout_parts.html, which reads nothing but its arguments (and the language and script
root its links and words depend on): they are the key it is kept under.
"""

from flask import current_app, request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

from academy.accounts.models import Role
from academy.core.forms import csrf_token
from academy.core.layout import render_part

KEPT = 2048  # per process; when full, it starts again


def navigation() -> Markup:
    """The navigation for whoever asks for this page: the sections they may open, the current one, their name."""
    user = current_user
    shown: tuple
    if user.is_authenticated:
        shown = (
            True,
            user.name,
            user.track.value if user.track else None,
            user.has_role(Role.TRAINER, Role.ADMIN),
            bool(user.has_role(Role.MANAGER) and user.institution_id),
            user.is_admin,
            request.endpoint,
            request.blueprint,
            csrf_token(),
        )
    else:  # no CSRF token for visitors: asking for one would start a session
        shown = (False, None, None, False, False, False, request.endpoint, request.blueprint, None)
    if current_app.jinja_env.auto_reload:
        return render_part("navigation", *shown)
    kept = current_app.extensions.setdefault("navigations", {})
    key = (str(get_locale()), request.script_root, *shown)
    html = kept.get(key)
    if html is None:
        if len(kept) >= KEPT:
            kept.clear()
        html = kept[key] = render_part("navigation", *shown)
    return html
