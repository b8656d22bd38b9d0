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


def content_coverage() -> tuple[dict[str, dict[str, dict[str, float]]], dict[tuple[str, str], str]]:
    """What each language has of the content, from the rows `content sync` keeps: tag → {"courses": {slug: share},
    "scenarios": {slug: share}} (a course's share: of its lessons' and questions' segments, with a current
    translation), and (tag, slug) → the course's or scenario's title in that language (or in English)."""
    shares: dict[str, dict[str, dict[str, float]]] = {
        tag: {"courses": {}, "scenarios": {}} for tag in locales.TRANSLATED
    }
    titles: dict[tuple[str, str], str] = {}
    rows = db.session.execute(
        db.select(
            ContentTranslation.kind, ContentTranslation.key, ContentTranslation.locale, ContentTranslation.fields
        ).where(ContentTranslation.kind.in_(("coverage-course", "coverage-scenario")))
    )
    for kind, key, tag, fields in rows:
        if tag in shares:
            shares[tag]["courses" if kind == "coverage-course" else "scenarios"][key] = fields.get("share", 0.0)
            titles[(tag, key)] = fields.get("title", key)
    return shares, titles
