"""The completion report as CSV, XLSX and PDF: three renderings of one CompletionReport, with the same tables.

Each renders thousands of rows, so what is the same for every row (a translated label, a course title made safe for a
spreadsheet) is worked out once per file, in `Cells`, not once per row. The PDF is in report_pdf.py.
"""

import csv
import io
import re
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from academy.core.text import clean_text
from academy.core.xlsx import Workbook
from academy.institutions.reporting import STATUS_LABELS, CompletionReport, CourseSummary, ExerciseRow, PersonRow

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

SUMMARY_COLUMNS = (
    _l("Course"),
    _l("Staff counted"),
    _l("Enrolled"),
    _l("Complete"),
    _l("Completed in the period"),
    _l("Average best quiz score"),
    _l("Certificates"),
)
PERSON_COLUMNS = (
    _l("Name"),
    _l("E-mail"),
    _l("Track"),
    _l("Course"),
    _l("Enrolled on"),
    _l("Progress (%)"),
    _l("Status"),
    _l("Completed at (UTC)"),
    _l("Completed in the period"),
    _l("Best quiz score"),
    _l("Certificate"),
    _l("Last activity (UTC)"),
)
EXERCISE_COLUMNS = (_l("Name"), _l("E-mail"), _l("Date"), _l("Exercise"), _l("Scenario"), _l("Role"), _l("Score (%)"))


