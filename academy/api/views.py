"""API resources: tokens and the caller."""

from flask import current_app, g, request
from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema

from academy.accounts.services import authenticate, issue_token
from academy.api.auth import api_allow
from academy.api.parsing import ApiBlueprint
from academy.api.schemas.accounts import MeSchema, TokenRequestSchema, TokenSchema
from academy.core import audit
from academy.core.permissions import PUBLIC, SIGNED_IN
from academy.extensions import api, db, limiter

blp = ApiBlueprint("api", __name__, url_prefix="/api/v1", description="Western Balkans Cybersecurity Academy API")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]  # OpenAPI: each scheme with the scopes it needs
# Each operation lists every status it answers; a catch-all "default" response would hide an undocumented one.
api.DEFAULT_ERROR_RESPONSE_NAME = None
PEOPLE_TOKENS_ONLY = "An institution token: it reads only its institution's members, progress and report"


def _token_limit():
    return current_app.config["TOKEN_RATE_LIMIT"]


@blp.route("/auth/token", methods=["POST"])
@blp.arguments(TokenRequestSchema)
@blp.response(201, TokenSchema)
@blp.alt_response(400, schema=ErrorSchema, description="The body is not JSON")
@blp.alt_response(
    401, schema=ErrorSchema, description="Wrong e-mail or password, or the account is locked or deactivated"
)
@blp.alt_response(413, schema=ErrorSchema, description="The body is larger than the academy accepts")
@blp.alt_response(429, schema=ErrorSchema, description="Too many attempts")
@limiter.limit(_token_limit)
@api_allow(PUBLIC)
def create_token(payload):
    """Exchange e-mail and password for a bearer token."""
    result = authenticate(payload["email"], payload["password"], request.remote_addr)
    if result.user is None:
        db.session.commit()
        abort(401, message=result.error)
    token, raw = issue_token(result.user, payload["name"])
    db.session.commit()
    return {"token": raw, "token_type": "Bearer", "prefix": token.prefix, "name": token.name}


@blp.route("/auth/token", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(401, schema=ErrorSchema, description="Missing, revoked or unknown token")
@blp.alt_response(403, schema=ErrorSchema, description=PEOPLE_TOKENS_ONLY)
@blp.doc(security=BEARER)
@api_allow(SIGNED_IN)
def revoke_token():
    """Revoke the token used for this request."""
    g.api_token.revoke()
    audit.record(
        "token.revoke", actor=g.api_user, target=f"token {g.api_token.prefix}", institution_id=g.api_user.institution_id
    )
    db.session.commit()


@blp.route("/me", methods=["GET"])
@blp.response(200, MeSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Missing, revoked or unknown token")
@blp.alt_response(403, schema=ErrorSchema, description=PEOPLE_TOKENS_ONLY)
@blp.doc(security=BEARER)
@api_allow(SIGNED_IN)
def me():
    """The caller, their institution and roles."""
    user = g.api_user
    db.session.commit()
    institution = user.institution
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "institution_id": user.institution_id,
        "institution": None
        if institution is None
        else {
            "id": institution.id,
            "name": institution.name,
            "country": institution.country.name,
            "sector": institution.sector.value,
        },
        "track": user.track.value if user.track else None,
        "roles": sorted(role.value for role in user.roles),
    }


# Each feature's resources are on this blueprint: create_app registers it whole.
from academy.api import certificates, institutions, jobs, learning, locales, tabletop  # noqa: E402, F401
