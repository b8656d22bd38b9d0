"""Normalise stored e-mail addresses; report, never merge, the accounts that would collide

Revision ID: 5b9638873440
Revises: d380efaa3867
Create Date: 2026-12-02 10:00:00.000000

"""
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from alembic import op
import sqlalchemy as sa

from academy.accounts.emails import EmailAddressError, canonical_email, normalise_email


# revision identifiers, used by Alembic.
revision = '5b9638873440'
down_revision = 'd380efaa3867'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
user = sa.table("user", sa.column("id", sa.Integer), sa.column("email", sa.String))


@dataclass
class Plan:
    """What normalising the stored addresses does: rename some rows, and leave the rest for a person to settle."""

    renames: dict[int, str] = field(default_factory=dict)  # id -> normalised address
    collisions: list[list[tuple[int, str]]] = field(default_factory=list)  # rows that normalise to one address
    unusable: list[tuple[int, str]] = field(default_factory=list)  # invalid or look-alike: no account could have it


def plan(rows: list[tuple[int, str]]) -> Plan:
    """Decide, for (id, e-mail) rows, which to normalise; rows that would share an address are all left alone."""
    result = Plan()
    groups = defaultdict(list)
    for user_id, email in sorted(rows):
        try:
            groups[canonical_email(email)].append((user_id, email))
        except EmailAddressError:
            result.unusable.append((user_id, email))
            groups[normalise_email(email)].append((user_id, email))
    unusable = set(result.unusable)
    for address, members in groups.items():
        if len(members) > 1:
            result.collisions.append(members)
        elif members[0] not in unusable and members[0][1] != address:
            result.renames[members[0][0]] = address
    return result


def report(result: Plan) -> None:
    for members in result.collisions:
        accounts = ", ".join(f"#{user_id} {email!r}" for user_id, email in members)
        log.warning("E-mail collision, left unchanged: accounts %s are one address once normalised "
                    "(%r); merge or rename them by hand.", accounts, normalise_email(members[0][1]))
    for user_id, email in result.unusable:
        log.warning("E-mail left unchanged: account #%d %r is not a valid single-alphabet address; "
                    "correct it by hand.", user_id, email)
    log.info("E-mail addresses normalised: %d; collision groups: %d; unusable: %d.",
             len(result.renames), len(result.collisions), len(result.unusable))


def upgrade():
    connection = op.get_bind()
    result = plan([(row.id, row.email) for row in connection.execute(sa.select(user.c.id, user.c.email))])
    report(result)
    for user_id, address in result.renames.items():
        connection.execute(user.update().where(user.c.id == user_id).values(email=address))


def downgrade():
    # The old lookup lower-cases what is typed, which finds a normalised address too: nothing to undo.
    pass