def neutralise(value):
    """A text cell without control characters, with a leading apostrophe if a spreadsheet would run it as a formula.

    XML cannot carry a control character: one in a single name made the whole XLSX fail. It goes before the formula
    check, so that "\\x01=HYPERLINK(…)" is neutralised too. Every control character is unprintable, so the common
    printable text skips the cleaning."""
    if not isinstance(value, str):
        return value
    if not value.isprintable():
        value = clean_text(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def score_text(value: float | None, empty: str = "") -> str:
    return empty if value is None else f"{value:.1f}"


def moment_text(value) -> str:
    if isinstance(value, datetime):
        return value.isoformat(" ", "minutes")  # 2026-03-15 10:00
    return value.isoformat() if isinstance(value, date) else ("" if value is None else str(value))


class Cells:
    """The rows of the report's tables as cell values, with the labels translated once for the whole file."""

    def __init__(self):
        self.yes, self.no = _("yes"), _("no")
        self.statuses = {status: str(label) for status, label in STATUS_LABELS.items()}
        self._safe: dict[str, str] = {}

    def safe(self, text: str) -> str:
        """neutralise() of a value that repeats (a course title, a track): worked out once."""
        if text not in self._safe:
            self._safe[text] = neutralise(text)
        return self._safe[text]

    def person(self, row: PersonRow) -> list:
        return [
            neutralise(row.name),
            neutralise(row.email),
            self.safe(row.track_label),
            self.safe(row.course_title),
            row.enrolled_at.date() if row.enrolled_at else None,
            row.progress_percent,
            self.statuses[row.status],
            row.completed_at,
            self.yes if row.completed_in_period else self.no,
            row.best_score,
            neutralise(row.certificate_code),
            row.last_activity,
        ]

    def person_text(self, row: PersonRow) -> list:
        """The same cells as text, as the CSV writes them."""
        return [
            neutralise(row.name),
            neutralise(row.email),
            self.safe(row.track_label),
            self.safe(row.course_title),
            row.enrolled_at.date().isoformat() if row.enrolled_at else "",
            "" if row.progress_percent is None else row.progress_percent,
            self.statuses[row.status],
            row.completed_at.isoformat(" ", "minutes") if row.completed_at else "",
            self.yes if row.completed_in_period else self.no,
            "" if row.best_score is None else row.best_score,
            neutralise(row.certificate_code),
            row.last_activity.isoformat(" ", "minutes") if row.last_activity else "",
        ]


def header_rows(report: CompletionReport) -> list[list]:
    return [
        [_("Institution"), report.institution_name],
        [_("Country"), report.country],
        [_("From"), report.period.date_from],
        [_("To"), report.period.date_to],
        [_("Generated at (UTC)"), report.generated_at],
        [_("Verification code"), report.verification_code],
    ]


def totals_rows(report: CompletionReport) -> list[list]:
    t = report.totals
    return [
        [_("Staff counted"), t.staff],
        [_("Staff enrolled in at least one course"), t.staff_enrolled],
        [_("Enrolments"), t.enrolments],
        [_("Complete"), t.complete],
        [_("Completed in the period"), t.completed_in_period],
        [_("Certificates"), t.certificates],
        [_("Average best quiz score"), t.average_best_score],
        [_("Exercises attended"), t.exercises_attended],
        [_("Left the institution"), t.left],
    ]


def summary_cells(row: CourseSummary) -> list:
    return [
        row.title,
        row.staff,
        row.enrolled,
        row.complete,
        row.completed_in_period,
        row.average_best_score,
        row.certificates,
    ]


def exercise_cells(row: ExerciseRow) -> list:
    return [row.name, row.email, row.date, row.title, row.scenario, row.role, row.score_percent]


def filename(report: CompletionReport, fmt: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", report.institution_name.lower()).strip("-")[:40] or "institution"
    return f"completion-report-{slug}-{report.period.date_from}-{report.period.date_to}.{fmt}"


def render(report: CompletionReport, fmt: str, progress=None) -> bytes:
    """The report in one of MIMETYPES' formats; `progress(share)` hears how far a long PDF has got (0 to 1)."""
    if fmt == "pdf":
        from academy.institutions.report_pdf import report_pdf

        return report_pdf(report, progress)
    return {"csv": report_csv, "xlsx": report_xlsx}[fmt](report)


def report_csv(report: CompletionReport) -> bytes:
    """Titled sections separated by blank lines; UTF-8 with a byte-order mark so that Excel reads it right."""
    out = io.StringIO()
    writer = csv.writer(out)
    cells = Cells()

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
    for title, people in ((_("Staff"), report.people), (_("Left the institution"), report.left)):
        writer.writerows([[], [title], [str(h) for h in PERSON_COLUMNS]])
        writer.writerows(map(cells.person_text, people))
    rows(_("Exercises attended"), EXERCISE_COLUMNS, [exercise_cells(e) for e in report.exercises])
    return out.getvalue().encode("utf-8-sig")


def report_xlsx(report: CompletionReport) -> bytes:
    """A summary sheet, one sheet per course, then staff in no course, people who left and exercises."""
    book = Workbook(title=_("Completion report"), author=_("Western Balkans Cybersecurity Academy"))
    cells = Cells()
    ws = book.sheet(_("Summary"), (34, 60, 14, 14, 20, 20, 14))
    ws.heading([_("Completion report")])
    ws.rows([[label, neutralise(value)] for label, value in header_rows(report)])
    for title, lines in ((_("Totals"), totals_rows(report)), (_("Definitions"), report.definitions)):
        ws.blank()
        ws.heading([title])
        ws.rows([[neutralise(value) for value in line] for line in lines])
    ws.blank()
    ws.heading([_("Summary by course")])
    ws.heading([str(h) for h in SUMMARY_COLUMNS])
    ws.rows([[neutralise(value) for value in summary_cells(s)] for s in report.summary + [report.total]])
    person_widths = (28, 32, 24, 30, 12, 12, 14, 18, 12, 12, 16, 18)
    by_course: dict[str, list[PersonRow]] = {slug: [] for slug in report.course_slugs}
    for row in report.people:
        by_course.setdefault(row.course_slug, []).append(row)
    sheets = [(course.title, by_course[course.slug]) for course in report.summary]
    sheets += [(_("Not enrolled"), by_course.get("", [])), (_("Left the institution"), report.left)]
    for title, rows in sheets:
        ws = book.sheet(title, person_widths)
        ws.heading([str(h) for h in PERSON_COLUMNS])
        ws.rows(map(cells.person, rows))
    ws = book.sheet(_("Exercises"), (28, 32, 12, 30, 30, 24, 10))
    ws.heading([str(h) for h in EXERCISE_COLUMNS])
    ws.rows([[neutralise(value) for value in exercise_cells(e)] for e in report.exercises])
    return book.save()
