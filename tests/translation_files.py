"""Filling a content translation file as a translator's PO editor would: every entry `rule` gives a text for."""

import io
from pathlib import Path

from babel.messages.pofile import read_po, write_po

from academy.core.content.translations import own_headers, with_own_headers


def translate_po(path: Path, rule) -> None:
    """Set each entry's msgstr to `rule(context, english)` where that gives a text; keep the file's own headers, as
    an editor does (Babel alone would drop them)."""
    kept = own_headers(path.read_bytes())
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    for message in catalogue:
        if message.id:
            text = rule(message.context, message.id)
            if text is not None:
                message.string = text
    buffer = io.BytesIO()
    write_po(buffer, catalogue, width=120)
    path.write_bytes(with_own_headers(buffer.getvalue(), kept))
