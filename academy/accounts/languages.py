"""Which language a request is answered in, and the switcher that changes it.

The order (core.locales.choose): the signed-in person's saved choice, the choice a visitor made before signing in
(a cookie, kept a year), the browser's Accept-Language, the institution's country (when the browser names only
languages the academy does not have), English. The answer is worked out
once per request and kept on `g`.
"""

from flask import current_app, g, has_request_context, request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

from academy.core import locales
from academy.core.forms import csrf_token
from academy.core.layout import part_with_holes

COOKIE = "academy_language"
COOKIE_SECONDS = 365 * 24 * 3600


def current_tag() -> str:
    """The BCP 47 tag of the request's language (the default language outside a request)."""
    if not has_request_context():
        return locales.DEFAULT
    tag = g.get("academy_language")
    if tag is None:
        tag = g.academy_language = _choose()
    return tag


def _choose() -> str:
    enabled = offered()
    user = g.get("api_user") or (current_user if current_user and current_user.is_authenticated else None)
    saved, remembered = getattr(user, "locale", None), request.cookies.get(COOKIE)
    header = request.headers.get("Accept-Language")
    country = None
    # The country decides for a browser whose languages are none of ours; a client that names no language at all (a
    # script, an API client) gets English, whatever its institution.
    if header and user is not None and user.institution_id and not (locales.get(saved) or locales.get(remembered)):
        country = None if locales.match(header) else _country_code(user)  # asked for only when it decides
    tag = locales.choose(saved=saved, remembered=remembered, accept_language=header, country=country)
    return tag if tag in enabled else locales.DEFAULT


def _country_code(user) -> str | None:
    institution = user.institution
    return institution.country.code if institution is not None and institution.country is not None else None


def offered() -> tuple[str, ...]:
    """The tags of the locales this deployment offers (the LANGUAGES setting), English always among them."""
    chosen = current_app.config.get("LANGUAGES")
    return locales.TAGS if chosen is None else tuple(t for t in locales.TAGS if t in chosen or t == locales.DEFAULT)


def remember(response, tag: str):
    response.set_cookie(
        COOKIE,
        tag,
        max_age=COOKIE_SECONDS,
        samesite="Lax",
        httponly=True,
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
    )
    return response


def html_lang() -> str:
    """The BCP 47 tag of the language being rendered, for <html lang> (a forced locale in a background job too)."""
    return locales.tag_of(get_locale())


def language_switcher() -> Markup:
    """The header's language form: each language named in itself; it comes back to the page it was sent from."""
    choices = [(tag, locales.LOCALES[tag].name) for tag in offered()]
    if len(choices) < 2:
        return Markup("")
    back = request.full_path if request.query_string else request.path
    signed_in = current_user and current_user.is_authenticated  # a visitor's switch opens no session (views.py)
    return part_with_holes(
        "languages", current_tag(), tuple(choices), back=back, csrf=csrf_token() if signed_in else ""
    )


WORDED = ("text/html", "application/json", "application/problem+json")


def say_the_language(response):
    """Every page and API answer names the language it is in (Content-Language). A static file says nothing: working
    the language out may need the signed-in person, a query the file does not otherwise cost."""
    if has_request_context() and "Content-Language" not in response.headers and response.mimetype in WORDED:
        response.headers["Content-Language"] = current_tag()
    return response
