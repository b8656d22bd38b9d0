"""Managers' page for their institution's API tokens: create one (shown once), revoke one."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from academy.accounts.forms import TokenForm
from academy.accounts.models import Role
from academy.core.permissions import allow
from academy.extensions import db
from academy.institutions import permissions, tokens
from academy.institutions.views import bp
from academy.organisations import services


def _load_for_tokens(institution_id: int):
    """The institution, if the user may manage its tokens: another institution's answers 404, a missing right 403."""
    institution = services.load_institution(institution_id, current_user)
    if not permissions.can_manage_tokens(current_user, institution):
        abort(403)
    return institution


def _page(institution, form, new_token=None):
    return render_template(
        "institutions/tokens.html",
        institution=institution,
        form=form,
        new_token=new_token,
        tokens=tokens.institution_tokens(institution),
    )


@bp.get("/<int:institution_id>/tokens", endpoint="tokens")
@allow(Role.MANAGER, Role.ADMIN)
def tokens_page(institution_id):
    """The institution's API tokens."""
    return _page(_load_for_tokens(institution_id), TokenForm())


@bp.post("/<int:institution_id>/tokens")
@allow(Role.MANAGER, Role.ADMIN)
def create_token(institution_id):
    """Create an institution token and show it once."""
    institution = _load_for_tokens(institution_id)
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(institution, form)
    _, raw = tokens.issue_institution_token(institution, form.name.data)
    db.session.commit()
    return _page(institution, TokenForm(formdata=None), new_token=raw)


@bp.post("/<int:institution_id>/tokens/<int:token_id>/revoke")
@allow(Role.MANAGER, Role.ADMIN)
def revoke_token(institution_id, token_id):
    """Revoke one of the institution's tokens; it stops working at once."""
    institution = _load_for_tokens(institution_id)
    token = tokens.load_institution_token(institution, token_id)
    if token is None:
        abort(404)
    if tokens.revoke_institution_token(token):
        db.session.commit()
        flash(
            _('The token "%(name)s" has been revoked; systems using it can no longer call the API.', name=token.name),
            "success",
        )
    return redirect(url_for("institutions.tokens", institution_id=institution.id))
