"""Redirect targets we are willing to follow, and the absolute links we hand out."""

from urllib.parse import quote, urlsplit

from flask import current_app, has_request_context, request


def is_safe_next(target: str | None) -> bool:
    """Only same-site relative paths: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and not any(ord(c) < 32 for c in target)


def absolute_url(endpoint: str, _anchor: str | None = None, **values) -> str:
    """An absolute link on PUBLIC_URL (its path prefix included), inside a request or not, whatever the Host header."""
    # Flask types current_app as the Flask object it stands for, though it is a LocalProxy with this method.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # The request's own URL adapter would put its Host header in the link: bind the URL map to PUBLIC_URL instead.
    public = urlsplit(app.config["PUBLIC_URL"])
    adapter = app.url_map.bind(public.netloc, script_name=public.path or "/", url_scheme=public.scheme)
    app.inject_url_defaults(endpoint, values)
    url = adapter.build(endpoint, values, force_external=True)
    if _anchor is not None:
        url += "#" + quote(_anchor, safe="%!#$&'()*+,/:;=?@")
    return url


URLS_KEPT = 4096  # per process; when full, it starts again


def template_url_for(endpoint: str, **values) -> str:
    """Flask's url_for as templates call it, each URL built once per process.

    A page links to the same dozen places on every view (the navigation, the stylesheets), and building a URL costs
    more than looking it up. A URL depends on what it is built from and the request's host, script root and scheme
    (the academy has no URL defaults that could add more): these are the key.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not has_request_context() or app.url_default_functions:
        return app.url_for(endpoint, **values)
    environ = request.environ
    try:
        key = (
            environ.get("HTTP_HOST"),
            environ.get("SCRIPT_NAME"),
            environ.get("wsgi.url_scheme"),
            request.blueprint if endpoint[:1] == "." else None,
            endpoint,
            tuple((name, type(value), value) for name, value in values.items()),
        )  # 1 and True build apart
        urls = app.extensions["template_urls"]
        url = urls.get(key)
    except TypeError:  # a list among the values: built every time
        return app.url_for(endpoint, **values)
    except KeyError:
        urls, url = app.extensions.setdefault("template_urls", {}), None
    if url is None:
        url = app.url_for(endpoint, **values)
        if len(urls) >= URLS_KEPT:
            urls.clear()
        urls[key] = url
    return url
