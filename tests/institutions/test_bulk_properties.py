"""Property tests of the bulk enrolment CSV import: any bytes give a preview with per-row problems or a clear
file-level error, never an exception; valid rows import exactly those people."""
import csv
import io

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from academy.accounts.models import TRACK_LABELS, Role, Track, User, UserRole, normalise_email
from academy.core.text import clean_line
from academy.extensions import db
from academy.institutions import bulk
from academy.institutions import enrolment_import as importing
from academy.institutions.models import BulkImport
from academy.learning.models import Course, Enrolment

TLDS = ("eu", "rs", "hr", "me", "al", "mk", "ba")  # none of the world's addresses: every generated person is new
LABEL = st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,8})?", fullmatch=True)
LOCAL = st.from_regex(r"[a-z0-9=+_%-]{1,10}(\.[a-z0-9=+_%-]{1,10}){0,2}", fullmatch=True)
EMAILS = st.builds(lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}", LOCAL,
                   st.lists(LABEL, min_size=1, max_size=2), st.sampled_from(TLDS))
# A name as a spreadsheet may hold it: any text but control characters, surrounding spaces and formulas included.
NAMES = st.text(st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\n\t,;\"'=+-@"),
                min_size=1, max_size=40).map(str.strip).filter(lambda name: name and len(name) <= 120)
# Examples share the test's app and database on purpose: each leaves them as it found them.
SHARED_APP = settings(suppress_health_check=[*settings.default.suppress_health_check,
                                             HealthCheck.function_scoped_fixture])


@pytest.fixture
def second_course(course):
    other = Course(slug="second-course", title="Incident Basics", summary="Another course.", tracks=["cert"],
                   published=True, content_hash="x" * 64, position=2)
    db.session.add(other)
    db.session.commit()
    return other


@pytest.fixture
def manager(client, auth, world, course, second_course):
    """Manager A signed in, with the two published courses in place."""
    return auth.as_user(world.manager_a)


def user_count() -> int:
    return db.session.scalar(db.select(db.func.count(User.id)))


# --- Files --------------------------------------------------------------------------------------

def spellings(value: str):
    """The ways a spreadsheet may write a track or a course: any case, spaces around."""
    return st.tuples(st.sampled_from([str.lower, str.upper, str.title, str]), st.sampled_from(["", " "])).map(
        lambda how: f"{how[1]}{how[0](value)}{how[1]}")


@st.composite
def people(draw) -> list[dict]:
    """New people as a manager would list them, with what each row must import."""
    emails = draw(st.lists(EMAILS, min_size=1, max_size=6, unique_by=normalise_email))
    found = []
    for email in emails:
        track = draw(st.sampled_from(list(Track)))
        written = draw(st.sampled_from([track.value, str(TRACK_LABELS[track])]))
        courses = draw(st.lists(st.sampled_from([("intro-course", "An introduction"),
                                                 ("second-course", "Incident Basics")]), unique=True, max_size=2))
        cells = [draw(spellings(draw(st.sampled_from(course)))) for course in courses]
        name = draw(NAMES)
        found.append({"email": draw(st.sampled_from([email, email.upper()])), "name": name,
                      "track": draw(spellings(written)), "courses": ";".join(cells),
                      # a line break or tab inside the cell becomes a space: a name is one line
                      "expected": {"name": clean_line(name).strip(), "track": track,
                                   "courses": [slug for slug, _ in courses]}})
    return found


@st.composite
def csv_files(draw, rows: list[list[str]]) -> bytes:
    """Rows written as spreadsheets write them: either separator, any quoting, line ends and byte order mark."""
    delimiter = draw(st.sampled_from([",", ";"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    out = io.StringIO(newline="")
    ending = draw(st.sampled_from(["\r\n", "\n"]))
    csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=ending).writerows(rows)
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + out.getvalue().encode("utf-8")


@st.composite
def valid_uploads(draw) -> tuple[bytes, list[dict]]:
    listed = draw(people())
    order = draw(st.permutations(bulk.COLUMNS))
    rows = [[draw(spellings(column)) for column in order]]
    rows += [[person[column] for column in order] for person in listed]
    return draw(csv_files(rows)), listed


CELLS = st.one_of(
    st.text(max_size=20), EMAILS, st.emails().map(str), NAMES, st.sampled_from([
        "=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(A1)", "\t=1", "intro-course;;Incident Basics", "cert",
        "Law enforcement", "a@b", "a@@b.eu", "@a.eu", "a@b.test", "ćao@primjer.hr", "a" * 300 + "@x.eu",
        "x@" + "a" * 300 + ".eu", "\"quoted\"", "line\nbreak", "", " ", "é" * 200, "a@xn--80ak6aa92e.com",
        "a@[1.2.3.4]", "\"a b\"@c.eu", "a@b..eu", "a@-b.eu", "\u202e@x.eu", "a@b.eu\u200b", "x" * 140_000]))
FULL_HEADER = st.permutations(bulk.COLUMNS).flatmap(lambda order: st.tuples(*map(spellings, order))).map(list)
HEADERS = st.one_of(
    FULL_HEADER, FULL_HEADER, FULL_HEADER.flatmap(lambda names: st.sampled_from(
        [names + ["phone"], names + [names[0]], names + [""], names[:3]])),
    st.lists(st.sampled_from([*bulk.COLUMNS, "phone", "", "e-mail", "x@a.eu"]), max_size=6))


@st.composite
def messy_uploads(draw) -> bytes:
    """Anything: spreadsheet-like rows with odd cells and headers, other encodings, or bytes."""
    how = draw(st.sampled_from(["rows", "rows", "rows", "encoded", "raw", "bytes"]))
    if how == "bytes":
        return draw(st.binary(max_size=300))
    person = people().map(lambda listed: [listed[0][column] for column in bulk.COLUMNS])
    rows = [draw(HEADERS)] + draw(st.lists(st.one_of(person, st.lists(CELLS, max_size=6)), min_size=1, max_size=6))
    if how == "raw":  # joined without any quoting, as a hand-made file would be
        text = "\n".join(draw(st.sampled_from([",", ";"])).join(row) for row in rows)
        return text.encode("utf-8")
    data = draw(csv_files(rows))
    if how == "encoded":
        encoding = draw(st.sampled_from(["utf-16", "latin-1", "cp1250", "utf-32", "utf-8"]))
        data = data.decode("utf-8").encode(encoding, "replace")
    if draw(st.integers(0, 3)) == 0:  # damaged: a few bytes in, or cut short
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"", b"\x00", b"\xff", b'"', b"\r", b"\x1b", b"\xc3"])) + data[at:]
    return data


