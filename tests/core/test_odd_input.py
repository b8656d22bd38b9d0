"""Odd input answers 4xx, never 500: page numbers, JSON bodies, numbers and control characters in forms; and text
already stored with control characters never breaks a page or an export."""
import io
import re
from urllib.parse import parse_qsl, unquote

import pytest
from flask_wtf import FlaskForm
from openpyxl import load_workbook
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound
from wtforms import HiddenField, IntegerField, PasswordField, StringField, TextAreaField

from academy import create_app
from academy.accounts.models import User
from academy.core.forms import Form
from academy.core.pagination import MAX_PAGE, page_number, query_id
from academy.core.text import clean_line, clean_text
from academy.extensions import db
from academy.institutions.exports import neutralise
from academy.institutions.models import BulkImport
from academy.institutions.tokens import issue_institution_token
from tests import factories
from tests.api.test_api import assert_error_shape, bearer
from tests.conftest import build_settings
from tests.core.test_route_matrix import EXPECTATIONS as ROUTE_EXPECTATIONS
from tests.institutions.test_bulk import confirm, preview_url, upload
from tests.tabletop.routes_reports import played_session

ODD_PAGES = ["9" * 25, "9" * 5000, "²", "٣", "-1", "0x10", "1e3", "1_000", " 2", "%00"]
CONTROLS = "Ana\x0bNovak\x01\x1f\x7f"


# Page numbers

@pytest.mark.parametrize(("raw", "page"), [("", 1), ("3", 3), ("0003", 3), ("0", 1), ("-2", 1), ("²", 1), ("٣", 1),
                                           ("1_000", 1), (" 2", 1), (str(MAX_PAGE), MAX_PAGE),
                                           (str(MAX_PAGE + 1), NotFound), ("9" * 25, NotFound),
                                           ("9" * 5000, NotFound)])
def test_page_number_is_a_plain_bounded_number(app, raw, page):
    with app.test_request_context("/", query_string={"page": raw}):
        if page is NotFound:
            with pytest.raises(NotFound):
                page_number()
        else:
            assert page_number() == page


@pytest.mark.parametrize(("raw", "number"), [("", None), ("12", 12), ("007", 7), ("0", 0), ("-1", None), ("²", None),
                                             (str(2**31 - 1), 2**31 - 1), (str(2**31), None), ("9" * 25, None),
                                             ("9" * 5000, None)])
def test_query_id_is_a_number_a_database_integer_holds(app, raw, number):
    with app.test_request_context("/", query_string={"institution": raw}):
        assert query_id("institution") == number


def list_pages(world, client, auth):
    """(who, URL) of every page with ?page=: the paginated lists and the two lists kept in memory."""
    auth.as_user(world.manager_a)
    preview = preview_url(upload(client, world.institution_a, "email,name,track,courses\nana@a.org,Ana,cert,\n"))
    a = world.institution_a.id
    return [(world.admin, "/admin/institutions"), (world.admin, "/admin/users"), (world.admin, "/admin/audit"),
            (world.admin, "/admin/certificates"), (world.trainer, "/exercises"),
            (world.manager_a, f"/institutions/{a}"), (world.manager_a, f"/institutions/{a}/dashboard"),
            (world.manager_a, preview)]


def test_every_list_page_shows_a_real_page_for_any_page_number(client, auth, world):
    problems = []
    for user, url in list_pages(world, client, auth):
        auth.as_user(user)
        first = client.get(url).get_data(as_text=True)
        for raw in ODD_PAGES:
            response = client.get(url, query_string={"page": raw})
            expected = 404 if raw.isascii() and raw.isdigit() and (len(raw) > 6 or int(raw) > MAX_PAGE) else 200
            if response.status_code != expected:
                problems.append(f"{url}?page={raw[:30]} answered {response.status_code}, not {expected}")
        # One page of data: any page number a list could have shows it.
        assert client.get(url, query_string={"page": str(MAX_PAGE)}).get_data(as_text=True).count("<tr") == \
            first.count("<tr"), url
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("raw", ["9" * 25, "9" * 5000, "²", "0"])
def test_api_refuses_an_absurd_page_with_the_error_shape(client, world, raw):
    token = factories.make_token(world.admin)
    db.session.commit()
    response = client.get("/api/v1/exercise-sessions", query_string={"page": raw}, headers=bearer(token))
    assert "page" in assert_error_shape(response, 422)["errors"]["query"]


# JSON bodies (tests/api/test_api_bodies.py sends many more)

@pytest.mark.parametrize("body", ["[" * 3000 + "]" * 3000, '{"a":' * 3000 + "1" + "}" * 3000,
                                  '{"email": "a@b.org", "password": ' + "1" * 1_000_000 + "}",
                                  '{"email": "a@b.org", "password": "x", "name": -' + "7" * 4301 + "}"])
