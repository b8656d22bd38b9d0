"""The regional picture for platform admins: training and exercise figures per country and per sector.

Set-based: one grouped query per figure, however many institutions and people there are. Every query groups by
(country, sector) at once, so the per-country rows, the per-sector rows and the totals are sums of the same cells.
People are counted as the shared definitions say: current members, i.e. active accounts of an institution.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from academy.accounts.models import User
from academy.extensions import db
from academy.institutions import baseline
from academy.learning.models import Certificate, Enrolment
from academy.organisations.models import Country, Institution, Sector
from academy.tabletop import engine
from academy.tabletop.models import Participant, SessionEvent

FIGURES = ("institutions", "learners", "enrolments", "completions", "certificates", "exercises")


@dataclass
class Figures:
    institutions: int = 0
    learners: int = 0
    enrolments: int = 0
    completions: int = 0
    certificates: int = 0
    exercises: int = 0  # exercise sessions attended: current members who took part once it started

    def add(self, other: "Figures") -> None:
        for name in FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class CountryRow:
    country: Country
    figures: Figures
    baseline: list[baseline.BaselineCell] | None  # None: the country is not in Table 1


@dataclass
class SectorRow:
    sector: Sector
    figures: Figures


@dataclass
class RegionalPicture:
    countries: list[CountryRow]
    sectors: list[SectorRow]
    total: Figures = field(default_factory=Figures)


def _by_cell(query) -> dict[tuple[int, Sector], tuple]:
    """Run a query grouped by (country, sector) whose first two columns are those keys."""
    return {(row[0], row[1]): tuple(row[2:]) for row in db.session.execute(query)}


def _grouped(*columns):
    return db.select(Institution.country_id, Institution.sector, *columns).group_by(
        Institution.country_id, Institution.sector
    )


def _members(query):
    """Restrict a query over users to current members: active accounts joined to their institution."""
    return query.join(Institution, Institution.id == User.institution_id).where(User.active.is_(True))


def _cells() -> dict[tuple[int, Sector], Figures]:
    """Every figure per (country, sector) cell, in five grouped queries."""
    cells: dict[tuple[int, Sector], Figures] = defaultdict(Figures)
    for key, (count,) in _by_cell(_grouped(db.func.count(Institution.id))).items():
        cells[key].institutions = count
    for key, (count,) in _by_cell(_members(_grouped(db.func.count(User.id)).select_from(User))).items():
        cells[key].learners = count
    enrolments = _members(
        _grouped(db.func.count(Enrolment.id), db.func.count(Enrolment.completed_at))
        .select_from(Enrolment)
        .join(User, User.id == Enrolment.user_id)
    )
    for key, (count, completed) in _by_cell(enrolments).items():
        cells[key].enrolments, cells[key].completions = count, completed
    certificates = _members(
        _grouped(db.func.count(Certificate.id))
        .select_from(Certificate)
        .join(User, User.id == Certificate.user_id)
        .where(Certificate.revoked_at.is_(None))
    )
    for key, (count,) in _by_cell(certificates).items():
        cells[key].certificates = count
    for key, (count,) in _by_cell(_exercise_query()).items():
        cells[key].exercises = count
    return cells


def _exercise_query():
    """Participations of current members in sessions that started, by the institution they played for."""
    started = (
        db.select(SessionEvent.id)
        .where(SessionEvent.session_id == Participant.session_id, SessionEvent.kind == engine.STARTED)
        .exists()
    )
    return (
        _grouped(db.func.count(Participant.id))
        .select_from(Participant)
        .join(Institution, Institution.id == Participant.institution_id)
        .join(User, User.id == Participant.user_id)
        .where(User.active.is_(True), started)
    )


def regional_picture() -> RegionalPicture:
    """Figures per country (with its Table 1 column) and per sector, and the totals; six queries in all."""
    cells = _cells()
    by_country: dict[int, Figures] = defaultdict(Figures)
    by_sector: dict[Sector, Figures] = defaultdict(Figures)
    total = Figures()
    for (country_id, sector), figures in cells.items():
        by_country[country_id].add(figures)
        by_sector[Sector(sector)].add(figures)
        total.add(figures)
    countries = db.session.scalars(db.select(Country).order_by(Country.position)).all()
    return RegionalPicture(
        countries=[CountryRow(c, by_country.get(c.id, Figures()), baseline.baseline_for(c.code)) for c in countries],
        sectors=[SectorRow(s, by_sector.get(s, Figures())) for s in Sector],
        total=total,
    )
