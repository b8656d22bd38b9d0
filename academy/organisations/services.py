"""Reference countries, institution management and the one scoping function."""

import functools

from flask import abort
from flask_babel import gettext as _
from sqlalchemy import Select, bindparam

from academy.core import audit
from academy.core.codes import unused_code
from academy.extensions import db
from academy.organisations.models import Country, Institution, Sector

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
    return unused_code(Institution.invitation_code, 10)


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
    institution = Institution(
        name=name.strip(), country=country, sector=Sector(sector), invitation_code=new_invitation_code()
    )
    db.session.add(institution)
    db.session.flush()
    audit.record("institution.create", target=institution.name, institution_id=institution.id)
    return institution


def update_institution(institution: Institution, *, name: str, country: Country, sector: Sector, active: bool) -> None:
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
    scope = (user.is_admin, user.institution_id)  # all scope_to_user reads of the user
    query = _institution_queries.get(scope)
    if query is None:
        if len(_institution_queries) >= 1024:
            _institution_queries.clear()
        query = _institution_queries[scope] = scope_to_user(_institution_by_id(), user, Institution.id)
    institution = db.session.scalar(query, {"institution_id": institution_id})
    if institution is None:
        abort(404)
    return institution


@functools.cache
def _institution_by_id():
    """Built once: every institution page loads its institution (scope_to_user narrows it to the user's)."""
    return db.select(Institution).where(Institution.id == bindparam("institution_id"))


# The query of each scope, built once: SQLAlchemy then finds its compiled SQL without building and hashing it again.
_institution_queries: dict[tuple, Select] = {}
