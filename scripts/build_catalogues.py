"""Make the interface catalogues the application reads: Serbian Latin from the Cyrillic, then every .po compiled.

    python scripts/build_catalogues.py          (make install and make install-test run it)

academy/translations/sr_Latn is never edited by hand: it is sr_Cyrl transliterated (academy/core/transliteration.py),
written here and checked by tests/core/test_catalogues.py. The .mo files are built, not kept in git.
"""

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from academy.core.transliteration import to_latin  # noqa: E402

CATALOGUES = ROOT / "academy" / "translations"


def transliterate_serbian() -> None:
    source = CATALOGUES / "sr_Cyrl" / "LC_MESSAGES" / "messages.po"
    target = CATALOGUES / "sr_Latn" / "LC_MESSAGES" / "messages.po"
    with source.open("rb") as handle:
        catalogue = read_po(handle, locale="sr_Latn")
    for message in catalogue:
        if not message.id:
            continue
        if isinstance(message.string, tuple):
            message.string = tuple(to_latin(text) for text in message.string)
        else:
            message.string = to_latin(message.string)
    catalogue.locale = "sr_Latn"
    catalogue.language_team = "sr-Latn (transliterated from sr-Cyrl)"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        write_po(handle, catalogue, width=120, omit_header=False)


def compile_all() -> int:
    count = 0
    for path in sorted(CATALOGUES.glob("*/LC_MESSAGES/messages.po")):
        with path.open("rb") as handle:
            catalogue = read_po(handle)
        with path.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalogue, use_fuzzy=False)
        count += 1
    return count


if __name__ == "__main__":
    transliterate_serbian()
    print(f"{compile_all()} catalogues compiled")
