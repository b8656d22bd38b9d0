"""How much of the academy each language has: the interface (its catalogue) and the content (synced coverage rows)."""

import functools
from pathlib import Path

from babel.messages.pofile import read_po

from academy.core import locales
from academy.core.models import ContentTranslation
from academy.extensions import db

CATALOGUES = Path(__file__).resolve().parent.parent.parent / "translations"


@functools.cache
def ui_share(tag: str) -> float:
    """The share of the interface's messages this language's catalogue translates (English: all), read once."""
    locale = locales.LOCALES[tag]
    if not locale.folder:
        return 1.0
    template = CATALOGUES / "messages.pot"
    path = CATALOGUES / locale.folder / "LC_MESSAGES" / "messages.po"
    if not path.is_file() or not template.is_file():
        return 0.0
    with template.open("rb") as handle:
        wanted = {
            message.id if isinstance(message.id, str) else message.id[0] for message in read_po(handle) if message.id
        }
    with path.open("rb") as handle:
        done = {
            message.id if isinstance(message.id, str) else message.id[0]
            for message in read_po(handle)
            if message.id
            and not message.fuzzy
            and all(message.string if isinstance(message.string, tuple) else [message.string])
        }
    return round(len(wanted & done) / max(len(wanted), 1), 4)


def content_titles() -> dict[tuple[str, str], str]:
    """(tag, slug) → the course's or scenario's title in that language (or in English), for the languages page."""
    rows = db.session.execute(
        db.select(ContentTranslation.key, ContentTranslation.locale, ContentTranslation.fields).where(
            ContentTranslation.kind.in_(("coverage-course", "coverage-scenario"))
        )
    )
    return {(tag, key): fields.get("title", key) for key, tag, fields in rows}


def content_shares() -> dict[str, dict[str, dict[str, float]]]:
    """tag → {"courses": {slug: share}, "scenarios": {slug: share}}: the share of each one's segments (of a course,
    its lessons' and questions') with a current translation."""
    found: dict[str, dict[str, dict[str, float]]] = {
        tag: {"courses": {}, "scenarios": {}} for tag in locales.TRANSLATED
    }
    rows = db.session.execute(
        db.select(
            ContentTranslation.kind, ContentTranslation.key, ContentTranslation.locale, ContentTranslation.fields
        ).where(ContentTranslation.kind.in_(("coverage-course", "coverage-scenario")))
    )
    for kind, key, tag, fields in rows:
        if tag in found:
            found[tag]["courses" if kind == "coverage-course" else "scenarios"][key] = fields.get("share", 0.0)
    return found
