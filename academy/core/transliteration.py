"""Serbian Cyrillic to Latin: the Latin-script Serbian of the interface and the content is made from the Cyrillic.

Cyrillic to Latin is one-to-one (Љ → Lj, Џ → Dž); the other way is not (`nj` is one letter in `konj`, two in
`injekcija`), so the Cyrillic is the one written and the Latin is derived, never kept by hand.
"""

import cyrtranslit


def to_latin(text: str) -> str:
    """Serbian Cyrillic as Serbian Latin. Latin letters, digits, the messages' format fields (`%(name)s`, `{count}`)
    and HTML markup pass unchanged (tests/core/test_transliteration.py)."""
    return cyrtranslit.to_latin(text, "sr")
