"""The admins' regional view: the report's Table 1 as data, the figures per country and sector, constant queries."""
import re
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import event

from academy.accounts.models import Role
from academy.extensions import db
from academy.institutions import baseline
from academy.institutions.regional import regional_picture
from academy.learning.models import Certificate
from academy.organisations.models import Sector
from academy.organisations.services import KOSOVO_FOOTNOTE
from tests import factories
from tests.institutions.routes_regional import enrol, exercise
from tests.report_source import REPORT

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "courses" / "state-of-play" / "lessons" / "regional-summary-and-table-1.md"
HEADINGS = ["ALB", "BIH", "CRO", "KOS", "MKD", "MNE", "SRB"]


def table_from_report() -> dict[str, list[str]]:
    lines = REPORT.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() == HEADINGS)
    rows = {}
    for line in lines[start + 1:start + 7]:
        label, *cells = line.split("\t")
        rows[label] = cells
    return rows


def table_from_lesson() -> dict[str, list[str]]:
    rows, inside = {}, False
    for line in LESSON.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[1:] == HEADINGS:
            inside = True
        elif inside and line.startswith("|") and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = cells[1:]
        elif inside and not line.startswith("|"):
            break
    return rows


def test_table_1_has_every_country_and_indicator():
    assert [heading for heading, _code in baseline.COLUMNS] == HEADINGS
    assert baseline.INDICATOR_LABELS == ("CS/IS Law", "Cybercrime (in) Law", "CS/IS Strategy", "n-CERT",
                                         "Substantial PPP", "CB/Education")
    for indicator in baseline.INDICATOR_LABELS:
        assert set(baseline.TABLE_1[indicator]) == set(baseline.COUNTRY_CODES)
        assert set(baseline.TABLE_1[indicator].values()) <= set(baseline.SYMBOLS)
    assert sum(len(cells) for cells in baseline.TABLE_1.values()) == 42


@pytest.mark.report
def test_table_1_is_the_reports_cell_for_cell():
    report = table_from_report()
    assert list(report) == list(baseline.INDICATOR_LABELS)
    for indicator, cells in report.items():
        assert [baseline.TABLE_1[indicator][code] for code in baseline.COUNTRY_CODES] == cells, indicator
    text = " ".join(REPORT.read_text().split())
    assert baseline.LEGEND in text
    assert baseline.CAPTION + ":" in text


def test_table_1_agrees_with_the_course_lesson():
    lesson = table_from_lesson()
    assert list(lesson) == list(baseline.INDICATOR_LABELS)
    for indicator, cells in lesson.items():
        assert [baseline.TABLE_1[indicator][code] for code in baseline.COUNTRY_CODES] == cells, indicator


def test_baseline_for_a_country_and_for_one_outside_the_table():
    kosovo = baseline.baseline_for("XK")
    assert [(cell.indicator, cell.symbol) for cell in kosovo] == [
        ("CS/IS Law", "-"), ("Cybercrime (in) Law", "+"), ("CS/IS Strategy", "+"), ("n-CERT", "+"),
        ("Substantial PPP", "-/+"), ("CB/Education", "-")]
    assert baseline.baseline_for("OTHER") is None


def small_world(world, course):
    """A (Albania, ministry) and B (Serbia, CERT) of the world, and K (Kosovo*, CERT) with a person who left."""
    k = factories.make_institution("Kosovo CERT", "XK", Sector.CERT)
    k1 = factories.make_user("k1@k.org", institution=k)
    gone = factories.make_user("gone@k.org", institution=k)
    enrol(world.learner, course, completed_at=datetime(2026, 5, 1), score=90, certificate=True)
    enrol(world.trainer, course)
    enrol(k1, course, completed_at=datetime(2026, 6, 1), certificate=True)
    enrol(gone, course, completed_at=datetime(2026, 6, 2), certificate=True)
    db.session.scalar(db.select(Certificate).where(Certificate.user_id == k1.id)).revoked_at = datetime(2026, 7, 1)
    exercise(world.trainer, [world.learner, k1, gone])
    exercise(world.trainer, [world.manager_a], start=False)
    gone.active = False
    db.session.commit()


def figures_of(page: str, attribute: str, key: str) -> dict[str, int]:
    match = re.search(rf'<tr {attribute}="{key}">(.*?)</tr>', page, re.S)
    assert match, f"no row {attribute}={key}"
    return {name: int(value) for name, value in re.findall(r'data-figure="(\w+)">(\d+)<', match.group(1))}


