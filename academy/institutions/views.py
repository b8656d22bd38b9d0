"""An institution's own page: its staff and invitation code."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from academy.accounts.models import Role, Track, User
from academy.core.pagination import paginate
from academy.core.permissions import allow
from academy.extensions import db
from academy.institutions import permissions
from academy.organisations import services

bp = Blueprint("institutions", __name__, url_prefix="/institutions")


@bp.get("/mine")
@allow(Role.MANAGER)
def mine():
    """Shortcut from the navigation to the manager's own institution: its dashboard."""
    if current_user.institution_id is None:
        abort(404)
    return redirect(url_for("institutions.dashboard", institution_id=current_user.institution_id))


@bp.get("/<int:institution_id>")
@allow(Role.MANAGER, Role.ADMIN)
def detail(institution_id):
    """Staff of one institution, with search and track filter."""
    institution = services.load_institution(institution_id, current_user)
    if not permissions.can_view_staff(current_user, institution):
        abort(403)
    query = db.select(User).where(User.institution_id == institution.id)
    search = request.args.get("q", "").strip()[:100]
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(db.or_(db.func.lower(User.name).like(pattern), User.email.like(pattern)))
    track = request.args.get("track", "")
    if track in {t.value for t in Track}:
        query = query.where(User.track == Track(track))
    staff = paginate(query.order_by(User.name))
    return render_template(
        "institutions/detail.html",
        institution=institution,
        staff=staff,
        search=search,
        track=track,
        tracks=list(Track),
        can_rotate=permissions.can_rotate_code(current_user, institution),
    )


@bp.post("/<int:institution_id>/rotate-code")
@allow(Role.MANAGER, Role.ADMIN)
def rotate_code(institution_id):
    """Issue a new invitation code; the old one stops working."""
    institution = services.load_institution(institution_id, current_user)
    if not permissions.can_rotate_code(current_user, institution):
        abort(403)
    code = services.rotate_invitation_code(institution)
    db.session.commit()
    flash(_("New invitation code: %(code)s. The previous code no longer works.", code=code), "success")
    target = request.form.get("back")
    if target == "admin" and current_user.is_admin:
        return redirect(url_for("admin.edit_institution", institution_id=institution.id))
    return redirect(url_for("institutions.detail", institution_id=institution.id))


# The rest of the institution pages add their routes to this blueprint: create_app registers it whole.
from academy.institutions import bulk_views, dashboard_views, regional_views, token_views  # noqa: E402, F401
