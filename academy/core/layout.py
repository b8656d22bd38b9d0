"""The parts of the page layout that are the same on every page in one language, rendered once per process.

The stylesheets, the skip link and brand bar, the footer and the scripts of templates/base.html are a fifth of the
work of rendering a page (a dozen translated strings and built URLs), and the same for everyone. They are the macros
of templates/_layout_parts.html: rendered once per language and script root, then kept. Templates that are reloaded
when they change (development) are rendered every time.
"""

from flask import current_app, request
from flask_babel import get_locale
from markupsafe import Markup

PARTS_TEMPLATE = "_layout_parts.html"


def layout_part(name: str) -> Markup:
    """One macro of templates/_layout_parts.html, as HTML."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.jinja_env.auto_reload:
        return _render(app, name)
    key = (name, str(get_locale()), request.script_root)
    parts = app.extensions.setdefault("layout_parts", {})
    html = parts.get(key)
    if html is None:
        html = parts[key] = _render(app, name)
    return html


def render_part(name: str, *args) -> Markup:
    """One macro of templates/_layout_parts.html with these arguments, rendered now."""
    return _render(current_app._get_current_object(), name, *args)  # type: ignore[attr-defined]


def _render(app, name: str, *args) -> Markup:
    return Markup(getattr(app.jinja_env.get_template(PARTS_TEMPLATE).module, name)(*args))