# --- Parsing and checking -----------------------------------------------------------------------

@SHARED_APP
@given(messy_uploads())
def test_any_file_gives_rows_with_their_problems_or_a_clear_refusal(app, world, course, data):
    try:
        rows = bulk.parse_csv(data)
    except bulk.CsvFileError as refusal:
        assert str(refusal).strip()
        event("refused")
        return
    check = bulk.check_rows(world.institution_a, rows)
    event(f"read, {'some' if check.errors else 'no'} rows with problems")
    assert [row.line for row in check.rows] == [row["line"] for row in rows]
    assert len(check.fingerprint) == 32
    for row in check.rows:
        assert row.kind in (bulk.NEW, bulk.MEMBER, bulk.UNCHANGED, bulk.ERROR)
        assert (row.kind == bulk.ERROR) == bool(row.problems), (row.kind, row.problems)
        assert all(isinstance(problem, str) and problem for problem in row.problems)


@SHARED_APP
@given(valid_uploads())
def test_valid_rows_import_exactly_those_people(app, world, course, second_course, upload):
    data, listed = upload
    before = user_count()
    try:
        rows = bulk.parse_csv(data)
        assert [(row["email"], row["name"]) for row in rows] == [(p["email"], p["expected"]["name"]) for p in listed]
        check = bulk.check_rows(world.institution_a, rows)
        assert [(row.kind, row.problems) for row in check.rows] == [(bulk.NEW, [])] * len(listed)
        stored = bulk.store_upload(world.institution_a, world.manager_a, "staff.csv", rows)
        assert importing.claim(stored)
        invitations = importing.run_import(stored, world.institution_a, world.manager_a, check.fingerprint)
        assert [invitation.email for invitation in invitations] == [normalise_email(p["email"]) for p in listed]
        for person in listed:
            user = db.session.scalar(db.select(User).where(User.email == normalise_email(person["email"])))
            assert (user.name, user.track, user.institution_id) == (
                person["expected"]["name"], person["expected"]["track"], world.institution_a.id)  # formulas as text
            assert db.session.scalars(db.select(UserRole.role).where(UserRole.user_id == user.id)).all() == [
                Role.LEARNER]
            enrolled = db.session.scalars(db.select(Course.slug).join(Enrolment).where(Enrolment.user_id == user.id))
            assert sorted(enrolled) == sorted(person["expected"]["courses"])
        assert user_count() == before + len(listed)
    finally:
        db.session.rollback()  # the services only flush: the next example starts from the same database


# --- Through the upload page --------------------------------------------------------------------

FILENAMES = st.one_of(st.just("staff.csv"), st.text(max_size=40).map(lambda name: name + ".csv"), st.sampled_from(
    ["a\x00b.csv", "../../staff.csv", "C:\\Users\\staff.csv", "x" * 300 + ".csv", "osoblje-č.csv", 'a"b.csv',
     "a\nb.csv", "STAFF.CSV"]))


@SHARED_APP
@given(st.one_of(messy_uploads(), valid_uploads().map(lambda upload: upload[0])), FILENAMES)
def test_any_upload_answers_a_page_and_stores_only_a_readable_file(client, world, manager, data, filename):
    people = user_count()
    url = f"/institutions/{world.institution_a.id}/enrolments/upload"
    response = client.post(url, data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")
    try:
        # 400: a file name the test client cannot put in a well-formed request.
        assert response.status_code in (200, 302, 400), response.status_code
        event(f"status {response.status_code}")
        stored = db.session.scalars(db.select(BulkImport)).all()
        if response.status_code != 302:
            assert stored == []  # refused: nothing was written
        else:
            [bulk_import] = stored
            assert len(bulk_import.rows) >= 1 and len(bulk_import.filename) <= 255
            preview = client.get(response.headers["Location"])
            assert preview.status_code == 200
            assert 'data-testid="confirm-import"' in preview.get_data(as_text=True)
        assert user_count() == people
    finally:
        db.session.execute(db.delete(BulkImport))
        db.session.commit()
