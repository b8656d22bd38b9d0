"""The completion report as CSV, XLSX and PDF: three renderings of one CompletionReport, with the same tables."""
import csv
import io
import re
from datetime import date, datetime

from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from academy.core.text import clean_line, clean_text
from academy.institutions.reporting import CompletionReport, CourseSummary, ExerciseRow, PersonRow, people_summaries

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

SUMMARY_COLUMNS = (_l("Course"), _l("Staff counted"), _l("Enrolled"), _l("Complete"), _l("Completed in the period"),
                   _l("Average best quiz score"), _l("Certificates"))
PERSON_COLUMNS = (_l("Name"), _l("E-mail"), _l("Track"), _l("Course"), _l("Enrolled on"), _l("Progress (%)"),
                  _l("Status"), _l("Completed at (UTC)"), _l("Completed in the period"), _l("Best quiz score"),
                  _l("Certificate"), _l("Last activity (UTC)"))
EXERCISE_COLUMNS = (_l("Name"), _l("E-mail"), _l("Date"), _l("Exercise"), _l("Scenario"), _l("Role"),
                    _l("Score (%)"))


def neutralise(value):
    """A text cell without control characters, with a leading apostrophe if a spreadsheet would run it as a formula.

    XML cannot carry a control character: one in a single name made the whole XLSX fail. It goes before the formula
    check, so that "\\x01=HYPERLINK(…)" is neutralised too."""
    if not isinstance(value, str):
        return value
    value = clean_text(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def score_text(value: float | None, empty: str = "") -> str:
    return empty if value is None else f"{value:.1f}"


def moment_text(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if isinstance(value, date) else ("" if value is None else str(value))


def header_rows(report: CompletionReport) -> list[list]:
    return [[_("Institution"), report.institution_name], [_("Country"), report.country],
            [_("From"), report.period.date_from], [_("To"), report.period.date_to],
            [_("Generated at (UTC)"), report.generated_at], [_("Verification code"), report.verification_code]]


def totals_rows(report: CompletionReport) -> list[list]:
    t = report.totals
    return [[_("Staff counted"), t.staff], [_("Staff enrolled in at least one course"), t.staff_enrolled],
            [_("Enrolments"), t.enrolments], [_("Complete"), t.complete],
            [_("Completed in the period"), t.completed_in_period], [_("Certificates"), t.certificates],
            [_("Average best quiz score"), t.average_best_score], [_("Exercises attended"), t.exercises_attended],
            [_("Left the institution"), t.left]]


def summary_cells(row: CourseSummary) -> list:
    return [row.title, row.staff, row.enrolled, row.complete, row.completed_in_period, row.average_best_score,
            row.certificates]


def person_cells(row: PersonRow) -> list:
    return [row.name, row.email, row.track_label, row.course_title,
            row.enrolled_at.date() if row.enrolled_at else None, row.progress_percent, row.status_label,
            row.completed_at, _("yes") if row.completed_in_period else _("no"), row.best_score,
            row.certificate_code, row.last_activity]


def exercise_cells(row: ExerciseRow) -> list:
    return [row.name, row.email, row.date, row.title, row.scenario, row.role, row.score_percent]


def filename(report: CompletionReport, fmt: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", report.institution_name.lower()).strip("-")[:40] or "institution"
    return f"completion-report-{slug}-{report.period.date_from}-{report.period.date_to}.{fmt}"


def render(report: CompletionReport, fmt: str) -> bytes:
    """The report in one of MIMETYPES' formats."""
    return {"csv": report_csv, "xlsx": report_xlsx, "pdf": report_pdf}[fmt](report)


def report_csv(report: CompletionReport) -> bytes:
    """Titled sections separated by blank lines; UTF-8 with a byte-order mark so that Excel reads it right."""
    out = io.StringIO()
    writer = csv.writer(out)

    def rows(title, header, lines):
        writer.writerow([])
        writer.writerow([title])
        if header:
            writer.writerow([str(h) for h in header])
        for line in lines:
            writer.writerow([neutralise(score_text(v) if isinstance(v, float) else moment_text(v)) for v in line])

    writer.writerow([_("Completion report")])
    for line in header_rows(report):
        writer.writerow([neutralise(moment_text(v)) for v in line])
    rows(_("Totals"), None, totals_rows(report))
    rows(_("Definitions"), None, [list(d) for d in report.definitions])
    rows(_("Summary by course"), SUMMARY_COLUMNS, [summary_cells(s) for s in report.summary + [report.total]])
    rows(_("Staff"), PERSON_COLUMNS, [person_cells(p) for p in report.people])
    rows(_("Left the institution"), PERSON_COLUMNS, [person_cells(p) for p in report.left])
    rows(_("Exercises attended"), EXERCISE_COLUMNS, [exercise_cells(e) for e in report.exercises])
    return out.getvalue().encode("utf-8-sig")


def report_xlsx(report: CompletionReport) -> bytes:
    """A summary sheet, one sheet per course, then staff in no course, people who left and exercises."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    names: set[str] = set()
    bold = Font(bold=True)

    def sheet(title, widths):
        ws = book.create_sheet(_sheet_name(title, names))
        for column, width in zip("ABCDEFGHIJKL", widths):
            ws.column_dimensions[column].width = width
        return ws

    def heading(ws, values):
        cells = []
        for value in values:
            cell = WriteOnlyCell(ws, value=neutralise(str(value)))
            cell.font = bold
            cells.append(cell)
        ws.append(cells)

    def write(ws, lines):
        for line in lines:
            ws.append([neutralise(value) for value in line])

    ws = sheet(_("Summary"), (34, 60, 14, 14, 20, 20, 14))
    heading(ws, [_("Completion report")])
    write(ws, header_rows(report))
    for title, lines in ((_("Totals"), totals_rows(report)), (_("Definitions"), report.definitions)):
        ws.append([])
        heading(ws, [title])
        write(ws, lines)
    ws.append([])
    heading(ws, [_("Summary by course")])
    heading(ws, SUMMARY_COLUMNS)
    write(ws, [summary_cells(s) for s in report.summary + [report.total]])
    person_widths = (28, 32, 24, 30, 12, 12, 14, 18, 12, 12, 16, 18)
    by_course: dict[str, list[PersonRow]] = {slug: [] for slug in report.course_slugs}
    for row in report.people:
        by_course.setdefault(row.course_slug, []).append(row)
    for course in report.summary:
        ws = sheet(course.title, person_widths)
        heading(ws, PERSON_COLUMNS)
        write(ws, [person_cells(p) for p in by_course[course.slug]])
    for title, rows in ((_("Not enrolled"), by_course.get("", [])), (_("Left the institution"), report.left)):
        ws = sheet(title, person_widths)
        heading(ws, PERSON_COLUMNS)
        write(ws, [person_cells(p) for p in rows])
    ws = sheet(_("Exercises"), (28, 32, 12, 30, 30, 24, 10))
    heading(ws, EXERCISE_COLUMNS)
    write(ws, [exercise_cells(e) for e in report.exercises])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(title: str, taken: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = re.sub(r"[\[\]:*?/\\]", " ", clean_line(str(title))).strip().strip("'")[:31] or "Sheet"
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def report_pdf(report: CompletionReport) -> bytes:
    """An A4 landscape PDF, built without any network access; WeasyPrint paginates the long tables.

    The PDF lists people one row each (their courses a line each); the per-course rows are in the CSV and XLSX."""
    from weasyprint import HTML  # heavy import, needed only when a PDF is made

    html = render_template("institutions/report_pdf.html", report=report,
                           people=people_summaries(report.people, []), left=people_summaries(report.left, []),
                           score_text=score_text, moment_text=moment_text)
    return HTML(string=html, url_fetcher=_no_fetching).write_pdf()


def _no_fetching(url, *args, **kwargs):
    raise ValueError(f"reports load no external resources ({url})")
