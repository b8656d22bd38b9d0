"""Platform admin pages: institutions, users, audit log."""

from datetime import datetime, time, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from academy.accounts.emails import fold_email
from academy.accounts.models import Role, Track, User, UserRole
from academy.accounts.services import set_roles
from academy.admin.forms import AuditFilterForm, InstitutionForm, UserAdminForm
from academy.core import audit
from academy.core.forms import choices
from academy.core.models import AuditEvent, utcnow
from academy.core.pagination import paginate, query_id
from academy.core.permissions import allow
from academy.extensions import db
from academy.organisations import services as institutions
from academy.organisations.models import Country, Institution, Sector

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _institution_choices(blank_label):
    rows = db.session.execute(db.select(Institution.id, Institution.name).order_by(Institution.name)).all()
    return choices([(0, blank_label)] + [(row.id, row.name) for row in rows])


@bp.get("/")
@allow(Role.ADMIN)
def index():
    """Overview figures for platform admins."""
    figures = {
        "institutions": db.session.scalar(db.select(db.func.count(Institution.id))),
        "users": db.session.scalar(db.select(db.func.count(User.id))),
        "active_users": db.session.scalar(db.select(db.func.count(User.id)).where(User.active.is_(True))),
        "events_today": db.session.scalar(
            db.select(db.func.count(AuditEvent.id)).where(AuditEvent.at >= datetime.combine(utcnow().date(), time.min))
        ),
    }
    recent = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.at.desc()).limit(8)).all()
    return render_template("admin/index.html", figures=figures, recent=recent, actions=audit.ACTIONS)


@bp.get("/institutions")
@allow(Role.ADMIN)
def institution_list():
    """All institutions with staff counts, filterable by country and sector."""
    query = db.select(Institution).join(Country).order_by(Country.position, Institution.name)
    country = request.args.get("country", "")
    sector = request.args.get("sector", "")
    if country:
        query = query.where(Country.code == country)
    if sector in {s.value for s in Sector}:
        query = query.where(Institution.sector == Sector(sector))
    page = paginate(query)
    ids = [institution.id for institution in page.items]
    staff_counts = (
        dict(
            db.session.execute(
                db.select(User.institution_id, db.func.count(User.id))
                .where(User.institution_id.in_(ids))
                .group_by(User.institution_id)
            ).all()
        )
        if ids
        else {}
    )
    return render_template(
        "admin/institutions.html",
        page=page,
        staff_counts=staff_counts,
        countries=institutions.countries(),
        sectors=list(Sector),
        country=country,
        sector=sector,
    )


def _institution_form(institution=None):
    form = InstitutionForm(obj=None)
    form.country.choices = choices((c.id, c.name) for c in institutions.countries())
    if institution is not None and request.method == "GET":
        form.name.data, form.country.data = institution.name, institution.country_id
        form.sector.data, form.active.data = institution.sector.value, institution.active
    return form


@bp.route("/institutions/new", methods=["GET", "POST"])
@allow(Role.ADMIN)
def new_institution():
    """Create an institution; its invitation code is generated."""
    form = _institution_form()
    if form.validate_on_submit():
        try:
            institution = institutions.create_institution(
                name=form.name.data, country=db.get_or_404(Country, form.country.data), sector=form.sector.data
            )
        except institutions.InstitutionError as error:
            form.name.errors.append(str(error))
        else:
            db.session.commit()
            flash(
                _("Institution created. Its invitation code is %(code)s.", code=institution.invitation_code), "success"
            )
            return redirect(url_for("admin.edit_institution", institution_id=institution.id))
    return render_template("admin/institution_form.html", form=form, institution=None)


