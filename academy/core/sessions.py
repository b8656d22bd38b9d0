"""The signed session cookie, read and signed without repeating the same work on every request.

Flask's default checks and decodes the cookie on every request, builds its signing serializer twice, and sends a
permanent session's cookie again with every response, freshly signed, to move its expiry on
(SESSION_REFRESH_EACH_REQUEST). Here the serializer is built once per secret key; a cookie is checked and decoded
once per process (its age is still checked on every request); and an unchanged session is sent again only once the
browser's copy is SESSION_REFRESH_AFTER old. A signed-in session still ends PERMANENT_SESSION_LIFETIME after the last
request that refreshed it, at most SESSION_REFRESH_AFTER earlier than before; any change to the session (sign-in,
sign-out, a flashed message, a first CSRF token) is sent at once, as before, and the cookie itself is the same.
"""

import time
from datetime import UTC, datetime

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

COOKIES_KEPT = 4096  # verified cookies per process; when full, it starts again


class SessionInterface(SecureCookieSessionInterface):
    def get_signing_serializer(self, app):
        return self._signing(app)[0]

    def _signing(self, app) -> tuple:
        """The serializer of the app's keys and the cookies it has verified, made again when the keys change."""
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        made = app.extensions.get("session_signing")
        if made is None or made[0] != keys:
            made = app.extensions["session_signing"] = (keys, super().get_signing_serializer(app), {})
        return made[1], made[2]

    def open_session(self, app, request):
        serializer, verified = self._signing(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        # A browser sends the same cookie with every request until it changes: its signature is checked and its
        # content decoded once per process, its age on every request (as itsdangerous counts it).
        known = verified.get(value)
        if known is None:
            try:
                known = serializer.loads(value, max_age=max_age, return_timestamp=True)
            except BadSignature:
                return self.session_class()
            if len(verified) >= COOKIES_KEPT:
                verified.clear()
            verified[value] = known
        data, signed_at = known
        if not 0 <= int(time.time()) - int(signed_at.timestamp()) <= max_age:
            return self.session_class()
        session = self.session_class(_copied(data))
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app, session) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or datetime.now(UTC) - signed_at >= app.config["SESSION_REFRESH_AFTER"]


def _copied(value):
    """A copy of the session's data that shares nothing mutable with the kept one."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value