def test_admin_sees_figures_per_country_and_sector(client, auth, world, course):
    small_world(world, course)
    auth.as_user(world.admin)
    response = client.get("/admin/regional")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert figures_of(page, "data-country", "AL") == dict(institutions=1, learners=3, enrolments=2, completions=1,
                                                           certificates=1, exercises=1)
    assert figures_of(page, "data-country", "RS") == dict(institutions=1, learners=1, enrolments=0, completions=0,
                                                           certificates=0, exercises=0)
    # The deactivated person is not counted; the revoked certificate neither; the unstarted session not at all.
    assert figures_of(page, "data-country", "XK") == dict(institutions=1, learners=1, enrolments=1, completions=1,
                                                           certificates=0, exercises=1)
    assert figures_of(page, "data-country", "HR") == dict.fromkeys(
        ["institutions", "learners", "enrolments", "completions", "certificates", "exercises"], 0)
    assert figures_of(page, "data-country", "total") == dict(institutions=3, learners=5, enrolments=3, completions=2,
                                                              certificates=1, exercises=2)
    assert figures_of(page, "data-sector", "cert") == dict(institutions=2, learners=2, enrolments=1, completions=1,
                                                            certificates=0, exercises=1)
    assert figures_of(page, "data-sector", "ministry") == figures_of(page, "data-country", "AL")
    assert figures_of(page, "data-sector", "total") == figures_of(page, "data-country", "total")


def test_the_baseline_is_shown_as_data_beside_each_country(client, auth, world):
    auth.as_user(world.admin)
    page = client.get("/admin/regional").get_data(as_text=True)
    kosovo_row = re.search(r'<tr data-country="XK">(.*?)</tr>', page, re.S).group(1)
    assert "Kosovo*" in kosovo_row
    symbols = re.findall(r'data-indicator="([^"]+)">([^<]+)</abbr>', kosovo_row)
    assert symbols == [(cell.indicator, cell.symbol) for cell in baseline.baseline_for("XK")]
    table = re.search(r'<table[^>]*data-testid="table-1"(.*?)</table>', page, re.S).group(1)
    assert "<img" not in page.split('data-testid="by-country"')[1].split("</table>")[0]
    for heading in HEADINGS:
        assert f">{heading}</th>" in table
    assert len(re.findall(r"data-indicator=", table)) == 42
    shown = {label: symbols for label, symbols in
             ((label, re.findall(r'data-indicator="[^"]+">([^<]+)</abbr>', row))
              for label, row in re.findall(r'<tr><th scope="row"><abbr[^>]*>([^<]+)</abbr></th>(.*?)</tr>', table, re.S))}
    assert shown == {label: [baseline.TABLE_1[label][code] for code in baseline.COUNTRY_CODES]
                     for label in baseline.INDICATOR_LABELS}
    assert baseline.LEGEND in page
    assert "Not covered by Table 1" in page  # the "Other" row
    assert f'id="footnote-XK" data-testid="footnote">* {KOSOVO_FOOTNOTE}</p>' in page
    note = re.search(r'data-testid="baseline-note">(.*?)</div>', page, re.S).group(1)
    assert "2016" in note and "§4.8" in note


@pytest.mark.parametrize("who", ["learner", "trainer", "manager_a"])
def test_only_admins_see_the_regional_view(client, auth, world, who):
    auth.as_user(getattr(world, who))
    assert client.get("/admin/regional").status_code == 403


def test_admin_navigation_links_to_the_regional_view(client, auth, world):
    auth.as_user(world.admin)
    assert 'href="/admin/regional"' in client.get("/admin/").get_data(as_text=True)


def add_institutions(count, course, trainer, offset=0):
    codes = [code for _heading, code in baseline.COLUMNS]
    sectors = list(Sector)
    for n in range(count):
        institution = factories.make_institution(f"Office {offset + n}", codes[n % len(codes)],
                                                 sectors[n % len(sectors)])
        people = [factories.make_user(institution=institution, roles=(Role.LEARNER,)) for _ in range(2)]
        enrol(people[0], course, completed_at=datetime(2026, 4, 1), certificate=True)
        exercise(trainer, people, title=f"Drill {offset + n}")
    db.session.commit()


def count_queries(client, url) -> int:
    statements = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    return len(statements)


def test_the_number_of_queries_does_not_grow_with_institutions(client, auth, world, course):
    auth.as_user(world.admin)
    add_institutions(2, course, world.trainer)
    few = count_queries(client, "/admin/regional")
    add_institutions(18, course, world.trainer, offset=2)
    many = count_queries(client, "/admin/regional")
    assert few == many < 20
    assert regional_picture().total.institutions == 22
