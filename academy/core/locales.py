"""The languages the academy speaks, named by BCP 47 tags, and how a request's language is chosen.

CLDR (and so Babel) does not know every language of the region as its speakers name it: Montenegrin (`cnr`) has no
locale data and is read as `sr_Latn_ME`; plain `sr` means Cyrillic; Werkzeug's matcher finds nothing for `sr-RS`
when only `sr-Latn` and `sr-Cyrl` are offered. So the academy names its own locales, each with the Babel locale that
formats its dates and numbers and the folder of its interface catalogue (academy/translations/<folder>), and matches
a browser's Accept-Language itself (`match`). A language asked for in a script the academy does not have (`bs-Cyrl`)
is skipped, never answered in the other script: the next language the browser lists, or English, answers.
"""

import functools
from dataclasses import dataclass

from babel import Locale

DEFAULT = "en"
# The documented default script of Serbian asked for without one (`sr`, `sr-RS`, `sr-BA`, `sr-XK`): Cyrillic, the
# script the Constitution of Serbia names and CLDR's default for `sr`.
SERBIAN_DEFAULT = "sr-Cyrl"


@dataclass(frozen=True)
class AcademyLocale:
    tag: str  # BCP 47, as in <html lang>, the API and file names
    babel: str  # the Babel locale: dates, numbers, plural rules
    folder: str  # academy/translations/<folder>/LC_MESSAGES/messages.po ("" for the source language)
    name: str  # in itself, as the switcher shows it
    english: str  # in English, for reports and the README
    script: str  # ISO 15924

    @property
    def babel_locale(self) -> Locale:
        return _parsed(self.babel)


LOCALES: dict[str, AcademyLocale] = {
    locale.tag: locale
    for locale in (
        AcademyLocale("en", "en", "", "English", "English", "Latn"),
        AcademyLocale("sq", "sq", "sq", "Shqip", "Albanian", "Latn"),
        AcademyLocale("mk", "mk", "mk", "Македонски", "Macedonian", "Cyrl"),
        AcademyLocale("sr-Cyrl", "sr_Cyrl", "sr_Cyrl", "Српски (ћирилица)", "Serbian (Cyrillic)", "Cyrl"),
        AcademyLocale("sr-Latn", "sr_Latn", "sr_Latn", "Srpski (latinica)", "Serbian (Latin)", "Latn"),
        AcademyLocale("bs", "bs", "bs", "Bosanski", "Bosnian", "Latn"),
        AcademyLocale("hr", "hr", "hr", "Hrvatski", "Croatian", "Latn"),
        AcademyLocale("cnr", "sr_Latn_ME", "sr_Latn_ME", "Crnogorski", "Montenegrin", "Latn"),
    )
}
TAGS = tuple(LOCALES)
TRANSLATED = tuple(tag for tag in TAGS if tag != DEFAULT)
# Serbian in Latin script is made from the Cyrillic by transliteration, never written twice (core.transliteration).
DERIVED = {"sr-Latn": "sr-Cyrl"}

# A country's default language, for a signed-in person whose browser names none the academy has.
COUNTRY_DEFAULTS = {"AL": "sq", "BA": "bs", "HR": "hr", "XK": "sq", "ME": "cnr", "MK": "mk", "RS": SERBIAN_DEFAULT}


@functools.cache
def _parsed(identifier: str) -> Locale:
    return Locale.parse(identifier)


def get(tag: str | None) -> AcademyLocale | None:
    """The locale of a tag written in any case (`SR-latn` is `sr-Latn`), or None."""
    if not tag:
        return None
    return _BY_LOWER.get(tag.strip().lower().replace("_", "-"))


_BY_LOWER = {tag.lower(): locale for tag, locale in LOCALES.items()}
_BY_BABEL = {locale.babel: tag for tag, locale in LOCALES.items()}


def tag_for_range(language_range: str) -> str | None:
    """The academy's locale for one language range of Accept-Language, script-aware; None when it has none.

    The table (tests/core/test_locales.py checks it): `sr-Latn`, `sr-Latn-RS`, `sr-Latn-BA` → sr-Latn; `sr`,
    `sr-RS`, `sr-BA`, `sr-XK`, `sr-Cyrl-*` → sr-Cyrl; `cnr`, `cnr-ME`, `sr-ME`, `sr-Latn-ME` → cnr (`sr-Cyrl-ME`
    → sr-Cyrl: the script asked for wins); `hr`, `hr-HR`, `hr-BA` → hr; `bs`, `bs-Latn`, `bs-BA` → bs; `bs-Cyrl` →
    none; `sq`, `sq-AL`, `sq-XK`, `sq-MK` → sq; `mk`, `mk-MK` → mk; `en`, `en-*` → en; `*` and anything else → none.
    """
    subtags = [part for part in language_range.strip().lower().replace("_", "-").split("-") if part]
    if not subtags or subtags[0] == "*":
        return None
    language, rest = subtags[0], subtags[1:]
    script = next((part for part in rest if len(part) == 4 and part.isalpha()), None)
    region = next((part for part in rest if len(part) in (2, 3) and part != script), None)
    if language == "cnr":
        return "cnr" if script in (None, "latn") else None
    if language == "sr":
        if script == "cyrl":
            return "sr-Cyrl"
        if region == "me" and script in (None, "latn"):
            return "cnr"
        if script == "latn":
            return "sr-Latn"
        return SERBIAN_DEFAULT if script is None else None
    if language in ("sq", "mk", "hr", "bs", "en"):
        wanted = LOCALES[language].script.lower()
        return language if script in (None, wanted) else None
    return None


def parse_accept_language(header: str | None) -> list[str]:
    """The header's language ranges, most wanted first (ties keep their order); ranges with q=0 are left out."""
    ranked = []
    for position, item in enumerate((header or "").split(",")):
        language, _, parameters = item.partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if language.strip() and quality > 0:
            ranked.append((-quality, position, language.strip()))
    return [language for _, _, language in sorted(ranked)]


@functools.lru_cache(maxsize=512)
def match(header: str | None) -> str | None:
    """The first locale of the academy that the browser's Accept-Language asks for, in its order of preference."""
    for language_range in parse_accept_language(header):
        tag = tag_for_range(language_range)
        if tag is not None:
            return tag
    return None


def tag_of(babel_locale) -> str:
    """The tag of a Babel locale of the academy's (Flask-Babel's get_locale(), in a request or a forced one)."""
    return _BY_BABEL.get(str(babel_locale), DEFAULT)


def country_default(country_code: str | None) -> str | None:
    return COUNTRY_DEFAULTS.get(country_code or "")


def choose(*, saved: str | None, remembered: str | None, accept_language: str | None, country: str | None) -> str:
    """The locale of a request: the account's choice, the visitor's remembered choice, the browser's languages, the
    institution's country, English."""
    for tag in (saved, remembered):
        locale = get(tag)
        if locale is not None:
            return locale.tag
    return match(accept_language) or country_default(country) or DEFAULT
