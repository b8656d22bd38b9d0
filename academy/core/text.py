"""Text people send us: control characters are cleaned out where it arrives and out of every file we write.

A C0 control character in one name (Word writes a vertical tab for a manual line break) made the institution's whole
XLSX report fail, since XML cannot carry it; a NUL anywhere in a query was a 500 on PostgreSQL. DEL and lone surrogates
(only a JSON "\\ud800" escape makes one, and no database stores it as UTF-8) go the same way. Forms clean their fields
(core/forms.py), the bulk import its cells, TextRequest the query string, TextConverter refuses them in a path segment,
and the API's schemas refuse them (api/schemas.py Text).
"""

import re

from flask import Request
from werkzeug.routing import UnicodeConverter
from werkzeug.utils import cached_property

# Control characters other than tab, line feed and carriage return (which are text), DEL and lone surrogates.
NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# Refused in a single line: the above, and tab and line ends too.
NOT_LINE_TEXT = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# Refused even where everything else is taken as typed (a password): no UTF-8 encoder accepts one.
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_OTHER_BREAKS = re.compile(r"[\x0b\x0c]")  # vertical tab and form feed: a line break written another way
_SPACING = re.compile(r"[\t\n\x0b\x0c\r]+")


def clean_text(value):
    """Multi-line text without control characters: tabs and line ends stay, vertical tab and form feed are new lines."""
    if not isinstance(value, str):
        return value
    return NOT_TEXT.sub("", _OTHER_BREAKS.sub("\n", value))


def clean_line(value):
    """One line of text without control characters: each run of tabs and line breaks becomes one space."""
    if not isinstance(value, str):
        return value
    return NOT_TEXT.sub("", _SPACING.sub(" ", value))


class TextRequest(Request):
    """The request, with each value of its query string one line of text; the API's query strings are left alone: its
    schemas refuse control characters (422), as its clients should hear."""

    @cached_property
    def args(self):
        args = Request.args.fget(self)
        if self.path.startswith("/api/"):
            return args
        return self.parameter_storage_class([(key, clean_line(value)) for key, value in args.items(multi=True)])


class TextConverter(UnicodeConverter):
    """The default URL converter, matching no control character: no code, slug or token of ours holds one (404)."""

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, *args, **kwargs)
        self.regex = self.regex.replace("[^/]", r"[^/\x00-\x1f\x7f]", 1)


def moment(value) -> str:
    """A moment as the page's language writes it, day and time (the templates' "moment" filter)."""
    from flask_babel import format_date, format_time

    return f"{format_date(value, 'medium')} {format_time(value, 'short')}"
