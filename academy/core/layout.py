"""The parts of the page layout that are the same on every page in one language, rendered once per process.

The stylesheets, the skip link and brand bar, the footer and the scripts of templates/base.html are a fifth of the
work of rendering a page (a dozen translated strings and built URLs), and the same for everyone. They are the macros
of templates/_layout_parts.html: rendered once per language and script root, then kept. Templates that are reloaded
when they change (development) are rendered every time.
"""

import re

from flask import current_app, request
from flask_babel import get_locale
from markupsafe import Markup, escape

PARTS_TEMPLATE = "_layout_parts.html"
HOLE = re.compile("\x00(\\w+)\x00")


def layout_part(name: str) -> Markup:
    """One macro of templates/_layout_parts.html, as HTML."""
    return part_with_holes(name)


def part_with_holes(name: str, *args, **holes: str) -> Markup:
    """One macro of templates/_layout_parts.html, rendered once per language, script root and `args`, then kept
    (templates reloaded when they change, in development, are rendered every time); the values of `holes` (what
    changes from request to request: a token, the page's own address) are put in, escaped, each time. The macro
    receives each hole as a keyword argument: a marker that the value replaces, or "" for an empty value (so that
    `{% if hole %}` still leaves it out)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    markers = {hole: f"\x00{hole}\x00" if value else "" for hole, value in holes.items()}
    if app.jinja_env.auto_reload:
        html = _render(app, name, *args, **markers)
    else:
        key = (name, str(get_locale()), request.script_root, args, tuple(sorted(markers.items())))
        parts = app.extensions.setdefault("layout_parts", {})
        html = parts.get(key)
        if html is None:
            html = parts[key] = _render(app, name, *args, **markers)
    if not any(markers.values()):
        return html
    # In one pass: a value holding another hole's marker (a path can hold anything) stays as it is.
    return Markup(HOLE.sub(lambda found: str(escape(holes[found.group(1)])), html))


def render_part(name: str, *args) -> Markup:
    """One macro of templates/_layout_parts.html with these arguments, rendered now."""
    return _render(current_app._get_current_object(), name, *args)  # type: ignore[attr-defined]


def _render(app, name: str, *args, **kwargs) -> Markup:
    return Markup(getattr(app.jinja_env.get_template(PARTS_TEMPLATE).module, name)(*args, **kwargs))
