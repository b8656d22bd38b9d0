"""Error pages for people and one JSON error shape for the API."""

import logging

from flask import Response, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError

from academy.core.security import max_upload_label
from academy.extensions import db

log = logging.getLogger(__name__)


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def json_error(status: int, name: str, message: str, errors=None):
    """The API's single error envelope."""
    payload = {"code": status, "status": name, "message": message}
    if errors:
        payload["errors"] = errors
    return jsonify(payload), status


def too_large_message() -> str:
    return _(
        "The request is larger than %(limit)s, the most the academy accepts. Nothing was saved; "
        "send a smaller file or split it into several.",
        limit=max_upload_label(),
    )


def handle_http_exception(error: HTTPException):
    assert error.code is not None  # Flask hands exceptions without a code (proxies) back before calling handlers
    if error.code >= 500:
        db.session.rollback()
    if wants_json():
        data = getattr(error, "data", None) or {}
        errors = data.get("messages") or data.get("errors")
        default = too_large_message() if error.code == 413 else error.description or error.name
        message = data.get("message") or default
        response = json_error(error.code, error.name, message, errors)
        if error.code == 401:
            response[0].headers["WWW-Authenticate"] = 'Bearer realm="api"'
        valid_methods = getattr(error, "valid_methods", None)
        if valid_methods:  # a 405 names the methods the URL does accept (RFC 9110)
            response[0].headers["Allow"] = ", ".join(valid_methods)
        response[0].headers.extend(_retry_after(error))
        return response
    if isinstance(error, SecurityError):
        # A Host outside TRUSTED_HOSTS: no URL can be built for it, so no page that links anywhere.
        return Response(_("This address is not served here."), 400, mimetype="text/plain")
    template = f"errors/{error.code}.html" if error.code in (400, 403, 404, 413, 429) else "errors/generic.html"
    return render_template(template, error=error, limit=max_upload_label()), error.code, _retry_after(error)


def _retry_after(error: HTTPException) -> list[tuple[str, str]]:
    """A 429 or 503 that says when to come back keeps saying it, on the page and in the API's answer."""
    return [(name, value) for name, value in error.get_headers() if name.lower() == "retry-after"]


def handle_unexpected(error: Exception):
    db.session.rollback()
    log.exception("Unhandled error on %s %s", request.method, request.path)
    if wants_json():
        return json_error(500, "Internal Server Error", _("Something went wrong on our side; nothing was saved."))
    return render_template("errors/500.html", error=InternalServerError()), 500


def init_app(app) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
