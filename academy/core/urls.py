"""Redirect targets we are willing to follow, and the absolute links we hand out."""
from urllib.parse import quote, urlsplit

from flask import current_app


def is_safe_next(target: str | None) -> bool:
    """Only same-site relative paths: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and not any(ord(c) < 32 for c in target)


def absolute_url(endpoint: str, _anchor: str | None = None, **values) -> str:
    """An absolute link on PUBLIC_URL (its path prefix included), inside a request or not, whatever the Host header."""
    app = current_app._get_current_object()
    # The request's own URL adapter would put its Host header in the link: bind the URL map to PUBLIC_URL instead.
    public = urlsplit(app.config["PUBLIC_URL"])
    adapter = app.url_map.bind(public.netloc, script_name=public.path or "/", url_scheme=public.scheme)
    app.inject_url_defaults(endpoint, values)
    url = adapter.build(endpoint, values, force_external=True)
    if _anchor is not None:
        url += "#" + quote(_anchor, safe="%!#$&'()*+,/:;=?@")
    return url
