"""Codes people read and type: invitation, certificate and join codes, with no look-alike characters."""

import secrets

from academy.extensions import db

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud or copied from paper without doubt


def random_code(length: int) -> str:
    """`length` characters of CODE_ALPHABET: 5 bits of randomness each."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def unused_code(column, length: int, shape=lambda raw: raw) -> str:
    """A random code, shaped (e.g. grouped by dashes), that no row has yet in `column` (a unique column)."""
    while True:
        code = shape(random_code(length))
        if not db.session.scalar(db.select(column).where(column == code)):
            return code
