"""HTTP security headers on every response, and the request size limit as people read it."""
from flask import current_app, request
from flask_talisman import Talisman

# Scripts and styles come only from our own static files: no inline <script>, no on* handlers, no style=
# attributes (JavaScript may still set element.style). tests/core/test_security_headers.py keeps templates so.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",  # the join QR code is a data: URI; Bootstrap's CSS draws its icons as data: SVG
    "connect-src": "'self'",  # fetch and the live-session EventSource
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
PERMISSIONS_POLICY = {"camera": "()", "microphone": "()", "geolocation": "()", "browsing-topics": "()"}
# Pages whose URL carries a secret: not even our own access logs should see it again as a Referer.
NO_REFERRER_ENDPOINTS = {"accounts.reset_password"}


def max_upload_label() -> str:
    """MAX_CONTENT_LENGTH in megabytes, for messages ("5 MB")."""
    megabytes = current_app.config["MAX_CONTENT_LENGTH"] / (1024 * 1024)
    return f"{megabytes:g} MB" if megabytes >= 1 else f"{current_app.config['MAX_CONTENT_LENGTH'] // 1024} KB"


def _no_referrer(response):
    if request.endpoint in NO_REFERRER_ENDPOINTS:
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


def init_app(app) -> None:
    # Registered before Talisman, so it runs after Talisman's own after_request (Flask runs them in reverse).
    app.after_request(_no_referrer)
    config = app.config
    app.extensions["talisman"] = Talisman(
        app,
        # TLS ends at the reverse proxy (README, Production): redirecting here would loop or break plain-http
        # health checks; the cookie flags are set in academy/config.py and must not be changed behind its back.
        force_https=False,
        session_cookie_secure=False,
        session_cookie_http_only=config["SESSION_COOKIE_HTTPONLY"],
        session_cookie_samesite=config["SESSION_COOKIE_SAMESITE"],
        strict_transport_security=config["HSTS_ENABLED"],
        strict_transport_security_max_age=config["HSTS_MAX_AGE"],
        strict_transport_security_include_subdomains=config["HSTS_INCLUDE_SUBDOMAINS"],
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy=config["REFERRER_POLICY"],
        permissions_policy=PERMISSIONS_POLICY,
        x_content_type_options=True,
    )
