"""Long tables as PDF: thousands of rows in about a second, in an embedded DejaVu Sans.

WeasyPrint lays out HTML and CSS in full, which suits a certificate or a report of a few pages; a table of 5,000 people
took it more than a minute. Here fpdf2 writes each line of text at a computed position, a table's header repeats on
every page, and a row costs a few text operations. DejaVu Sans Condensed (static/fonts, subset into each file)
covers Latin with every diacritic of the region, Albanian, Serbian and Macedonian Cyrillic, and Greek.
"""

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, cast

FONT_DIR = Path(__file__).resolve().parent.parent / "static" / "fonts"
FAMILY = "DejaVuSansCondensed"
MARGIN = 28.0  # points: about 10 mm
PAD = 2.5  # inside a table cell
BODY, SMALL, HEADING, TITLE = 8.0, 6.5, 11.5, 15.0
BLACK, MUTED, RULE, STRONG_RULE = (0, 0, 0), (95, 95, 95), (205, 205, 205), (90, 90, 90)
PROGRESS_EVERY = 250  # rows between two progress reports


class _Glyphs(dict):
    """Character code → the character standing for its glyph in the font's subset (None: no glyph, left out)."""

    def __init__(self, subset):
        super().__init__()
        self.subset = subset

    def __missing__(self, code: int):
        mapped = self.subset.pick(code)  # a character's first use adds its glyph to the subset, as fpdf2 does
        self[code] = None if mapped is None else chr(mapped)
        return self[code]


class _SubsetWithGlyphs(Protocol):
    """fpdf2's subset map of a font, once _encode_whole_lines has given it its translation table."""

    glyphs: _Glyphs


@functools.cache
def _whole_line_font():
    from fpdf.fonts import TTFFont

    class WholeLineFont(TTFFont):
        """fpdf2's TrueType font, encoding a line of text with one str.translate instead of a loop over its characters.

        That loop was a third of the time of a long report. The output is the same: tests/core/test_tabular_pdf.py
        compares the two on every script the PDFs print."""

        __slots__ = ()

        def encode_text(self, text: str) -> str:
            return f"({self.escape_text(text.translate(cast(_SubsetWithGlyphs, self.subset).glyphs))}) Tj"

    return WholeLineFont


def _encode_whole_lines(font) -> None:
    from fpdf.fonts import TTFFont

    if type(font) is TTFFont and not (font.is_symbol or font.color_font):
        cast(_SubsetWithGlyphs, font.subset).glyphs = _Glyphs(font.subset)
        font.__class__ = _whole_line_font()


class Muted(str):
    """A line of a cell printed in grey, such as an e-mail address under a name."""


@dataclass(frozen=True)
class Column:
    title: str
    width: float  # share of the page's width between the margins; a table's shares add up to 1
    align: str = "L"  # "R" for numbers


Cell = str | int | float | None | Sequence[str]


