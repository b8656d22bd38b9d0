"""Account services: registration, sign-in with throttling, passwords, roles, API tokens."""

import functools
import hashlib
import ipaddress
import logging
import math
import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from academy.accounts.emails import EmailAddressError, canonical_email, mail_address, normalise_email
from academy.accounts.models import ApiToken, LoginThrottle, Role, Track, User, UserRole, find_user_by_email
from academy.core import audit
from academy.core.models import utcnow
from academy.extensions import db
from academy.organisations.models import Institution

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
COMMON_PASSWORDS = frozenset(
    [
        "password",
        "passw0rd",
        "password1",
        "password123",
        "123456789",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "qwerty1234",
        "qwerty12345",
        "iloveyou1",
        "letmein123",
        "welcome123",
        "administrator",
        "admin12345",
        "changeme123",
        "trustno1234",
        "football12",
        "baseball12",
        "sunshine12",
        "princess12",
        "1q2w3e4r5t",
        "zaq12wsxcde",
        "abcdefghij",
        "abc1234567",
        "aaaaaaaaaa",
        "0000000000",
        "1111111111",
        "cybersecurity",
        "securepassword",
    ]
)


class AccountError(ValueError):
    """A user-facing reason why an account action was refused, and the form field it concerns."""

    def __init__(self, message: str, field: str = "password"):
        super().__init__(message)
        self.field = field


def password_problem(password: str, email: str = "") -> str | None:
    """Say what is wrong with a proposed password, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        return _("This password is too common or too simple; choose a longer phrase.")
    local = normalise_email(email).split("@")[0]
    if len(local) >= 4 and local in password.lower():
        return _("The password must not contain your e-mail address.")
    return None


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash("timing-equaliser", method=current_app.config["PASSWORD_HASH_METHOD"])


def new_nonce() -> str:
    return secrets.token_hex(8)


def create_user(
    *, email: str, name: str, password: str, institution: Institution | None, track: Track | None, roles=(Role.LEARNER,)
) -> User:
    """Create a user; raises AccountError for an unusable or taken e-mail or a weak password."""
    try:
        email = canonical_email(email)
    except EmailAddressError as error:
        raise AccountError(str(error), "email") from error
    if find_user_by_email(email):
        raise AccountError(_("An account with this e-mail address already exists."), "email")
    problem = password_problem(password, email)
    if problem:
        raise AccountError(problem)
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        institution=institution,
        track=track,
        session_nonce=new_nonce(),
    )
    user.role_rows = [UserRole(role=role) for role in roles]
    db.session.add(user)
    db.session.flush()
    return user


def find_institution_by_code(code: str) -> Institution | None:
    code = (code or "").strip().upper()
    if not code:
        return None
    return db.session.scalar(
        db.select(Institution).where(Institution.invitation_code == code, Institution.active.is_(True))
    )


def register(*, email, name, password, invitation_code, track) -> User:
    """Self-registration with an institution's invitation code."""
    institution = find_institution_by_code(invitation_code)
    if institution is None:
        raise AccountError(
            _("This invitation code is not valid. Ask your institution's manager for the current one."),
            "invitation_code",
        )
    user = create_user(
        email=email, name=name, password=password, institution=institution, track=Track(track), roles=(Role.LEARNER,)
    )
    audit.record("account.register", actor=user, target=user.email, institution_id=institution.id)
    return user


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None


def authenticate(email: str, password: str, source: str | None) -> LoginResult:
    """Check credentials; a client that keeps failing for one address waits longer each time, other clients never."""
    now = utcnow()
    digest, client = _email_digest(email), client_of(source)
    throttle = db.session.get(LoginThrottle, (digest, client))
    user = find_user_by_email(email)
    # Known and unknown addresses are counted, refused and answered alike: no answer tells which exist.
    wait = _wait(throttle, now)
    if wait is not None:
        audit.record(
            "login.locked",
            actor=user,
            target=normalise_email(email)[:255],
            institution_id=user.institution_id if user else None,
        )
        return LoginResult(None, _wait_message(wait))
    if user is None:
        # Hash anyway so that response time does not reveal which e-mails exist.
        check_password_hash(_dummy_hash(), password)
        wait = _count_failure(throttle, digest, client, now)
        audit.record("login.failure", target=normalise_email(email)[:255], reason="unknown")
        return LoginResult(None, _failure_message(wait))
    if not check_password_hash(user.password_hash, password):
        wait = _count_failure(throttle, digest, client, now)
        audit.record(
            "login.failure", actor=user, target=user.email, institution_id=user.institution_id, reason="password"
        )
        return LoginResult(None, _failure_message(wait))
    if not user.active:
        audit.record(
            "login.failure", actor=user, target=user.email, institution_id=user.institution_id, reason="inactive"
        )
        return LoginResult(None, _("This account has been deactivated. Contact your institution's manager."))
    if throttle is not None:
        db.session.delete(throttle)  # this client's count starts again; other clients' counts are theirs
    user.last_login_at = now
    audit.record("login.success", actor=user, target=user.email, institution_id=user.institution_id)
    return LoginResult(user)


