"""Users, their roles, their sign-in throttling and their API tokens."""

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.accounts.emails import normalise_email
from academy.core.models import TimestampMixin, utcnow
from academy.extensions import Model, db
from academy.organisations.models import Institution


class Role(str, enum.Enum):
    LEARNER = "learner"
    TRAINER = "trainer"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_LABELS = {
    Role.LEARNER: _l("Learner"),
    Role.TRAINER: _l("Trainer"),
    Role.MANAGER: _l("Institution manager"),
    Role.ADMIN: _l("Platform admin"),
}


class Track(str, enum.Enum):
    DIPLOMAT = "diplomat"
    CERT = "cert"
    OPERATOR = "operator"
    POLICY = "policy"
    LAW_ENFORCEMENT = "law_enforcement"

    @property
    def label(self) -> str:
        return str(TRACK_LABELS[self])


TRACK_LABELS = {
    Track.DIPLOMAT: _l("Diplomat / foreign ministry"),
    Track.CERT: _l("CERT/CSIRT staff"),
    Track.OPERATOR: _l("Infrastructure operator"),
    Track.POLICY: _l("Policy maker"),
    Track.LAW_ENFORCEMENT: _l("Law enforcement"),
}


class UserRole(Model):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16), primary_key=True)


class User(UserMixin, TimestampMixin, Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"), index=True)
    track: Mapped[Track | None] = mapped_column(Enum(Track, native_enum=False, length=24))
    active: Mapped[bool] = mapped_column(default=True)
    session_nonce: Mapped[str] = mapped_column(String(32))
    last_login_at: Mapped[datetime | None]
    locale: Mapped[str | None] = mapped_column(String(16))  # the language the person chose (a tag of core.locales)

    institution: Mapped[Institution | None] = relationship(lazy="joined")
    role_rows: Mapped[list[UserRole]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by=UserRole.role
    )

    @property
    def roles(self) -> set[Role]:
        return {row.role for row in self.role_rows}

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        # The nonce changes with the password, which signs out every other session.
        return f"{self.id}:{self.session_nonce}"

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


def find_user_by_email(email: str) -> User | None:
    """The account of an address written in any case, width or Unicode composition (see accounts/emails.py)."""
    return db.session.scalar(db.select(User).where(User.email == normalise_email(email)))


class LoginThrottle(Model):
    """Failed sign-ins for one e-mail address (known or not) from one client, and until when that client waits."""

    __tablename__ = "login_throttle"

    # A digest: the address as typed, whether or not an account has it, in a bounded width.
    email_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)  # the client's address (IPv6: its /64)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    blocked_until: Mapped[datetime | None]


class ApiToken(TimestampMixin, Model):
    """A bearer token of a person or of an institution (exactly one); only its SHA-256 digest is stored."""

    __tablename__ = "api_token"
    __table_args__ = (CheckConstraint("(user_id IS NULL) <> (institution_id IS NULL)", name="one_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # An institution's token outlives the manager who created it: it belongs to the institution.
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User | None] = relationship(lazy="joined")
    institution: Mapped[Institution | None] = relationship()

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = utcnow()