class TabularPdf:
    """An A4 landscape document of headings, paragraphs, label-value lists and tables, written top to bottom."""

    def __init__(
        self, *, title: str, author: str, running_head: str, language: str = "en", created: datetime | None = None
    ):
        from fpdf import FPDF  # needed only when a PDF is made

        class Document(FPDF):
            def header(inner):
                self._small_line(running_head, MARGIN * 0.6)

            def footer(inner):
                self._small_line(f"{inner.page_no()} / {{nb}}", inner.h - MARGIN * 0.45, align="R")

        self.pdf = pdf = Document(orientation="L", unit="pt", format="A4")
        pdf.set_auto_page_break(False)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        for style, name in (("", "DejaVuSansCondensed.ttf"), ("B", "DejaVuSansCondensed-Bold.ttf")):
            pdf.add_font(FAMILY, style, FONT_DIR / name)
            _encode_whole_lines(pdf.fonts[FAMILY.lower() + style])
        pdf.set_title(title)
        pdf.set_author(author)
        pdf.set_lang(language)
        pdf.set_creator(author)
        pdf.set_creation_date((created or datetime.now(UTC)).replace(tzinfo=UTC))
        self.width = pdf.w - 2 * MARGIN
        self.bottom = pdf.h - MARGIN
        self._style = ("", BODY)
        self._widths: dict[str, dict[int, float]] = {}
        self._rule_color = None
        pdf.add_page()
        self.y = MARGIN
        self._font("", BODY)

    # --- text primitives --------------------------------------------------------------------------

    def _font(self, style: str, size: float) -> None:
        if self._style != (style, size):
            self.pdf.set_font(FAMILY, style, size)
            self._style = (style, size)

    def text_width(self, text: str, style: str = "", size: float = BODY) -> float:
        """The width of a line of text in points."""
        widths = self._widths.get(style)
        if widths is None:
            # The family comes from TrueType files (__init__), whose widths are by character code, not by character.
            font_widths = cast(dict[int, float], self.pdf.fonts[FAMILY.lower() + style.upper()].cw)
            widths = self._widths[style] = font_widths
        return sum(map(widths.__getitem__, map(ord, text))) * size / 1000

    def wrap(self, text: str, width: float, style: str = "", size: float = BODY) -> list[str]:
        """The text broken into lines no wider than `width`: at spaces, or inside a word longer than a line."""
        if self.text_width(text, style, size) <= width:
            return [text]
        space = self.text_width(" ", style, size)
        lines, line, used = [], "", 0.0
        for word in text.split(" "):
            needed = self.text_width(word, style, size)
            if line and used + space + needed <= width:
                line, used = f"{line} {word}", used + space + needed
                continue
            if line:
                lines.append(line)
            line, used = "", 0.0
            if needed <= width:
                line, used = word, needed
                continue
            for char in word:  # a word longer than a line: broken where the line is full
                advance = self.text_width(char, style, size)
                if line and used + advance > width:
                    lines.append(line)
                    line, used = "", 0.0
                line, used = line + char, used + advance
        if line:
            lines.append(line)
        return lines or [""]

    def _small_line(self, text: str, y: float, align: str = "L") -> None:
        previous = self._style
        self._font("", SMALL)
        self.pdf.set_text_color(*MUTED)
        if align == "L":
            self.pdf.text(MARGIN, y, text)
        else:  # a cell, not text(): fpdf2 puts the page count in place of {nb} only in cells
            self.pdf.set_xy(MARGIN, y - SMALL)
            self.pdf.cell(self.width, SMALL * 1.2, text, align="R")
        self.pdf.set_text_color(*BLACK)
        self._style = ("?", 0)  # fpdf2 restores no font after a header: set it again before the next line
        self._font(*previous)

    def _new_page(self) -> None:
        self.pdf.add_page()
        self.y = MARGIN
        self._rule_color = None  # each page starts with fpdf2's own colours

    def _room(self, height: float) -> None:
        if self.y + height > self.bottom:
            self._new_page()

    def _lines(
        self,
        lines: Sequence[str],
        *,
        style: str = "",
        size: float = BODY,
        x: float = MARGIN,
        width: float | None = None,
        gap: float = 0.0,
    ) -> None:
        height = size * 1.3
        for text in lines:
            for line in self.wrap(text, width or self.width, style, size):
                self._room(height)
                self._font(style, size)
                self.pdf.text(x, self.y + size, line)
                self.y += height
        self.y += gap

    # --- blocks ---------------------------------------------------------------------------------------

    def title(self, text: str) -> None:
        self._lines([text], style="B", size=TITLE, gap=4)

    def heading(self, text: str) -> None:
        self._room(HEADING * 1.3 + 4 + BODY * 4)  # never a heading alone at the foot of a page
        self.y += 6
        self._lines([text], style="B", size=HEADING, gap=2)

    def paragraph(self, text: str, muted: bool = False) -> None:
        if muted:
            self.pdf.set_text_color(*MUTED)
        self._lines([text], gap=3)
        self.pdf.set_text_color(*BLACK)

    def facts(self, pairs: Iterable[tuple[str, Cell]], label_width: float = 0.22) -> None:
        """Label and value on one line each."""
        columns = (Column("", label_width), Column("", 1 - label_width))
        for label, value in pairs:
            self._row(columns, [label, value], styles=("B", ""), rule=False)
        self.y += 3

    def definitions(self, pairs: Iterable[tuple[str, str]]) -> None:
        for term, text in pairs:
            self._room(BODY * 2.6)
            self._lines([term], style="B")
            self._lines([text], x=MARGIN + 10, width=self.width - 10, gap=2)

    def table(
        self,
        columns: Sequence[Column],
        rows: Iterable[Sequence[Cell]],
        *,
        size: float = BODY,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """The rows under a bold header that is repeated on each new page; long cells wrap, tall rows split."""
        header = [column.title for column in columns]
        self._room(size * 1.3 * 3 + 4 * PAD)
        self._row(columns, header, size=size, styles=("B",) * len(columns), rule_color=STRONG_RULE)
        for count, cells in enumerate(rows, 1):
            self._row(columns, cells, size=size, header=header)
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count)
        self.y += 4

    def _cell_lines(self, cell: Cell, width: float, style: str, size: float) -> list[str]:
        if cell is None:
            return []
        if isinstance(cell, (list, tuple)):
            lines: list[str] = []
            for line in cell:
                wrapped = self.wrap(line, width, style, size)
                lines.extend(Muted(part) for part in wrapped) if isinstance(line, Muted) else lines.extend(wrapped)
            return lines
        return self.wrap(cell if isinstance(cell, str) else str(cell), width, style, size)

    def _row(
        self,
        columns: Sequence[Column],
        cells: Sequence[Cell],
        *,
        size: float = BODY,
        styles: Sequence[str] = (),
        header: Sequence[str] | None = None,
        rule: bool = True,
        rule_color=RULE,
    ) -> None:
        """One row of a table, continued on the next page (under the header again) when it does not fit."""
        line_height = size * 1.3
        widths = [column.width * self.width for column in columns]
        styles = styles or ("",) * len(columns)
        pending = [
            self._cell_lines(cell, width - 2 * PAD, style, size)
            for cell, width, style in zip(cells, widths, styles, strict=False)
        ]
        while True:
            fitting = int((self.bottom - self.y - 2 * PAD) // line_height)
            tallest = max((len(lines) for lines in pending), default=0) or 1
            if fitting < min(tallest, 2):
                self._new_page()
                if header is not None:
                    self._row(columns, header, size=size, styles=("B",) * len(columns), rule_color=STRONG_RULE)
                continue
            shown = min(tallest, fitting)
            self._draw(columns, widths, [lines[:shown] for lines in pending], styles, size)
            self.y += shown * line_height + 2 * PAD
            if rule:
                if self._rule_color != rule_color:
                    self.pdf.set_draw_color(*rule_color)
                    self._rule_color = rule_color
                self.pdf.line(MARGIN, self.y, MARGIN + self.width, self.y)
            pending = [lines[shown:] for lines in pending]
            if not any(pending):
                return

    def _draw(self, columns, widths, lines_per_column, styles, size) -> None:
        x, line_height = MARGIN, size * 1.3
        for column, width, lines, style in zip(columns, widths, lines_per_column, styles, strict=False):
            self._font(style, size)
            for index, line in enumerate(lines):
                if not line:
                    continue
                muted = isinstance(line, Muted)
                if muted:
                    self.pdf.set_text_color(*MUTED)
                left = x + PAD if column.align == "L" else x + width - PAD - self.text_width(line, style, size)
                self.pdf.text(left, self.y + PAD + size + index * line_height, line)
                if muted:
                    self.pdf.set_text_color(*BLACK)
            x += width

    def output(self) -> bytes:
        return bytes(self.pdf.output())  # fpdf2 closes the font files once it has embedded them

    def close(self) -> None:
        """Close the font files of a document that will not be written (fpdf2 keeps them open until output)."""
        for font in self.pdf.fonts.values():
            getattr(font, "close", lambda: None)()

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        if error is not None:
            self.close()
