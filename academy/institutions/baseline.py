"""The report's baseline: §4.8 Table 1, "Cybersecurity environment in the Western Balkans", as data.

Copied cell by cell from the report (2016); the regional view shows it beside the academy's own figures.
Labels and symbols are the report's and stay in its words; only the explanations around them are ours.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

SECTION = "§4.8"
YEAR = 2016
CAPTION = "Table 1: Cybersecurity environment in the Western Balkans"
# The report's legend under the table, word for word.
LEGEND = (
    "\u201c+\u201d denotes that (at least) the basics are in place, \u201c-/+\u201d denotes that some early "
    "developments are on the way, while \u201c-\u201d denotes there are no significant developments identified."
)

BASICS, EARLY, NONE = "+", "-/+", "-"
SYMBOLS = (BASICS, EARLY, NONE)
SYMBOL_MEANINGS = {
    BASICS: _l("at least the basics are in place"),
    EARLY: _l("some early developments are on the way"),
    NONE: _l("no significant developments identified"),
}

# (column heading in the report, our country code), in the report's order.
COLUMNS = (("ALB", "AL"), ("BIH", "BA"), ("CRO", "HR"), ("KOS", "XK"), ("MKD", "MK"), ("MNE", "ME"), ("SRB", "RS"))
COUNTRY_CODES = tuple(code for _, code in COLUMNS)
HEADINGS = {code: heading for heading, code in COLUMNS}

# (row label in the report, what it stands for), in the report's order.
INDICATORS = (
    ("CS/IS Law", _l("A law on cybersecurity / information security")),
    ("Cybercrime (in) Law", _l("Cybercrime provisions, wherever they sit in the law")),
    ("CS/IS Strategy", _l("A national cybersecurity / information security strategy")),
    ("n-CERT", _l("A national CERT")),
    ("Substantial PPP", _l("A substantial public-private partnership")),
    ("CB/Education", _l("Capacity building and education")),
)
INDICATOR_LABELS = tuple(label for label, _ in INDICATORS)

_ROWS = {  # indicator: cells in the order of COLUMNS (ALB BIH CRO KOS MKD MNE SRB)
    "CS/IS Law": ("-/+", "-", "+", "-", "-", "+", "+"),
    "Cybercrime (in) Law": ("+", "+", "+", "+", "+", "+", "+"),
    "CS/IS Strategy": ("-/+", "-/+", "+", "+", "-", "+", "-/+"),
    "n-CERT": ("+", "-/+", "+", "+", "+", "+", "+"),
    "Substantial PPP": ("-/+", "-", "-", "-/+", "-", "-/+", "-"),
    "CB/Education": ("-", "-/+", "+", "-", "-", "+", "-"),
}

# TABLE_1[indicator][country code] -> "+", "-/+" or "-"
TABLE_1 = {indicator: dict(zip(COUNTRY_CODES, cells, strict=True)) for indicator, cells in _ROWS.items()}


@dataclass(frozen=True)
class BaselineCell:
    indicator: str
    symbol: str

    @property
    def meaning(self) -> str:
        return str(SYMBOL_MEANINGS[self.symbol])


def baseline_for(country_code: str) -> list[BaselineCell] | None:
    """The country's column of Table 1 in row order, or None for a country the table does not cover."""
    if country_code not in COUNTRY_CODES:
        return None
    return [BaselineCell(label, TABLE_1[label][country_code]) for label in INDICATOR_LABELS]


def rows() -> list[tuple[str, str, list[BaselineCell]]]:
    """Table 1 as the report lays it out: per indicator its label, what it stands for and one cell per country."""
    return [
        (label, str(meaning), [BaselineCell(label, TABLE_1[label][code]) for code in COUNTRY_CODES])
        for label, meaning in INDICATORS
    ]
