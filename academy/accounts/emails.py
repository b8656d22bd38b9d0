"""One form per e-mail address: the form stored, registered, imported and looked up, so one person has one account."""

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

# Scripts whose letters pass for one another (Cyrillic "а" and Latin "a"); mixing them in one part is a disguise.
LOOKALIKE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC"})
# A capital İ case-folds to "i" plus a combining dot, which a soft-dotted letter already shows: it must not count.
_REDUNDANT_DOT = re.compile("(?<=[ij\u0456\u0458])\u0307")


class EmailAddressError(ValueError):
    """Why an address cannot belong to an account; the message is for the person who typed it."""


def fold_email(address: str) -> str:
    """The address with compatibility characters, case and redundant dots folded away (NFKC, case-folded)."""
    text = unicodedata.normalize("NFKC", address or "").strip().casefold()
    return unicodedata.normalize("NFKC", _REDUNDANT_DOT.sub("", text))


def _scripts(part: str) -> set[str]:
    return {unicodedata.name(char, "").split(" ")[0] for char in part if char.isalpha()} & LOOKALIKE_SCRIPTS


def canonical_email(address: str) -> str:
    """The one stored form of an address; EmailAddressError when it is not valid or mixes look-alike scripts."""
    try:
        checked = validate_email(fold_email(address), check_deliverability=False)
    except EmailNotValidError as error:
        raise EmailAddressError(_("Not a valid e-mail address.")) from error
    if any(len(_scripts(part)) > 1 for part in [checked.local_part, *checked.domain.split(".")]):
        raise EmailAddressError(
            _(
                "This address mixes letters of different alphabets (for example a Cyrillic \u201c\u0430\u201d among "
                "Latin letters), so it could be mistaken for another address. Type it in one alphabet."
            )
        )
    return checked.normalized


def normalise_email(address: str) -> str:
    """The form to look an address up by: its stored form, or the folded text when no account can have it."""
    try:
        return canonical_email(address)
    except EmailAddressError:
        return fold_email(address)


def mail_address(email: str) -> str:
    """The address to send to: its ASCII form (IDNA domain) when it has one, as servers without SMTPUTF8 need."""
    try:
        return validate_email(email, check_deliverability=False).ascii_email or email
    except EmailNotValidError:
        return email
