"""The completion report: its numbers, its three formats agreeing with the dashboard, its definitions, formula
injection, bad periods, the audit trail and a query count that does not grow with the number of people."""
import csv
import io
import re
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import event

from academy.accounts.models import Role
from academy.core.models import AuditEvent
from academy.extensions import db
from academy.institutions import reporting
from academy.institutions.exports import neutralise
from academy.learning.models import Certificate, Enrolment, LessonProgress, QuizAttempt
from academy.organisations.models import Institution
from tests import factories
from tests.institutions.routes_dashboard import EXPECTED_COURSE, PERIOD, crafted

FORMATS = ("csv", "xlsx", "pdf")
DEFINITION = "every module quiz is passed"
SUMMARY_FIELDS = ("staff", "enrolled", "complete", "completed_in_period", "average_best_score", "certificates")


def report_url(institution, fmt=None, period=PERIOD, **params):
    query = {"from": period[0].isoformat(), "to": period[1].isoformat(), **params}
    if fmt:
        query["format"] = fmt
    return f"/institutions/{institution.id}/reports/completion?" + "&".join(f"{k}={v}" for k, v in query.items())


def request_report(client, institution, fmt, period=PERIOD, **params):
    """Post the report form: the CSV answers at once, a PDF or XLSX with a 303 to its job's page."""
    data = {"from": period[0].isoformat(), "to": period[1].isoformat(), "format": fmt, **params}
    return client.post(f"/institutions/{institution.id}/reports/completion", data=data)


def download(client, institution, fmt, period=PERIOD, **params):
    """The file as a manager gets it: the CSV at once; a PDF or XLSX from its job's page (jobs run at once in tests)."""
    response = request_report(client, institution, fmt, period, **params)
    if fmt == "csv" or response.status_code != 303:
        return response
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return client.get(re.search(r'data-testid="job-file" href="([^"]+)"', page).group(1))


def dashboard_url(institution, period=PERIOD, **params):
    query = {"from": period[0].isoformat(), "to": period[1].isoformat(), **params}
    return f"/institutions/{institution.id}/dashboard?" + "&".join(f"{k}={v}" for k, v in query.items())