def test_a_body_python_cannot_hold_is_invalid_json(client, body):
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert assert_error_shape(response, 400)["errors"] == {"json": ["Invalid JSON body."]}


def test_control_characters_in_an_api_string_are_refused(client, world):
    response = client.post("/api/v1/auth/token", json={"email": "manager@a.org", "password": factories.PASSWORD,
                                                       "name": "HR\x0bsystem"})
    assert assert_error_shape(response, 422)["errors"]["json"]["name"] == [
        "Control characters and unpaired surrogates are not allowed here."]
    assert client.post("/api/v1/auth/token", json={"email": "manager@a.org", "password": factories.PASSWORD,
                                                   "name": "HR system"}).status_code == 201


# Forms: one base class cleans every text field and bounds every number

class Sample(Form):
    class Meta:
        csrf = False

    line = StringField()
    hidden = HiddenField()
    text = TextAreaField(filters=[lambda value: value and value.strip()])
    password = PasswordField()
    number = IntegerField()


def test_every_form_of_the_academy_has_the_base_class(app):
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    forms = [cls for cls in subclasses(FlaskForm) if cls.__module__.startswith("academy.")]
    assert len(forms) > 20  # every feature's forms are imported by create_app
    assert [f"{cls.__module__}.{cls.__name__}" for cls in forms if not issubclass(cls, Form)] == []


def test_text_fields_lose_control_characters_and_single_lines_their_breaks(app):
    with app.test_request_context("/"):
        form = Sample(MultiDict({"line": "Ana\x0bNovak\r\n\tMinistry\x00", "hidden": "next\x01",
                                 "text": " First line\r\nsecond\x0bthird\tcolumn\x07 ",
                                 "password": "pass\x0bword\x01"}))
        assert form.line.data == "Ana Novak Ministry" and form.hidden.data == "next"
        assert form.text.data == "First line\r\nsecond\nthird\tcolumn"  # the field's own filter runs after
        assert form.password.data == "pass\x0bword\x01"  # compared with a hash, never shown: kept as typed


@pytest.mark.parametrize(("raw", "valid"), [("12", True), ("-12", True), (str(2**31 - 1), True), (str(2**31), False),
                                            ("9" * 25, False), ("9" * 5000, False), ("²", False)])
def test_a_form_number_must_fit_a_database_integer(app, raw, valid):
    with app.test_request_context("/"):
        form = Sample(MultiDict({"number": raw}))
        assert form.validate() is valid


def test_clean_line_and_clean_text():
    assert clean_line("Ana\x0b\x0bNovak\x01\ud800") == "Ana Novak" and clean_line(None) is None
    assert clean_text("a\x0bb\x0cc\r\nd\x00\x7f") == "a\nb\nc\r\nd" and clean_text(3) == 3


def test_a_bulk_import_stores_each_cell_as_one_line(client, auth, world):
    auth.as_user(world.manager_a)
    url = preview_url(upload(client, world.institution_a, 'email,name,track,courses\r\n'
                                                            'ana@a.org,"Ana\tNovak\r\nof CERT",cert,\r\n',
                             filename="staff\x0b.csv"))
    confirm(client, url)
    user = db.session.scalar(db.select(User).where(User.email == "ana@a.org"))
    assert user.name == "Ana Novak of CERT"
    assert db.session.scalar(db.select(BulkImport.filename)) == "staff .csv"


# Query strings and paths: a NUL was a 500 on PostgreSQL wherever it reached a query

def test_query_strings_arrive_without_control_characters(client, auth, world):
    auth.as_user(world.admin)
    assert "learner@a.org" in client.get("/admin/users?q=lea%00rn%01er").get_data(as_text=True)
    assert client.get("/admin/institutions?country=A%00L").status_code == 200
    assert client.get(f"/institutions/{world.institution_a.id}?q=%00&track=%00").status_code == 200


def test_the_api_refuses_control_characters_in_its_query_strings(client, world):
    token = issue_institution_token(world.institution_a, "HR")[1]
    db.session.commit()
    response = client.get(f"/api/v1/institutions/{world.institution_a.id}/completion-report?course=intro%00course",
                          headers=bearer(token))
    assert "course" in assert_error_shape(response, 422)["errors"]["query"]


@pytest.mark.parametrize("url", ["/verify/ABCD%00EFGH", "/join/AB%01CD", "/certificates/ABCD%0BEFGH.pdf",
                                 "/courses/intro-course/lessons/first%00lesson", "/account/reset/tok%7Fen"])
