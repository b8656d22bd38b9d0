"""Demo data for trying the academy out."""

import secrets

import click

from academy.accounts.models import Role, Track, find_user_by_email
from academy.accounts.services import AccountError, create_user, set_password, set_roles
from academy.extensions import db
from academy.organisations.models import Country, Institution, Sector
from academy.organisations.services import create_institution, ensure_countries

DEMO_INSTITUTIONS = [
    ("Demo Ministry of Foreign Affairs", "AL", Sector.MINISTRY),
    ("Demo National CSIRT", "RS", Sector.CERT),
    ("Demo Electricity Transmission Operator", "BA", Sector.OPERATOR),
    ("Demo Cybercrime Police Unit", "MK", Sector.LAW),
    ("Demo Electronic Communications Regulator", "ME", Sector.REGULATOR),
    ("Demo Ministry of Public Administration", "XK", Sector.MINISTRY),
    ("Demo University Cyber Lab", "HR", Sector.ACADEMIA),
]

# (e-mail, name, institution index, track, roles)
DEMO_USERS = [
    ("admin@demo.academy", "Ana Admin", None, None, (Role.ADMIN,)),
    ("trainer@demo.academy", "Tomislav Trainer", 1, Track.CERT, (Role.TRAINER, Role.LEARNER)),
    ("manager@demo.academy", "Mira Manager", 0, Track.DIPLOMAT, (Role.MANAGER, Role.LEARNER)),
    ("diplomat@demo.academy", "Dritan Diplomat", 0, Track.DIPLOMAT, (Role.LEARNER,)),
    ("policy@demo.academy", "Petra Policy", 0, Track.POLICY, (Role.LEARNER,)),
    ("cert@demo.academy", "Stefan CERT", 1, Track.CERT, (Role.LEARNER,)),
    ("cert.manager@demo.academy", "Jelena CSIRT-Lead", 1, Track.CERT, (Role.MANAGER, Role.LEARNER)),
    ("operator@demo.academy", "Emir Operator", 2, Track.OPERATOR, (Role.LEARNER,)),
    ("police@demo.academy", "Marko Investigator", 3, Track.LAW_ENFORCEMENT, (Role.LEARNER,)),
]


def _ensure_institution(name, country_code, sector):
    institution = db.session.scalar(db.select(Institution).where(Institution.name == name))
    if institution is None:
        country = db.session.scalar(db.select(Country).where(Country.code == country_code))
        institution = create_institution(name=name, country=country, sector=sector)
    return institution


def _ensure_user(email, name, institution, track, roles, password):
    user = find_user_by_email(email)
    if user is None:
        return create_user(email=email, name=name, password=password, institution=institution, track=track, roles=roles)
    set_password(user, password)
    set_roles(user, user.roles | set(roles))
    user.active = True
    return user


@click.command("demo")
@click.option("--password", default=None, help="Password for every demo account (default: a random one).")
def demo(password):
    """Load demo institutions and accounts; running it again updates them, never duplicates."""
    password = password or secrets.token_urlsafe(12)
    ensure_countries()
    institutions = [_ensure_institution(*row) for row in DEMO_INSTITUTIONS]
    try:
        users = [
            _ensure_user(email, name, None if index is None else institutions[index], track, roles, password)
            for email, name, index, track, roles in DEMO_USERS
        ]
    except AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo("Demo institutions (invitation codes):")
    for institution in institutions:
        click.echo(f"  {institution.invitation_code}  {institution.name} ({institution.country.name})")
    click.echo(f"\nDemo accounts (password for all: {password}):")
    for user in users:
        roles = ", ".join(sorted(role.value for role in user.roles))
        click.echo(f"  {user.email:<28} {roles}")
