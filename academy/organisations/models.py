"""Countries of the report and the institutions that belong to them: the organisations people belong to.

This layer sits below accounts (a user belongs to an institution) and imports nothing but core."""

import enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.core.models import TimestampMixin
from academy.extensions import Model


class Sector(str, enum.Enum):
    MINISTRY = "ministry"
    CERT = "cert"
    OPERATOR = "operator"
    LAW = "law"
    REGULATOR = "regulator"
    ACADEMIA = "academia"
    PRIVATE = "private"
    CIVIL = "civil"

    @property
    def label(self) -> str:
        return str(SECTOR_LABELS[self])


SECTOR_LABELS = {
    Sector.MINISTRY: _l("Ministry / diplomatic service"),
    Sector.CERT: _l("CERT / CSIRT"),
    Sector.OPERATOR: _l("Critical-infrastructure operator"),
    Sector.LAW: _l("Law enforcement / judiciary"),
    Sector.REGULATOR: _l("Regulator"),
    Sector.ACADEMIA: _l("Academia"),
    Sector.PRIVATE: _l("Private sector"),
    Sector.CIVIL: _l("Civil society"),
}


class Country(Model):
    """One of the report's seven participants, or "other"."""

    __tablename__ = "country"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    report_name: Mapped[str] = mapped_column(String(80))
    footnote: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)

    def __str__(self) -> str:
        return self.name


class Institution(TimestampMixin, Model):
    __tablename__ = "institution"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    country_id: Mapped[int] = mapped_column(ForeignKey("country.id"), index=True)
    sector: Mapped[Sector] = mapped_column(Enum(Sector, native_enum=False, length=16))
    invitation_code: Mapped[str] = mapped_column(String(32), unique=True)
    active: Mapped[bool] = mapped_column(default=True)

    country: Mapped[Country] = relationship(lazy="joined")

    def __str__(self) -> str:
        return self.name
