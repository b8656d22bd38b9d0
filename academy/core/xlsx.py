"""Large tables as an XLSX workbook, written as the XML of the Office Open format, a row at a time.

The completion report of 5,000 learners is 150,000 cells. openpyxl's write-only mode spent about 10 µs on each (5 µs
with lxml) and XlsxWriter 6 µs, more than the whole report may take; each cell here is one formatted string. Only what
the reports need: text (always as text: no formula, number or link is ever guessed from it), numbers, dates, a bold
heading style and column widths, one sheet after another. tests/core/test_xlsx.py reads the files back with openpyxl.
"""

import io
import re
import zipfile
from datetime import date, datetime
from xml.sax.saxutils import escape, quoteattr

from academy.core.text import clean_line, clean_text

EPOCH = datetime(1899, 12, 30)  # day 0 of Excel's 1900 date system (with its leap-year quirk, as every reader does)
DATE, MOMENT, BOLD = 1, 2, 3  # the cell styles of styles.xml below
NOT_XML = re.compile("[\ufffe\uffff]")  # characters XML 1.0 refuses that clean_text keeps
COLUMNS = [chr(65 + n) for n in range(26)] + [chr(65 + n // 26 - 1) + chr(65 + n % 26) for n in range(26, 702)]

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    "{sheets}</Types>"
)
SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" '
    'Target="docProps/core.xml"/></Relationships>'
)
CORE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/">'
    "<dc:title>{title}</dc:title><dc:creator>{author}</dc:creator></cp:coreProperties>"
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{sheets}</sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{sheets}'
    '<Relationship Id="rIdStyles" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
SHEET_REL = (
    '<Relationship Id="rId{n}" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet{n}.xml"/>'
)
STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
SHEET_START = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{cols}<sheetData>'
)
SHEET_END = "</sheetData></worksheet>"


def sheet_name(title: str, taken: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = re.sub(r"[\[\]:*?/\\]", " ", clean_line(str(title))).strip().strip("'")[:31] or "Sheet"
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def _text(value: str) -> str:
    if not value.isprintable():  # every character XML refuses is unprintable: the common case skips both
        value = NOT_XML.sub("", clean_text(value))
    return escape(value)


def _cell(ref: str, value, style: int = 0) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        bold = f' s="{style}"' if style else ""
        return f'<c r="{ref}" t="inlineStr"{bold}><is><t xml:space="preserve">{_text(value)}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, datetime):
        return f'<c r="{ref}" s="{MOMENT}"><v>{(value - EPOCH).total_seconds() / 86400!r}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}" s="{DATE}"><v>{(value - EPOCH.date()).days}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    return _cell(ref, str(value), style)


class Sheet:
    """Rows appended top to bottom."""

    def __init__(self, name: str, widths):
        self.name = name
        cols = "".join(
            f'<col min="{n}" max="{n}" width="{width}" customWidth="1"/>' for n, width in enumerate(widths, 1)
        )
        self._parts = [SHEET_START.format(cols=f"<cols>{cols}</cols>" if cols else "")]
        self._row = 0

    def blank(self) -> None:
        self._row += 1

    def heading(self, values) -> None:
        self._row += 1
        cells = "".join(
            _cell(f"{column}{self._row}", str(value), BOLD) for column, value in zip(COLUMNS, values, strict=False)
        )
        self._parts.append(f'<row r="{self._row}">{cells}</row>')

    def rows(self, lines) -> None:
        parts, number = self._parts, self._row
        for line in lines:
            number += 1
            text = str(number)
            parts.append(
                f'<row r="{text}">'
                + "".join([_cell(column + text, value) for column, value in zip(COLUMNS, line, strict=False)])
                + "</row>"
            )
        self._row = number

    def xml(self) -> str:
        return "".join(self._parts) + SHEET_END


class Workbook:
    def __init__(self, title: str = "", author: str = ""):
        self.title, self.author = title, author
        self._sheets: list[Sheet] = []
        self._names: set[str] = set()

    def sheet(self, title: str, widths=()) -> Sheet:
        sheet = Sheet(sheet_name(title, self._names), widths)
        self._sheets.append(sheet)
        return sheet

    def save(self) -> bytes:
        out = io.BytesIO()
        numbers = range(1, len(self._sheets) + 1)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as package:
            package.writestr(
                "[Content_Types].xml", CONTENT_TYPES.format(sheets="".join(SHEET_TYPE.format(n=n) for n in numbers))
            )
            package.writestr("_rels/.rels", ROOT_RELS)
            package.writestr("docProps/core.xml", CORE.format(title=escape(self.title), author=escape(self.author)))
            package.writestr(
                "xl/workbook.xml",
                WORKBOOK.format(
                    sheets="".join(
                        f'<sheet name={quoteattr(sheet.name)} sheetId="{n}" r:id="rId{n}"/>'
                        for n, sheet in zip(numbers, self._sheets, strict=True)
                    )
                ),
            )
            package.writestr(
                "xl/_rels/workbook.xml.rels",
                WORKBOOK_RELS.format(sheets="".join(SHEET_REL.format(n=n) for n in numbers)),
            )
            package.writestr("xl/styles.xml", STYLES)
            for n, sheet in zip(numbers, self._sheets, strict=True):
                package.writestr(f"xl/worksheets/sheet{n}.xml", sheet.xml())
        return out.getvalue()