def text(value) -> str:
    """A cell as the tests compare it: numbers as the report prints them."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value).strip()


def csv_sections(data: bytes) -> dict[str, list[list[str]]]:
    """Each titled block of the CSV (blocks are separated by blank lines) by its title."""
    sections, current = {}, None
    for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))):
        if not row:
            current = None
        elif current is None:
            current = row[0]
            sections[current] = []
        else:
            sections[current].append(row)
    return sections


def xlsx_block(sheet, title: str) -> list[list[str]]:
    """The rows under a title on a sheet, up to the next empty row."""
    rows = [[text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    start = next(i for i, row in enumerate(rows) if row and row[0] == title) + 1
    block = []
    for row in rows[start:]:
        if not any(row):
            break
        block.append(row)
    return block


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def dashboard_summary(page: str, slug: str) -> list[str]:
    row = re.search(rf'<tr data-testid="summary-{slug}"[^>]*>(.*?)</tr>', page, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]


def figures(summary_row: list[str]) -> list[str]:
    """The six numbers of a summary row (the title dropped; no score printed as an empty cell)."""
    return ["" if cell == "—" else cell for cell in summary_row[1:7]]


@pytest.fixture
def crafted_world(world, course):
    world.course = course
    world.people = crafted(world, course)
    return world


def test_report_numbers_for_a_crafted_institution(app, crafted_world):
    w = crafted_world
    report = reporting.completion_report(w.institution_a, *PERIOD)
    (summary,) = report.summary
    assert {name: getattr(summary, name) for name in SUMMARY_FIELDS} == EXPECTED_COURSE
    assert report.totals.staff == 7 and report.totals.staff_enrolled == 4 and report.totals.enrolments == 4
    assert report.totals.completed_in_period == 1 and report.totals.left == 1
    rows = {row.email: row for row in report.people if row.course_slug}
    assert {email: (r.progress_percent, r.status, r.best_score) for email, r in rows.items()} == {
        "alice@a.org": (100, "complete", 90), "bob@a.org": (33, "in_progress", 50),
        "carol@a.org": (0, "not_started", None), "dave@a.org": (100, "complete", 80)}
    assert rows["alice@a.org"].completed_in_period and not rows["dave@a.org"].completed_in_period
    assert rows["alice@a.org"].certificate_code and not rows["dave@a.org"].certificate_code  # Dave's was revoked
    assert rows["bob@a.org"].last_activity == datetime(2026, 4, 2, 10)
    not_enrolled = {row.email for row in report.people if not row.course_slug}
    assert not_enrolled == {"learner@a.org", "trainer@a.org", "manager@a.org"}
    assert "bert@b.org" not in {row.email for row in report.people + report.left}


def test_people_who_left_are_listed_apart_not_dropped(app, client, auth, crafted_world):
    report = reporting.completion_report(crafted_world.institution_a, *PERIOD)
    assert [(row.email, row.left, row.completed_in_period) for row in report.left] == [("erin@a.org", True, True)]
    assert "erin@a.org" not in {row.email for row in report.people}
    auth.as_user(crafted_world.manager_a)
    sections = csv_sections(download(client, crafted_world.institution_a, "csv").data)
    assert [row[1] for row in sections["Left the institution"][1:]] == ["erin@a.org"]
    assert "erin@a.org" not in {row[1] for row in sections["Staff"][1:]}
    book = load_workbook(io.BytesIO(download(client, crafted_world.institution_a, "xlsx").data))
    assert [row[1] for row in book["Left the institution"].iter_rows(min_row=2, values_only=True)] == ["erin@a.org"]
    pdf = " ".join(pdf_text(download(client, crafted_world.institution_a, "pdf").data).split())
    assert "Left the institution" in pdf and "Erin Departed" in pdf
    page = client.get(dashboard_url(crafted_world.institution_a)).get_data(as_text=True)
    left = re.search(r'data-testid="left".*?</table>', page, re.S).group(0)
    assert "erin@a.org" in left and "erin@a.org" not in re.search(r'data-testid="staff".*?</table>', page, re.S)[0]


def test_dashboard_and_every_format_give_the_same_numbers(app, client, auth, crafted_world):
    w = crafted_world
    auth.as_user(w.manager_a)
    page = client.get(dashboard_url(w.institution_a)).get_data(as_text=True)
    expected = {slug: figures(dashboard_summary(page, slug)) for slug in ("intro-course", "all")}
    assert expected["intro-course"] == ["7", "4", "2", "1", "73.3", "1"]

    sections = csv_sections(download(client, w.institution_a, "csv").data)
    by_title = {row[0]: figures(row) for row in sections["Summary by course"][1:]}
    assert by_title == {"An introduction": expected["intro-course"], "All courses": expected["all"]}

    book = load_workbook(io.BytesIO(download(client, w.institution_a, "xlsx").data))
    by_title = {row[0]: figures(row) for row in xlsx_block(book["Summary"], "Summary by course")[1:]}
    assert by_title == {"An introduction": expected["intro-course"], "All courses": expected["all"]}
    course_sheet = [row for row in book["An introduction"].iter_rows(min_row=2, values_only=True)]
    assert sorted((row[1], row[9]) for row in course_sheet) == [
        ("alice@a.org", 90), ("bob@a.org", 50), ("carol@a.org", None), ("dave@a.org", 80)]

    pdf = pdf_text(download(client, w.institution_a, "pdf").data)
    for title, slug in (("An introduction", "intro-course"), ("All courses", "all")):
        numbers = re.search(rf"^{title} (\d+) (\d+) (\d+) (\d+) (\S+) (\d+)$", pdf, re.M).groups()
        assert figures([title, *numbers]) == expected[slug]

    bob = next(row for row in sections["Staff"] if row[1] == "bob@a.org")
    assert (bob[5], bob[6], bob[9]) == ("33", "in progress", "50")
    assert "An introduction: 33 % · in progress · best quiz score 50" in " ".join(pdf.split())
    assert "33 %" in re.search(r'data-testid="person-\d+">(?:(?!</tr>).)*bob@a.org.*?</tr>', page, re.S).group(0)

    totals = {row[0]: row[1] for row in sections["Totals"]}
    for key, label in (("staff", "Staff counted"), ("completed-in-period", "Completed in the period"),
                       ("certificates", "Certificates"), ("left", "Left the institution")):
        shown = re.search(rf'data-testid="figure-{key}">([^<]*)<', page).group(1).strip()
        assert shown == totals[label]
        assert re.search(rf"^{label} {shown}$", pdf, re.M), label


def test_definitions_are_written_into_every_format(client, auth, crafted_world):
    auth.as_user(crafted_world.manager_a)
    institution = crafted_world.institution_a
    assert DEFINITION in download(client, institution, "csv").data.decode("utf-8-sig")
    book = load_workbook(io.BytesIO(download(client, institution, "xlsx").data))
    definitions = " ".join(row[1] for row in xlsx_block(book["Summary"], "Definitions"))
    assert DEFINITION in definitions and "the best one counts" in definitions
    assert DEFINITION in " ".join(pdf_text(download(client, institution, "pdf").data).split())
    assert DEFINITION in client.get(dashboard_url(institution)).get_data(as_text=True)


@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil.example","Pay")', "+1+2", "-3+4", "@SUM(A1)",
                                  "\tTabbed", "\rReturned"])
def test_formula_injection_is_neutralised_in_csv_and_xlsx(client, auth, world, course, name):
    user = factories.make_user("formula@a.org", institution=world.institution_a)
    user.name = name  # set directly: the sign-up forms strip the tab and carriage return
    db.session.commit()
    auth.as_user(world.manager_a)
    staff = csv_sections(download(client, world.institution_a, "csv").data)["Staff"]
    assert "'" + name in [row[0] for row in staff]
    assert name not in [row[0] for row in staff]
    book = load_workbook(io.BytesIO(download(client, world.institution_a, "xlsx").data))
    cells = [row[0] for row in book["Not enrolled"].iter_rows(min_row=2)]
    (cell,) = [c for c in cells if "formula" in str(c.offset(column=1).value)]
    # XML reads a carriage return back as a line feed; what matters is the apostrophe in front.
    assert cell.value in ("'" + name, "'" + name.replace("\r", "\n")) and cell.data_type == "s"


def test_neutralise_leaves_ordinary_values_alone():
    assert neutralise("Ana") == "Ana" and neutralise(-5) == -5 and neutralise(None) is None
    assert neutralise("=1+1") == "'=1+1"


@pytest.mark.parametrize("fmt", FORMATS)
def test_end_before_start_gives_a_clear_message_and_no_file(client, auth, world, course, fmt):
    auth.as_user(world.manager_a)
    response = request_report(client, world.institution_a, fmt, period=(date(2026, 6, 30), date(2026, 1, 1)))
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "Content-Disposition" not in response.headers
    assert "The end date (2026-01-01) is before the start date (2026-06-30)" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(AuditEvent.id)).where(
        AuditEvent.action == "export.download")) == 0


@pytest.mark.parametrize("params, message", [
    ({"course": "no-such-course"}, "Unknown course: no-such-course."),
    ({"from": "2026-13-45"}, "Not a valid date value."),
    ({"format": "docx"}, "Not a valid choice."),
])
def test_bad_report_parameters_answer_400_with_a_message(client, auth, world, course, params, message):
    auth.as_user(world.manager_a)
    response = request_report(client, world.institution_a, params.pop("format", "csv"), **params)
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_an_empty_course_choice_means_every_course(client, auth, world, course):
    auth.as_user(world.manager_a)
    response = request_report(client, world.institution_a, "csv", course="")
    assert response.status_code == 200
    assert [row[0] for row in csv_sections(response.data)["Summary by course"][1:]] == ["An introduction",
                                                                                       "All courses"]


def test_the_report_form_offers_period_courses_and_format(client, auth, world, course):
    auth.as_user(world.manager_a)
    page = client.get(f"/institutions/{world.institution_a.id}/reports/completion").get_data(as_text=True)
    assert 'name="from"' in page and 'name="to"' in page and 'value="intro-course"' in page
    assert 'value="xlsx"' in page and 'value="pdf"' in page and 'value="csv"' in page


def test_every_download_is_audited_with_who_format_and_period(client, auth, crafted_world):
    w = crafted_world
    auth.as_user(w.manager_a)
    for fmt in FORMATS:
        response = download(client, w.institution_a, fmt, course="intro-course")
        assert response.status_code == 200 and response.headers["Content-Disposition"].endswith(f".{fmt}")
    events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "export.download")
                                .order_by(AuditEvent.id)).all()
    assert [e.detail["format"] for e in events] == list(FORMATS)
    for event_ in events:
        assert event_.actor_id == w.manager_a.id and event_.institution_id == w.institution_a.id
        assert (event_.detail["date_from"], event_.detail["date_to"]) == ("2026-01-01", "2026-06-30")
        assert event_.detail["courses"] == ["intro-course"] and event_.detail["verification_code"]


def test_verification_code_follows_the_content_not_the_clock(app, crafted_world):
    first = reporting.completion_report(crafted_world.institution_a, *PERIOD)
    again = reporting.completion_report(crafted_world.institution_a, *PERIOD)
    assert first.verification_code == again.verification_code
    assert re.fullmatch(r"[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}", first.verification_code)
    other = reporting.completion_report(crafted_world.institution_a, date(2026, 1, 1), date(2026, 3, 1))
    assert other.verification_code != first.verification_code


@pytest.mark.parametrize("fmt", FORMATS)
def test_another_institutions_manager_gets_404_in_every_format(client, auth, crafted_world, fmt):
    auth.as_user(crafted_world.manager_b)
    assert request_report(client, crafted_world.institution_a, fmt).status_code == 404
    auth.as_user(crafted_world.learner)
    assert request_report(client, crafted_world.institution_a, fmt).status_code == 403
    assert db.session.scalar(db.select(db.func.count(AuditEvent.id)).where(
        AuditEvent.action == "export.download")) == 0


def populate(institution, course, learners: int) -> Institution:
    """Learners with an enrolment, lesson progress, a quiz attempt each, and a certificate for every other one."""
    module = course.modules[0]
    when = datetime(2026, 3, 1, 9)
    for n in range(learners):
        user = factories.make_user(f"p{n}.{institution.id}@example.org", institution=institution)
        completed = when if n % 2 == 0 else None
        db.session.add_all([
            Enrolment(user_id=user.id, course_id=course.id, completed_at=completed),
            LessonProgress(user_id=user.id, lesson_id=module.lessons[0].id, viewed_at=when, done_at=when),
            QuizAttempt(user_id=user.id, module_id=module.id, number=1, started_at=when, submitted_at=when,
                        paper=[], answers={}, total=8, score=50 + n % 50, passed=n % 2 == 0)])
        if completed:
            db.session.add(Certificate(code=f"T{institution.id:03d}-{n:04d}", user_id=user.id, course_id=course.id,
                                       holder_name=user.name, course_title=course.title))
    manager = factories.make_user(f"manager.{institution.id}@example.org", roles=(Role.MANAGER,),
                                  institution=institution)
    db.session.commit()
    return manager


def count_queries(action) -> int:
    statements = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        action()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return len(statements)


def test_query_count_does_not_grow_with_the_number_of_learners(app, client, auth, world, course):
    counts = {}
    for learners in (3, 30):
        institution = factories.make_institution(f"Office of {learners}")
        manager = populate(institution, course, learners)
        db.session.expire_all()
        institution = db.session.get(Institution, institution.id)
        report_queries = count_queries(lambda i=institution: reporting.completion_report(i, *PERIOD))
        auth.as_user(manager)
        requests = {"dashboard": count_queries(lambda i=institution: client.get(dashboard_url(i)))}
        for fmt in FORMATS:  # a PDF or XLSX: the request, its job (run at once in tests) and the download
            requests[fmt] = count_queries(lambda fmt=fmt, i=institution: download(client, i, fmt))
        counts[learners] = {"report": report_queries, **requests}
    assert counts[3] == counts[30], counts
    assert counts[30]["report"] <= 12
