"""API resource for checking a certificate by its code; public, like the verification page."""

from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema

from academy.api.auth import api_allow
from academy.api.schemas.learning import CertificateSchema
from academy.api.views import blp
from academy.core.permissions import PUBLIC
from academy.learning.certificates import CODE_EXAMPLE, find_certificate


@blp.route("/certificates/<code>", methods=["GET"])
@blp.response(200, CertificateSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No certificate has this code")
@api_allow(PUBLIC)
def get_certificate(code):
    """Verify a certificate: holder, course, date of issue and whether it was revoked. No token needed."""
    certificate = find_certificate(code)
    if certificate is None:
        abort(404, message=f"No certificate has this code. Check it: codes look like {CODE_EXAMPLE}.")
    return {
        "code": certificate.code,
        "valid": certificate.is_valid,
        "holder_name": certificate.holder_name,
        "course_title": certificate.course_title,
        "course_slug": certificate.course.slug,
        "issued_at": certificate.issued_at,
        "revoked_at": certificate.revoked_at,
        "revoked_reason": certificate.revoked_reason,
    }
