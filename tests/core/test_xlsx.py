"""The XLSX writer of the reports (academy/core/xlsx.py), read back with openpyxl: types, escaping, sheet names."""
import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from academy.core.xlsx import Workbook, sheet_name

pytestmark = pytest.mark.no_database  # files and pure functions: the same answer on every database


def test_cells_come_back_with_their_types_and_the_headings_bold():
    book = Workbook(title="Report & co", author="Academy")
    sheet = book.sheet("People", (20, 10))
    sheet.heading(["Name", "Score"])
    sheet.rows([["Ana <Šćđ> & \"Ђорђе\"", 90], ["  spaced  ", 7.5], [None, ""], [datetime(2026, 3, 15, 10, 30),
                                                                          date(2026, 1, 2)]])
    sheet.blank()
    sheet.rows([[True, "after a blank row"]])
    loaded = load_workbook(io.BytesIO(book.save()))
    ws = loaded["People"]
    assert [[c.value for c in row] for row in ws.iter_rows()] == [
        ["Name", "Score"], ["Ana <Šćđ> & \"Ђорђе\"", 90], ["  spaced  ", 7.5], [None, None],
        [datetime(2026, 3, 15, 10, 30), datetime(2026, 1, 2)], [None, None], [True, "after a blank row"]]
    assert ws["A1"].font.b and not ws["A2"].font.b
    assert (ws["A5"].number_format, ws["B5"].number_format) == ("yyyy-mm-dd hh:mm", "yyyy-mm-dd")
    assert ws.column_dimensions["A"].width == 20 and loaded.properties.title == "Report & co"


def test_text_is_never_taken_for_a_formula_and_control_characters_are_left_out():
    book = Workbook()
    book.sheet("S").rows([["=HYPERLINK(\"http://evil.example\")", "+1", "a\x00b\x0bc\ufffe", "1e5"]])
    (row,) = load_workbook(io.BytesIO(book.save()))["S"].iter_rows()
    assert [cell.data_type for cell in row] == ["s", "s", "s", "s"]
    assert [cell.value for cell in row] == ["=HYPERLINK(\"http://evil.example\")", "+1", "ab\nc", "1e5"]


def test_sheet_names_are_valid_and_unique():
    taken: set[str] = set()
    names = [sheet_name(title, taken) for title in ("A/B: [x]?", "A B   x", "x" * 40, "x" * 40, "", "'quoted'")]
    assert names == ["A B   x", "A B   x (2)", "x" * 31, "x" * 27 + " (2)", "Sheet", "quoted"]
    book = Workbook()
    for title in ("Léa's & <team>", "Léa's & <team>"):
        book.sheet(title)
    assert load_workbook(io.BytesIO(book.save())).sheetnames == ["Léa's & <team>", "Léa's & <team> (2)"]
