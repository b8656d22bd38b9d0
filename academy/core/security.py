"""HTTP security headers on every response, and the request size limit as people read it."""

from flask import current_app, request

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


def security_headers() -> list[tuple[str, str]]:
    """The policy headers every answer carries, worked out once: none of them depends on the request."""
    return [
        ("Permissions-Policy", ", ".join(f"{feature}={value}" for feature, value in PERMISSIONS_POLICY.items())),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "; ".join(f"{name} {value}" for name, value in CONTENT_SECURITY_POLICY.items())),
    ]


def init_app(app) -> None:
    # The same headers flask-talisman set, without its per-request work (it looked up per-view options four times
    # and formatted the policies again for every answer). TLS ends at the reverse proxy (README, Production): no
    # redirect to https here; the cookie flags are set in academy/config.py.
    config = app.config
    headers = security_headers()
    hsts = f"max-age={config['HSTS_MAX_AGE']}" + ("; includeSubDomains" if config["HSTS_INCLUDE_SUBDOMAINS"] else "")
    hsts_enabled, referrer_policy = config["HSTS_ENABLED"], config["REFERRER_POLICY"]

    @app.after_request
    def add_security_headers(response):
        for name, value in headers:
            response.headers[name] = value
        # HSTS only over https (browsers ignore it over http), as the proxy tells or the request itself.
        if hsts_enabled and (request.is_secure or request.headers.get("X-Forwarded-Proto") == "https"):
            response.headers["Strict-Transport-Security"] = hsts
        response.headers["Referrer-Policy"] = (
            "no-referrer" if request.endpoint in NO_REFERRER_ENDPOINTS else referrer_policy
        )
        return response
