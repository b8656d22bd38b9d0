"""Keeping the ContentTranslation rows in step with the translation files: upsert by unit, drop what is gone."""

from collections import Counter

from academy.core.models import ContentTranslation, utcnow
from academy.extensions import db

OUTCOMES = ("created", "updated", "archived", "unchanged")


def sync_translations(kinds: tuple[str, ...], rows: list[dict]) -> Counter:
    """Make the rows of these kinds exactly `rows` (dicts of ContentTranslation's columns); flushes. A unit whose
    translation went stale or was removed loses its row ("archived"): its readers get the English."""
    counts = Counter(dict.fromkeys(OUTCOMES, 0))
    existing = {
        (row.kind, row.key, row.locale): row
        for row in db.session.scalars(db.select(ContentTranslation).where(ContentTranslation.kind.in_(kinds)))
    }
    now = utcnow()
    for values in rows:
        row = existing.pop((values["kind"], values["key"], values["locale"]), None)
        if row is None:
            db.session.add(ContentTranslation(**values, synced_at=now))
            counts["created"] += 1
        elif any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.synced_at = now
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    for row in existing.values():
        db.session.delete(row)
        counts["archived"] += 1
    db.session.flush()
    return counts