def test_a_control_character_in_a_path_segment_is_not_found(app, client, auth, world, course, url):
    auth.as_user(world.learner)
    assert client.get(url).status_code == 404
    with pytest.raises(NotFound):  # no route matches: no view is reached, whatever it would do with it
        app.url_map.bind("localhost").match(unquote(url))


def test_a_control_character_in_an_api_path_is_not_found_in_the_error_shape(client, world):
    token = factories.make_token(world.learner)
    db.session.commit()
    assert_error_shape(client.get("/api/v1/certificates/ABCD%00EFGH", headers=bearer(token)), 404)


# Stored text: what came in before the cleaning, or by another way, never breaks a page or a file

def test_stored_control_characters_never_break_a_report_or_an_export(client, auth, world, course):
    played = played_session(world)
    world.learner.name = CONTROLS
    world.institution_a.name = "Ministry\x0bA\x01"
    played.session.title = "Drill\x0b\x01 one"
    played.operator.name = "Guest\x02 Operator"
    db.session.commit()
    auth.as_user(world.manager_a)
    url = f"/institutions/{world.institution_a.id}/reports/completion"
    files = {}
    for fmt in ("csv", "xlsx", "pdf"):  # the CSV at once; a PDF or XLSX from its job's page
        response = client.post(url, data={"from": "2026-01-01", "to": "2026-12-31", "format": fmt})
        if fmt != "csv":
            page = client.get(response.headers["Location"]).get_data(as_text=True)
            response = client.get(re.search(r'data-testid="job-file" href="([^"]+)"', page).group(1))
        assert response.status_code == 200, fmt
        files[fmt] = response.data
    book = load_workbook(io.BytesIO(files["xlsx"]))
    cells = {cell.value for sheet in book for row in sheet.iter_rows() for cell in row}
    assert "Ana\nNovak" in cells and "Ministry\nA" in cells and "Drill\n one" in cells
    auth.as_user(world.trainer)
    for suffix in ("report", "report.json"):
        assert client.get(f"/exercises/sessions/{played.session.id}/{suffix}").status_code == 200, suffix
    asked = client.post(f"/exercises/sessions/{played.session.id}/report.pdf")
    page = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert client.get(re.search(r'data-testid="job-file" href="([^"]+)"', page).group(1)).status_code == 200


def test_a_control_character_cannot_hide_a_formula():
    assert neutralise("\x01=HYPERLINK(\"http://evil.example\")") == "'=HYPERLINK(\"http://evil.example\")"


# Anywhere: every route of the matrix, with odd values in every query parameter and every form field the app reads

QUERY_NAMES = ("page", "per_page", "after", "institution", "q", "course", "track", "from", "to", "format", "status",
               "role", "country", "sector", "show", "view", "code", "scenario", "action", "actor", "sort", "active",
               "next")
ODD_VALUES = ("9" * 25, "²\x0b\x00\ufffe", "9" * 5000)


def form_field_names() -> set[str]:
    create_app(build_settings())  # imports every feature's forms
    forms = [*Form.__subclasses__(), *(sub for cls in Form.__subclasses__() for sub in cls.__subclasses__())]
    return {name for cls in forms for name, value in vars(cls).items() if hasattr(value, "field_class")}


FORM_FIELDS = form_field_names()


def inside(expected: dict) -> str:
    """The persona the route lets in (its view runs), the admin if it lets nobody in."""
    return next((who for who in ("admin", "trainer", "manager_a", "learner", "anon") if expected[who] < 400), "admin")


@pytest.mark.parametrize("route", sorted(ROUTE_EXPECTATIONS), ids=lambda r: f"{r[1]} {r[0]}")
def test_odd_values_anywhere_answer_below_500(client, auth, world, course, route):
    build_url, expected = ROUTE_EXPECTATIONS[route]
    world.course = course
    world.learner_token_id = factories.issue_token(world.learner, "odd")[0].id
    persona = inside(expected)
    headers = {}
    if persona != "anon":
        auth.as_user(getattr(world, persona))
        headers = bearer(factories.make_token(getattr(world, persona)))
    db.session.commit()
    url, method = build_url(world), route[1]
    path, _, own = url.partition("?")
    for value in ODD_VALUES:
        # The route's own parameters stay (?once=1 ends a live stream; ?format= picks a download); the rest are odd.
        query = {**{name: value for name in QUERY_NAMES}, **dict(parse_qsl(own))}
        data = {name: value for name in FORM_FIELDS} if method != "GET" else None
        response = client.open(path, method=method, query_string=query, data=data, headers=headers)
        assert response.status_code < 500, f"{method} {url} with {value[:30]!r}: {response.status_code}"
