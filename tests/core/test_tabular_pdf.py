"""Long tables as PDF (academy/core/tabular_pdf.py): the embedded font's encoding, wrapping, and tables split over
pages with their header repeated."""
import io

import pytest
from fpdf.fonts import TTFFont
from pypdf import PdfReader

from academy.core.tabular_pdf import Column, Muted, TabularPdf

pytestmark = pytest.mark.no_database  # files and pure functions: the same answer on every database

SCRIPTS = "Ëndërr Çelik · Ђорђе Ѓорѓиевски ќ ѕ љ њ џ · Željka Šćepanović-Đurić · Ελληνικά · (brackets) \\ back"


def text_of(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def test_the_whole_line_encoding_is_fpdf2s_own():
    doc = TabularPdf(title="t", author="a", running_head="r")
    for style in ("", "B"):
        font = doc.pdf.fonts["dejavusanscondensed" + style]
        assert type(font).__name__ == "WholeLineFont"
        for text in (SCRIPTS, "plain", "", "emoji 😀 and 漢字 have no glyph"):
            assert font.encode_text(text) == TTFFont.encode_text(font, text), text
    doc.close()


def test_lines_wrap_at_spaces_and_inside_a_word_longer_than_a_line():
    doc = TabularPdf(title="t", author="a", running_head="r")
    width = doc.text_width("word " * 5)
    lines = doc.wrap("word " * 12 + "x" * 200, width)
    assert all(doc.text_width(line) <= width for line in lines)
    assert " ".join(lines).replace(" ", "") == ("word" * 12 + "x" * 200)
    assert doc.wrap("short", width) == ["short"]
    doc.close()


def test_a_long_table_repeats_its_header_on_each_page_and_keeps_every_row():
    doc = TabularPdf(title="Completion report", author="Academy", running_head="Running head")
    doc.title(SCRIPTS)
    doc.facts([("Staff counted", 7)])
    rows = [[[f"Person {n:04d}", Muted(f"p{n}@example.org")], "CERT", [f"Course {n % 3}: 50 %"] * (1 + n % 3), n]
            for n in range(400)]
    doc.table([Column("Name", 0.3), Column("Track", 0.2), Column("Courses", 0.4), Column("Number", 0.1, "R")], rows)
    pages = text_of(doc.output())
    assert len(pages) > 5 and SCRIPTS in pages[0] and "Staff counted 7" in pages[0]
    assert all("Name Track Courses Number" in page for page in pages)
    assert all(page.splitlines()[0] == "Running head" for page in pages)
    assert pages[-1].rstrip().endswith(f"{len(pages)} / {len(pages)}")
    joined = "\n".join(pages)
    assert all(f"Person {n:04d}" in joined and f"p{n}@example.org" in joined for n in range(400))


def test_a_row_taller_than_a_page_goes_on_over_the_next():
    doc = TabularPdf(title="t", author="a", running_head="r")
    doc.table([Column("Person", 0.3), Column("Courses", 0.7)], [["Tall", [f"Course {n}" for n in range(120)]]])
    pages = text_of(doc.output())
    assert len(pages) >= 2 and all("Person Courses" in page for page in pages)
    assert all(f"Course {n}\n" in "\n".join(pages) + "\n" for n in range(120))
