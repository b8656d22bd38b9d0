"""Writing to the audit trail; the caller's transaction commits it."""

from flask import has_request_context, request
from flask_login import current_user

from academy.core.models import AuditEvent
from academy.extensions import db

ACTIONS = {
    "login.success": "Signed in",
    "login.failure": "Failed sign-in",
    "login.locked": "Sign-in refused: too many failures from that client",
    "logout": "Signed out",
    "account.register": "Registered",
    "password.change": "Changed password",
    "password.reset_request": "Requested a password reset",
    "password.reset": "Reset password",
    "role.grant": "Role granted",
    "role.revoke": "Role revoked",
    "user.deactivate": "Account deactivated",
    "user.activate": "Account reactivated",
    "institution.create": "Institution created",
    "institution.update": "Institution updated",
    "institution.rotate_code": "Invitation code rotated",
    "token.create": "API token created",
    "token.revoke": "API token revoked",
    "export.download": "Export downloaded",
    "enrolment.import": "Staff imported from CSV",
    "admin.create": "Platform admin created",
    "certificate.revoke": "Certificate revoked",
}


def record(
    action: str,
    *,
    actor=None,
    target: str | None = None,
    institution_id: int | None = None,
    ip: str | None = None,
    **detail,
) -> AuditEvent:
    """Add an audit event to the session; the request's single commit persists it (`ip`: a job's requester's)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    event = AuditEvent(
        action=action,
        actor_id=getattr(actor, "id", None),
        actor_email=getattr(actor, "email", None) or detail.pop("email", None),
        target=target,
        institution_id=institution_id,
        ip=ip or (request.remote_addr if has_request_context() else None),
        detail=detail,
    )
    db.session.add(event)
    return event
