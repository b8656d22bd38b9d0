"""Certificate pages: the holder's PDF, the public verification page and the admins' register."""

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from academy.accounts.models import Role
from academy.core.forms import Form
from academy.core.pagination import paginate
from academy.core.permissions import PUBLIC, SIGNED_IN, allow
from academy.core.urls import is_safe_next
from academy.extensions import db
from academy.learning import certificates, permissions
from academy.learning.views import bp

STATUSES = ("valid", "revoked")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class RevokeForm(Form):
    reason = StringField(
        _l("Reason for revoking"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Give the reason for revoking: it is shown on the public verification page.")),
            Length(min=3, max=500, message=_l("The reason must be between 3 and 500 characters long.")),
        ],
    )
    next = HiddenField()


@bp.get("/certificates/<code>.pdf")
@allow(SIGNED_IN)
def certificate_pdf(code):
    """The certificate as a PDF, for its holder or a platform admin."""
    certificate = certificates.find_certificate(code)
    if certificate is None or not permissions.can_download_certificate(current_user, certificate):
        abort(404)
    if not certificate.is_valid:
        flash(_("This certificate was revoked and can no longer be downloaded."), "warning")
        return redirect(url_for("learning.verify", code=certificate.code))
    pdf = certificates.certificate_pdf(certificate)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename=certificate-{certificate.code}.pdf",
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/verify/<code>")
@allow(PUBLIC)
def verify(code):
    """Public check of a certificate code: valid, revoked or unknown."""
    certificate = certificates.find_certificate(code)
    if certificate is None:
        return render_template(
            "learning/verify.html", certificate=None, code=code.strip()[:40], example=certificates.CODE_EXAMPLE
        ), 404
    return render_template("learning/verify.html", certificate=certificate, code=certificate.code)


@bp.get("/admin/certificates")
@allow(Role.ADMIN)
def certificate_list():
    """All certificates, searchable by code, holder name or e-mail, filterable by status."""
    search = request.args.get("q", "").strip()[:100]
    status = request.args.get("status", "")
    if status not in STATUSES:
        status = ""
    page = paginate(certificates.certificate_query(search, status))
    return render_template(
        "learning/admin_certificates.html",
        page=page,
        search=search,
        status=status,
        emails=certificates.holder_emails(page.items),
        form=RevokeForm(formdata=None, next=request.full_path),
    )


@bp.post("/admin/certificates/<code>/revoke")
@allow(Role.ADMIN)
def revoke_certificate(code):
    """Revoke a certificate with a reason; the first revocation stands."""
    certificate = certificates.find_certificate(code)
    if certificate is None:
        abort(404)
    form = RevokeForm()
    back = form.next.data if is_safe_next(form.next.data) else url_for("learning.certificate_list", q=certificate.code)
    if not certificate.is_valid:
        flash(
            _(
                "Certificate %(code)s was already revoked on %(date)s; that revocation stands.",
                code=certificate.code,
                date=format_date(certificate.revoked_at, "medium"),
            ),
            "info",
        )
    elif not form.validate_on_submit():
        errors = form.reason.errors or [_("The form has expired; please try again.")]
        flash(_("Certificate %(code)s was not revoked: %(error)s", code=certificate.code, error=errors[0]), "danger")
    elif certificates.revoke(certificate, form.reason.data, current_user):
        db.session.commit()
        flash(
            _("Certificate %(code)s is revoked. Its verification page now says so.", code=certificate.code), "success"
        )
    else:
        flash(_("Certificate %(code)s was already revoked; that revocation stands.", code=certificate.code), "info")
    return redirect(back)
