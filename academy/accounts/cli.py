"""Command-line account management."""

import click

from academy.accounts.emails import EmailAddressError, canonical_email
from academy.accounts.models import Role, find_user_by_email
from academy.accounts.services import AccountError, create_user, set_roles
from academy.core import audit
from academy.extensions import db
from academy.organisations.services import ensure_countries


@click.command("create-admin")
@click.option("--email", prompt=True, help="E-mail address of the new platform admin.")
@click.option("--name", prompt=True, help="Full name.")
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Password (asked for when omitted)."
)
def create_admin(email, name, password):
    """Create a platform admin, or grant the admin role to an existing account."""
    try:
        # Before the lookup: a look-alike must not find, and promote, an account stored before it was refused.
        email = canonical_email(email)
    except EmailAddressError as error:
        raise click.ClickException(str(error)) from error
    ensure_countries()
    user = find_user_by_email(email)
    if user is not None:
        set_roles(user, user.roles | {Role.ADMIN})
        db.session.commit()
        click.echo(f"{user.email} already existed; it now holds the platform admin role.")
        return
    try:
        user = create_user(email=email, name=name, password=password, institution=None, track=None, roles=(Role.ADMIN,))
    except AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    audit.record("admin.create", actor=user, target=user.email)
    db.session.commit()
    click.echo(f"Platform admin {user.email} created.")
