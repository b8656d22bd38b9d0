"""Reference countries, institution management and the one scoping function."""
import secrets

from flask import abort
from flask_babel import gettext as _

from academy.core import audit
from academy.extensions import db
from academy.institutions.models import Country, Institution, Sector

KOSOVO_FOOTNOTE = (
    "This designation is without prejudice to positions on status, and is in line with "
    "UNSC 1244 and the ICJ Opinion on the Kosovo declaration of independence."
)

# (code, name shown today, name used in the report, footnote)
COUNTRIES = [
    ("AL", "Albania", "Albania", None),
    ("BA", "Bosnia and Herzegovina", "Bosnia and Herzegovina", None),
    ("HR", "Croatia", "Croatia", None),
    ("XK", "Kosovo*", "Kosovo*", KOSOVO_FOOTNOTE),
    ("ME", "Montenegro", "Montenegro", None),
    ("MK", "North Macedonia", "Republic of Macedonia", None),
    ("RS", "Serbia", "Republic of Serbia", None),
    ("OTHER", "Other", "Other", None),
]

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def ensure_countries() -> None:
    """Create or refresh the reference list of countries; safe to run repeatedly."""
    existing = {c.code: c for c in db.session.scalars(db.select(Country))}
    for position, (code, name, report_name, footnote) in enumerate(COUNTRIES):
        country = existing.get(code) or Country(code=code)
        country.name, country.report_name, country.footnote, country.position = name, report_name, footnote, position
        db.session.add(country)
    db.session.flush()


def countries() -> list[Country]:
    return list(db.session.scalars(db.select(Country).order_by(Country.position)))


def new_invitation_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
        if not db.session.scalar(db.select(Institution.id).where(Institution.invitation_code == code)):
            return code


class InstitutionError(ValueError):
    """A user-facing reason why an institution change was refused."""


def name_taken(name: str, exclude_id: int | None = None) -> bool:
    query = db.select(Institution.id).where(db.func.lower(Institution.name) == name.strip().lower())
    if exclude_id:
        query = query.where(Institution.id != exclude_id)
    return db.session.scalar(query) is not None


def create_institution(*, name: str, country: Country, sector: Sector) -> Institution:
    """Create an institution with a fresh invitation code."""
    if name_taken(name):
        raise InstitutionError(_("An institution with this name already exists."))
    institution = Institution(name=name.strip(), country=country, sector=Sector(sector),
                              invitation_code=new_invitation_code())
    db.session.add(institution)
    db.session.flush()
    audit.record("institution.create", target=institution.name, institution_id=institution.id)
    return institution


def update_institution(institution: Institution, *, name: str, country: Country, sector: Sector,
                       active: bool) -> None:
    if name_taken(name, exclude_id=institution.id):
        raise InstitutionError(_("An institution with this name already exists."))
    changes = {}
    for field, value in (("name", name.strip()), ("country", country), ("sector", Sector(sector)), ("active", active)):
        if getattr(institution, field) != value:
            changes[field] = str(getattr(value, "value", value))
            setattr(institution, field, value)
    if changes:
        audit.record("institution.update", target=institution.name, institution_id=institution.id, **changes)


def rotate_invitation_code(institution: Institution) -> str:
    """Replace the invitation code; the old one stops working at once."""
    institution.invitation_code = new_invitation_code()
    audit.record("institution.rotate_code", target=institution.name, institution_id=institution.id)
    return institution.invitation_code


def scope_to_user(query, user, institution_column):
    """Restrict an institution-scoped query to what the user may see: every query goes through here."""
    if user.is_admin:
        return query
    if user.institution_id is None:
        return query.where(db.false())
    return query.where(institution_column == user.institution_id)


def load_institution(institution_id: int, user) -> Institution:
    """Load an institution the user may see: another institution's answers 404."""
    query = scope_to_user(db.select(Institution).where(Institution.id == institution_id), user, Institution.id)
    institution = db.session.scalar(query)
    if institution is None:
        abort(404)
    return institution