@bp.route("/institutions/<int:institution_id>/edit", methods=["GET", "POST"])
@allow(Role.ADMIN)
def edit_institution(institution_id):
    """Edit an institution's name, country, sector and status."""
    institution = db.get_or_404(Institution, institution_id)
    form = _institution_form(institution)
    if form.validate_on_submit():
        try:
            institutions.update_institution(
                institution,
                name=form.name.data,
                country=db.get_or_404(Country, form.country.data),
                sector=form.sector.data,
                active=form.active.data,
            )
        except institutions.InstitutionError as error:
            form.name.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Institution saved."), "success")
            return redirect(url_for("admin.edit_institution", institution_id=institution.id))
    return render_template("admin/institution_form.html", form=form, institution=institution)


@bp.get("/users")
@allow(Role.ADMIN)
def user_list():
    """All accounts, searchable and filterable by role, institution and status."""
    query = db.select(User).order_by(User.name)
    search = request.args.get("q", "").strip()[:100]
    if search:
        query = query.where(
            db.or_(db.func.lower(User.name).like(f"%{search.lower()}%"), User.email.like(f"%{fold_email(search)}%"))
        )
    role = request.args.get("role", "")
    if role in {r.value for r in Role}:
        query = query.where(User.id.in_(db.select(UserRole.user_id).where(UserRole.role == Role(role))))
    institution_id = query_id("institution")
    if institution_id:
        query = query.where(User.institution_id == institution_id)
    status = request.args.get("status", "")
    if status in ("active", "inactive"):
        query = query.where(User.active.is_(status == "active"))
    page = paginate(query)
    return render_template(
        "admin/users.html",
        page=page,
        search=search,
        role=role,
        roles=list(Role),
        institution_id=institution_id,
        status=status,
        institution_choices=_institution_choices(_("Any institution")),
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@allow(Role.ADMIN)
def edit_user(user_id):
    """Change a user's roles, institution, track and status."""
    user = db.get_or_404(User, user_id)
    form = UserAdminForm()
    form.institution.choices = _institution_choices(_("No institution"))
    if request.method == "GET":
        form.roles.data = [r.value for r in user.roles]
        form.institution.data = user.institution_id or 0
        form.track.data = user.track.value if user.track else ""
        form.active.data = user.active
    if form.validate_on_submit():
        error = _check_user_change(user, form)
        if error:
            flash(error, "danger")
        else:
            _apply_user_change(user, form)
            db.session.commit()
            flash(_("Account saved."), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/user_form.html", form=form, user=user)


def _check_user_change(user, form):
    roles = set(form.roles.data)
    if user.id == current_user.id and (Role.ADMIN.value not in roles or not form.active.data):
        return _("You cannot remove your own admin role or deactivate yourself; ask another admin.")
    if Role.MANAGER.value in roles and not form.institution.data:
        return _("An institution manager must belong to an institution.")
    if form.institution.data and db.session.get(Institution, form.institution.data) is None:
        abort(400)
    return None


def _apply_user_change(user, form):
    set_roles(user, {Role(value) for value in form.roles.data})
    user.institution_id = form.institution.data or None
    user.track = Track(form.track.data) if form.track.data else None
    if user.active != form.active.data:
        user.active = form.active.data
        audit.record(
            "user.activate" if user.active else "user.deactivate", target=user.email, institution_id=user.institution_id
        )


@bp.get("/audit")
@allow(Role.ADMIN)
def audit_log():
    """The audit trail, newest first, filterable by action, person, institution and dates."""
    form = AuditFilterForm(request.args)
    form.institution.choices = _institution_choices(_("Any institution"))
    query = db.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if form.validate():
        if form.action.data:
            query = query.where(AuditEvent.action == form.action.data)
        if form.actor.data:
            query = query.where(AuditEvent.actor_email.like(f"%{fold_email(form.actor.data)}%"))
        if form.institution.data:
            query = query.where(AuditEvent.institution_id == form.institution.data)
        if form.date_from.data:
            query = query.where(AuditEvent.at >= datetime.combine(form.date_from.data, time.min))
        if form.date_to.data:
            query = query.where(AuditEvent.at < datetime.combine(form.date_to.data + timedelta(days=1), time.min))
    page = paginate(query, per_page=50)
    return render_template("admin/audit.html", form=form, page=page, actions=audit.ACTIONS)
