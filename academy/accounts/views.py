"""Sign-in, registration, password changes and personal API tokens."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from academy.accounts import jobs, languages, services
from academy.accounts.forms import (
    ChangePasswordForm,
    LoginForm,
    RegisterForm,
    ResetPasswordForm,
    ResetRequestForm,
    TokenForm,
)
from academy.accounts.models import ApiToken
from academy.core import audit, locales
from academy.core.permissions import PUBLIC, SIGNED_IN, allow
from academy.core.urls import is_safe_next
from academy.extensions import csrf, db, limiter

bp = Blueprint("accounts", __name__, url_prefix="/account")


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _start_session(user, remember=False):
    # A fresh session at sign-in: nothing an attacker planted before survives.
    session.clear()
    login_user(user, remember=remember)
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Sign in with e-mail and password."""
    form = LoginForm(next=request.args.get("next", ""))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("core.index"))
    if form.validate_on_submit():
        result = services.authenticate(form.email.data, form.password.data, request.remote_addr)
        if result.user is None:
            db.session.commit()
            form.password.errors.append(result.error)
            return render_template("accounts/login.html", form=form), 200
        _start_session(result.user, remember=form.remember.data)
        db.session.commit()
        flash(_("Welcome back, %(name)s.", name=result.user.name), "success")
        target = form.next.data
        return redirect(target if is_safe_next(target) else url_for("core.index"))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@allow(SIGNED_IN)
def logout():
    """Sign out and forget the session."""
    audit.record("logout", target=current_user.email, institution_id=current_user.institution_id)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("core.index"))


@bp.route("/register", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(_login_limit, methods=["POST"])
def register():
    """Create an account with an institution's invitation code."""
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = RegisterForm(invitation_code=request.args.get("code", ""))
    if form.validate_on_submit():
        try:
            user = services.register(
                email=form.email.data,
                name=form.name.data,
                password=form.password.data,
                invitation_code=form.invitation_code.data,
                track=form.track.data,
            )
        except services.AccountError as error:
            db.session.rollback()
            form[error.field].errors.append(str(error))
        else:
            _start_session(user)
            db.session.commit()
            flash(_("Your account is ready. Welcome to the academy, %(name)s.", name=user.name), "success")
            return redirect(url_for("core.index"))
    return render_template("accounts/register.html", form=form)


@bp.get("/")
@allow(SIGNED_IN)
def profile():
    """The signed-in user's account page with their API tokens."""
    tokens = db.session.scalars(
        db.select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.created_at.desc())
    ).all()
    return render_template("accounts/profile.html", tokens=tokens, token_form=TokenForm())


@bp.route("/password", methods=["GET", "POST"])
@allow(SIGNED_IN)
def change_password():
    """Change one's own password; other sessions are signed out."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not services.verify_password(current_user, form.current.data):
            form.current.errors.append(_("This is not your current password."))
        else:
            try:
                services.set_password(current_user, form.password.data)
            except services.AccountError as error:
                form.password.errors.append(str(error))
            else:
                audit.record("password.change", target=current_user.email, institution_id=current_user.institution_id)
                _start_session(current_user._get_current_object())
                db.session.commit()
                flash(
                    _(
                        "Your password has been changed. Other devices have been signed out and your personal API "
                        "tokens revoked."
                    ),
                    "success",
                )
                return redirect(url_for("accounts.profile"))
    return render_template("accounts/change_password.html", form=form)


@bp.route("/reset", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(_login_limit, methods=["POST"])
def request_reset():
    """Ask for a reset link; the answer, and the work done before it, is the same whether or not the account exists."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        # The job looks the address up and mails; the request only enqueues, alike for every address.
        jobs.send_password_reset(form.email.data, request.remote_addr)
        flash(
            _(
                "If an account exists for that address, we have sent it a link to reset the password. "
                "The link works for one hour."
            ),
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/request_reset.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@allow(PUBLIC)
def reset_password(token):
    """Choose a new password with a signed, expiring, single-use link."""
    user = services.user_for_reset_token(token)
    if user is None:
        flash(_("This reset link is invalid, has expired or has already been used. Ask for a new one."), "danger")
        return redirect(url_for("accounts.request_reset"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.set_password(user, form.password.data)
        except services.AccountError as error:
            form.password.errors.append(str(error))
        else:
            audit.record("password.reset", actor=user, target=user.email, institution_id=user.institution_id)
            db.session.commit()
            flash(
                _("Your password has been reset and your personal API tokens revoked. You can sign in now."), "success"
            )
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form)


@bp.post("/tokens")
@allow(SIGNED_IN)
def create_token():
    """Create a personal API token and show it once."""
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("Give the token a name of at most 80 characters."), "danger")
        return redirect(url_for("accounts.profile"))
    token, raw = services.issue_token(current_user, form.name.data)
    db.session.commit()
    tokens = db.session.scalars(
        db.select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.created_at.desc())
    ).all()
    return render_template("accounts/profile.html", tokens=tokens, token_form=TokenForm(formdata=None), new_token=raw)


@bp.post("/tokens/<int:token_id>/revoke")
@allow(SIGNED_IN)
def revoke_token(token_id):
    """Revoke one of one's own tokens; another user's token answers 404."""
    token = db.first_or_404(db.select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == current_user.id))
    if token.is_live:
        token.revoke()
        audit.record("token.revoke", target=f"token {token.prefix}", institution_id=current_user.institution_id)
        db.session.commit()
        flash(_('The token "%(name)s" has been revoked.', name=token.name), "success")
    return redirect(url_for("accounts.profile"))


@bp.post("/language")
@allow(PUBLIC)
@csrf.exempt  # a visitor's choice needs no session; a signed-in person's is checked below
def choose_language():
    """Switch the language: saved on the account when signed in, remembered by the browser in any case."""
    if current_user.is_authenticated and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()  # what CSRFProtect does for every other form
    back = request.form.get("next", "")
    back = back if is_safe_next(back) else url_for("core.index")
    chosen = locales.get(request.form.get("language"))
    if chosen is None or chosen.tag not in languages.offered():
        flash(_("That language is not offered here; the page stays in the language it was."), "warning")
        return redirect(back)
    if current_user.is_authenticated and current_user.locale != chosen.tag:
        current_user.locale = chosen.tag
        db.session.commit()
    return languages.remember(redirect(back), chosen.tag)