def client_of(address: str | None) -> str:
    """The client as sign-in throttling counts it: an IPv4 address, or the /64 network an IPv6 host holds whole."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)


def _email_digest(email: str) -> str:
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


def _wait(throttle: LoginThrottle | None, now: datetime) -> timedelta | None:
    """How long this client must still wait before it may try this address again, or None."""
    if throttle is None or throttle.blocked_until is None or throttle.blocked_until <= now:
        return None
    return throttle.blocked_until - now


def _wait_message(wait: timedelta) -> str:
    return ngettext(
        "Too many failed attempts. Try again in %(num)d minute.",
        "Too many failed attempts. Try again in %(num)d minutes.",
        max(1, math.ceil(wait.total_seconds() / 60)),
    )


def _failure_message(wait: timedelta | None) -> str:
    return _("E-mail address or password is not correct.") if wait is None else _wait_message(wait)


def _count_failure(throttle: LoginThrottle | None, digest: str, client: str, now: datetime) -> timedelta | None:
    """One more failure of this client for this address; past the allowance, each one doubles the wait (returned)."""
    config = current_app.config
    forgotten = now - config["LOGIN_FAILURE_MEMORY"]
    db.session.execute(
        db.delete(LoginThrottle)
        .where(
            LoginThrottle.last_failure_at < forgotten,
            db.or_(LoginThrottle.email_digest != digest, LoginThrottle.source != client),
        )
        .execution_options(synchronize_session=False)
    )
    throttle = throttle or _new_throttle(digest, client, now)
    if throttle.last_failure_at < forgotten:
        throttle.failures, throttle.blocked_until = 0, None
    throttle.failures += 1
    throttle.last_failure_at = now
    beyond = throttle.failures - config["LOGIN_MAX_FAILURES"]
    if beyond < 0:
        return None
    wait = min(config["LOGIN_FIRST_DELAY"] * 2 ** min(beyond, 32), config["LOGIN_MAX_DELAY"])
    throttle.blocked_until = now + wait
    return wait


def _new_throttle(digest: str, client: str, now: datetime) -> LoginThrottle:
    try:
        with db.session.begin_nested():
            throttle = LoginThrottle(email_digest=digest, source=client, failures=0, last_failure_at=now)
            db.session.add(throttle)
    except IntegrityError:  # another request of the same client counted first
        counted = db.session.get(LoginThrottle, (digest, client))
        assert counted is not None  # the clash means that request has just committed this row
        throttle = counted
    return throttle


def verify_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def set_password(user: User, password: str) -> None:
    """Replace the password, sign out every other session of the user and revoke their personal API tokens."""
    problem = password_problem(password, user.email)
    if problem:
        raise AccountError(problem)
    user.password_hash = hash_password(password)
    user.session_nonce = new_nonce()
    revoke_personal_tokens(user)


def revoke_personal_tokens(user: User) -> None:
    """Revoke the user's own API tokens (not their institution's): none outlives the password it was obtained with."""
    live = db.select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    for token in db.session.scalars(live):
        token.revoke()
        audit.record(
            "token.revoke",
            actor=user,
            target=f"token {token.prefix}",
            institution_id=user.institution_id,
            reason="password",
        )


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def _password_fingerprint(user: User) -> str:
    # Tied to the current hash: once the password changes, every older token is spent.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def make_reset_token(user: User) -> str:
    return _reset_serializer().dumps({"uid": user.id, "fp": _password_fingerprint(user)})


def user_for_reset_token(token: str) -> User | None:
    """The user a reset token belongs to, or None if it is forged, expired or already used."""
    try:
        data = _reset_serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict):
        return None
    user = db.session.get(User, data.get("uid")) if isinstance(data.get("uid"), int) else None
    if user is None or not user.active or data.get("fp") != _password_fingerprint(user):
        return None
    return user


def send_mail(to: str, subject: str, body: str) -> None:
    """Send by SMTP when configured; otherwise write the message to the log."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        log.warning("Mail to %s (no MAIL_SERVER configured): %s\n%s", to, subject, body)
        return
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = config["MAIL_SENDER"], mail_address(to), subject
    message.set_content(body)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)


def set_roles(user: User, roles: set[Role]) -> None:
    """Grant and revoke roles so that the user holds exactly these, auditing each change."""
    current = user.roles
    for role in sorted(roles - current):
        user.role_rows.append(UserRole(role=role))
        audit.record("role.grant", target=user.email, institution_id=user.institution_id, role=role.value)
    for row in [r for r in user.role_rows if r.role not in roles]:
        user.role_rows.remove(row)
        audit.record("role.revoke", target=user.email, institution_id=user.institution_id, role=row.role.value)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Create an API token; the raw value is returned once and never stored."""
    raw = "wbca_" + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name[:80], prefix=raw[:12], token_hash=_digest(raw))
    db.session.add(token)
    db.session.flush()
    audit.record("token.create", actor=user, target=f"token {token.prefix}", institution_id=user.institution_id)
    return token, raw


def user_for_token(raw: str) -> tuple[User, ApiToken] | None:
    """The active user behind a live bearer token, or None."""
    if not raw or not raw.startswith("wbca_"):
        return None
    token = db.session.scalar(db.select(ApiToken).where(ApiToken.token_hash == _digest(raw)))
    if token is None or not token.is_live or not token.user.active:
        return None
    return token.user, token
