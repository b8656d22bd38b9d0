"""Bulk enrolment from CSV: preview with per-row problems, all-or-nothing import, invitations."""
import io
import logging
import re

import pytest
from sqlalchemy.exc import OperationalError

from academy.accounts.models import Role, Track, User, find_user_by_email
from academy.config import Config
from academy.core.jobs import huey
from academy.core.models import AuditEvent
from academy.extensions import db
from academy.institutions import bulk
from academy.institutions.models import BulkImport
from academy.learning.models import Course, Enrolment
from tests import factories
from tests.conftest import ANY_HOST_BEHIND_A_PROXY, EVIL_HOST, keep_signed_in_on


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


def upload(client, institution, content, filename="staff.csv"):
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(f"/institutions/{institution.id}/enrolments/upload",
                       data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def preview_url(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert "/enrolments/imports/" in location
    return location


def fingerprint(client, url) -> str:
    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="fingerprint" type="hidden" value="([0-9a-f]+)"', page).group(1)


def confirm(client, url, print_=None, follow=True):
    return client.post(url + "/confirm", data={"fingerprint": print_ or fingerprint(client, url)},
                       follow_redirects=follow)


def invitation_links(caplog) -> dict[str, str]:
    links = {}
    for record in caplog.records:
        message = record.getMessage()
        if message.startswith("Mail to") and "invited" in message:
            address = message.split()[2]
            line = next(line for line in message.splitlines() if "/account/reset/" in line)
            links[address] = line.strip().split("localhost", 1)[1]
    return links


def counts():
    return (db.session.scalar(db.select(db.func.count(User.id))),
            db.session.scalar(db.select(db.func.count(Enrolment.id))))


HAPPY = ("email,name,track,courses\n"
         "ana.new@a.org,Ana Novak,cert,intro-course;second-course\n"
         "BOJAN.NEW@a.org,Bojan Marić,Policy maker,an introduction\n"
         "learner@a.org,Lea Learner,,Incident Basics\n")


def test_happy_path_invites_new_people_and_enrols_members(client, world, manager, course, second_course, caplog):
    caplog.set_level(logging.WARNING)
    learner_name = world.learner.name
    url = preview_url(upload(client, world.institution_a, HAPPY))
    page = client.get(url).get_data(as_text=True)
    assert page.count("New person: will be invited") == 2
    assert "Already a member: courses will be added" in page and "Rows with problems" in page
    assert 'data-testid="confirm-import" disabled' not in page
    done = confirm(client, url).get_data(as_text=True)
    assert "Import complete: 2 people invited, 4 enrolments added." in done
    assert 'data-testid="import-done"' in done and "New person: invited" in done

    ana, bojan = find_user_by_email("ana.new@a.org"), find_user_by_email("bojan.new@a.org")
    assert ana.institution_id == bojan.institution_id == world.institution_a.id
    assert ana.roles == {Role.LEARNER} and ana.track == Track.CERT and bojan.track == Track.POLICY
    assert bojan.name == "Bojan Marić" and ana.active
    enrolled = {tuple(r) for r in db.session.execute(db.select(Enrolment.user_id, Enrolment.course_id))}
    assert enrolled == {(ana.id, course.id), (ana.id, second_course.id), (bojan.id, course.id),
                        (world.learner.id, second_course.id)}
    assert world.learner.name == learner_name  # a member keeps the name of their account

    links = invitation_links(caplog)
    assert set(links) == {"ana.new@a.org", "bojan.new@a.org"}
    mail = next(r.getMessage() for r in caplog.records if "ana.new@a.org" in r.getMessage())
    assert "Ministry A" in mail and "An introduction, Incident Basics" in mail and "1 hour" in mail
    assert "http://localhost/account/reset\n" in mail  # where to ask for a fresh link once it has expired

    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "enrolment.import"))
    assert event.actor_id == world.manager_a.id and event.institution_id == world.institution_a.id
    assert event.detail["invited"] == 2 and event.detail["enrolments"] == 4 and event.target == "staff.csv"
    assert db.session.scalar(db.select(BulkImport)).status == BulkImport.IMPORTED


@pytest.mark.parametrize("settings", [ANY_HOST_BEHIND_A_PROXY])
def test_invitation_links_are_on_the_public_url(client, world, manager, caplog, hostile_headers):
    caplog.set_level(logging.WARNING)
    keep_signed_in_on(client)
    url = preview_url(upload(client, world.institution_a, HAPPY))
    done = client.post(url + "/confirm", data={"fingerprint": fingerprint(client, url)}, headers=hostile_headers)
    assert done.status_code == 302
    mails = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Mail to")]
    assert len(mails) == 2
    for mail in mails:
        assert EVIL_HOST not in mail
        assert "\n\nhttp://localhost/account/reset/" in mail and "\n\nhttp://localhost/account/reset\n" in mail


@pytest.mark.parametrize("settings", [{"JOBS_IMMEDIATE": False}])
def test_invitations_are_handed_to_the_job_worker(client, world, manager, caplog):
    caplog.set_level(logging.WARNING)
    url = preview_url(upload(client, world.institution_a, HAPPY))
    assert "Import complete" in confirm(client, url).get_data(as_text=True)
    assert not [r for r in caplog.records if r.getMessage().startswith("Mail to")]  # none sent in the request
    queued = [huey.dequeue() for _ in range(huey.pending_count())]
    assert sorted((task.name, task.args[0]) for task in queued) == [
        ("deliver_mail", address) for address in ("ana.new@a.org", "bojan.new@a.org")]
    for task in queued:
        huey.execute(task)
    assert set(invitation_links(caplog)) == {"ana.new@a.org", "bojan.new@a.org"}


def test_invited_person_sets_a_password_with_the_link_and_signs_in(client, auth, world, manager, caplog):
    caplog.set_level(logging.WARNING)
    url = preview_url(upload(client, world.institution_a, HAPPY))
    confirm(client, url)
    auth.logout()
    refused = auth.login("ana.new@a.org", "!invited-guess")  # no password works before the link is used
    assert refused.status_code == 200 and "E-mail address or password is not correct." in refused.get_data(as_text=True)
    link = invitation_links(caplog)["ana.new@a.org"]
    assert client.get(link).status_code == 200
    response = client.post(link, data={"password": "my own long phrase", "confirm": "my own long phrase"})
    assert response.status_code == 302
    assert auth.login("ana.new@a.org", "my own long phrase").status_code == 302


def test_every_problem_is_shown_and_confirm_is_refused(client, world, manager):
    csv_text = ("email,name,track,courses\n"
                "not-an-address,Bad Mail,cert,\n"
                "noname@a.org,,cert,\n"
                "track@a.org,Wrong Track,astronaut,\n"
                "course@a.org,Wrong Course,cert,intro-course;no-such-course\n"
                "twice@a.org,First Time,cert,\n"
                "TWICE@a.org,Second Time,cert,\n"
                "manager@b.org,Other Place,cert,\n"
                "fine@a.org,Fine Person,cert,\n"
                "notrack@a.org,No Track,,\n")
    url = preview_url(upload(client, world.institution_a, csv_text))
    page = client.get(url).get_data(as_text=True)
    for message in ("Not a valid e-mail address.", "Name missing.", "Unknown track \u201castronaut\u201d",
                    "Unknown course \u201cno-such-course\u201d.", "already on line 6",
                    "Already a member of another institution", "Track missing"):
        assert message in page, message
    assert "7 rows have problems." in page and "fix the file and upload it again" in page
    assert 'data-testid="confirm-import" disabled' in page
    problems_only = client.get(url + "?show=problems").get_data(as_text=True)
    assert "fine@a.org" not in problems_only and "noname@a.org" in problems_only
    before = counts()
    refused = confirm(client, url).get_data(as_text=True)
    assert "Nothing was imported: 7 rows have problems." in refused
    assert counts() == before and find_user_by_email("fine@a.org") is None
    assert db.session.scalar(db.select(BulkImport)).status == BulkImport.PREVIEW


def test_wrong_encoding_is_refused_with_advice(client, world, manager):
    data = "email,name,track,courses\nmilan@a.org,Milan Petrović,cert,\n".encode("cp1250")
    page = upload(client, world.institution_a, data).get_data(as_text=True)
    assert "not in UTF-8" in page and "line 2" in page and "CSV UTF-8" in page
    assert db.session.scalar(db.select(db.func.count(BulkImport.id))) == 0


@pytest.mark.parametrize("content, expected", [
    ("email,name\nx@a.org,X\n", "Missing columns: track, courses."),
    ("email,name,track,courses,phone\nx@a.org,X,cert,,123\n", "Unknown columns: phone."),
    ("x@a.org,X,cert,intro-course\n", "The first row looks like data"),
    ("email,name,track,courses\n", "no data rows"),
    ("", "The file is empty."),
    ("PK\x03\x04\x00\x00binary", "not a CSV text file"),
])
def test_unusable_files_are_refused_with_a_clear_message(client, world, manager, content, expected):
    response = upload(client, world.institution_a, content)
    assert response.status_code == 200
    assert expected in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(BulkImport.id))) == 0


def test_only_csv_files_are_accepted(client, world, manager):
    page = upload(client, world.institution_a, HAPPY, filename="staff.xlsx").get_data(as_text=True)
    assert "Only .csv files can be uploaded." in page
    assert db.session.scalar(db.select(db.func.count(BulkImport.id))) == 0


def test_more_than_ten_thousand_rows_are_refused(client, world, manager):
    lines = "".join(f"person{n}@a.org,Person {n},cert,\n" for n in range(10_001))
    page = upload(client, world.institution_a, "email,name,track,courses\n" + lines).get_data(as_text=True)
    assert "The file has 10,001 data rows; at most 10,000 can be imported at once." in page
    assert db.session.scalar(db.select(db.func.count(BulkImport.id))) == 0


def test_ten_thousand_rows_are_accepted():
    rows = bulk.parse_csv(("email,name,track,courses\n" + "p@a.org,P,cert,\n" * 10_000).encode())
    assert len(rows) == 10_000 and rows[-1]["line"] == 10_001


def multipart_body(content: bytes, filename: str = "big.csv") -> bytes:
    # Built by hand: the test client would spool a large upload to a temporary file it never closes.
    return (b'--cut\r\nContent-Disposition: form-data; name="file"; filename="' + filename.encode() + b'"\r\n'
            b"Content-Type: text/csv\r\n\r\n" + content + b"\r\n--cut--\r\n")


def test_file_over_the_upload_limit_answers_413_and_stores_nothing(app, client, world, manager):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 5 * 1024 * 1024  # the default of academy/config.py
    body = multipart_body(b"email,name,track,courses\n" + b"big@a.org,Big,cert,\n" * (limit // 19))
    url = f"/institutions/{world.institution_a.id}/enrolments/upload"
    page = client.post(url, data=body, content_type="multipart/form-data; boundary=cut")
    assert page.status_code == 413
    assert "The upload is too large" in page.get_data(as_text=True)
    assert "at most 5 MB. Nothing was saved" in page.get_data(as_text=True)
    answer = client.post(url, data=body, content_type="multipart/form-data; boundary=cut",
                         headers={"Accept": "application/json"})
    assert answer.status_code == 413 and answer.get_json() == {
        "code": 413, "status": "Request Entity Too Large",
        "message": "The request is larger than 5 MB, the most the academy accepts. Nothing was saved; "
                   "send a smaller file or split it into several."}
    assert db.session.scalar(db.select(db.func.count(BulkImport.id))) == 0


def test_ten_thousand_people_with_long_details_fit_under_the_upload_limit(client, world, manager, course,
                                                                         second_course):
    # A large real list: long official addresses, full names with diacritics, every course by its full title.
    courses = ";".join([course.title, second_course.title] + [f"Regional course on cooperation number {n}"
                                                              for n in range(4)])
    lines = "".join(f"aleksandra.petrovic-markovic.{n}@ministry-of-foreign-affairs.gov.example,"
                    f"Aleksandra Petrović-Marković {n},Law enforcement,\"{courses}\"\n" for n in range(bulk.MAX_ROWS))
    content = ("email,name,track,courses\n" + lines).encode()
    assert 3 * 1024 * 1024 < len(content)
    response = client.post(f"/institutions/{world.institution_a.id}/enrolments/upload",
                           data=multipart_body(content, "staff.csv"), content_type="multipart/form-data; boundary=cut")
    assert len(bulk.parse_csv(content)) == bulk.MAX_ROWS
    assert db.session.scalar(db.select(BulkImport)).rows[-1]["line"] == bulk.MAX_ROWS + 1
    assert "/enrolments/imports/" in preview_url(response)


def test_the_upload_page_states_the_limits(client, world, manager):
    page = client.get(f"/institutions/{world.institution_a.id}/enrolments/upload").get_data(as_text=True)
    assert "at most 10,000 rows and 5 MB." in page and "At most 10,000 rows and 5 MB per file." in page


class TestAnotherLimit:
    @pytest.fixture
    def settings(self):
        return {"MAX_CONTENT_LENGTH": Config.from_environ({"MAX_UPLOAD_MB": "1"})["MAX_CONTENT_LENGTH"]}

    def test_the_limit_comes_from_the_environment_and_every_message_follows_it(self, app, client, world, manager):
        assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
        url = f"/institutions/{world.institution_a.id}/enrolments/upload"
        assert "at most 10,000 rows and 1 MB." in client.get(url).get_data(as_text=True)
        body = multipart_body(b"email,name,track,courses\n" + b"big@a.org,Big,cert,\n" * 60_000)
        refused = client.post(url, data=body, content_type="multipart/form-data; boundary=cut")
        assert refused.status_code == 413 and "at most 1 MB." in refused.get_data(as_text=True)


@pytest.mark.parametrize("filename", ["staff.xlsx", "staff.txt", "staff", "staff.csv.exe", "staff.html"])
def test_files_without_the_csv_extension_are_refused(client, world, manager, filename):
    page = upload(client, world.institution_a, HAPPY, filename=filename).get_data(as_text=True)
    assert "Only .csv files can be uploaded." in page
    assert db.session.scalar(db.select(db.func.count(BulkImport.id))) == 0


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


@pytest.mark.parametrize("content, expected", [
    (PNG, "This is not a CSV text file"),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00[Content_Types].xml", "This is not a CSV text file"),
    ("email,name,track,courses\nx@a.org,X,cert,\n".encode("utf-16"), "This is not a CSV text file"),
    (PDF, "The file is not in UTF-8"),
    (b"email,name,track,courses\nx@a.org,X\x1b[31m,cert,\n", "line 2 holds a control character"),
])
def test_binary_content_disguised_as_csv_is_refused_and_changes_nothing(client, world, manager, content,
                                                                        expected):
    before = counts()
    response = upload(client, world.institution_a, content, filename="staff.csv")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and expected in page and 'aria-invalid="true"' in page
    assert db.session.scalar(db.select(db.func.count(BulkImport.id))) == 0 and counts() == before


def test_semicolons_between_columns_and_a_byte_order_mark(client, world, manager, course, second_course):
    content = ("\ufeffEmail;Name;Track;Courses\r\n"
               "semi@a.org;Semi Colon;cert;\"intro-course;second-course\"\r\n"
               "\r\n"
               "bom@a.org;Bom Đurić;CERT/CSIRT staff;Incident basics\r\n")
    url = preview_url(upload(client, world.institution_a, content.encode("utf-8")))
    page = client.get(url).get_data(as_text=True)
    assert page.count("New person: will be invited") == 2 and "Bom Đurić" in page
    assert '<td>4</td>' in page  # the line number in the file, counting the blank line
    confirm(client, url)
    semi = find_user_by_email("semi@a.org")
    assert {e.course_id for e in db.session.scalars(db.select(Enrolment).where(Enrolment.user_id == semi.id))} == {
        course.id, second_course.id}


def test_unquoted_semicolon_courses_make_a_row_problem(client, world, manager):
    url = preview_url(upload(client, world.institution_a,
                             "email;name;track;courses\nx@a.org;X Y;cert;intro-course;second-course\n"))
    assert "more cells than the header" in client.get(url).get_data(as_text=True)


def test_formula_cells_are_kept_as_plain_text(client, world, manager):
    formula = '=HYPERLINK("http://evil.example","Click")'
    content = f'email,name,track,courses\nformula@a.org,"{formula.replace(chr(34), chr(34) * 2)}",cert,\n' \
              'script@a.org,<script>alert(1)</script>,cert,\n'
    url = preview_url(upload(client, world.institution_a, content))
    page = client.get(url).get_data(as_text=True)
    assert "=HYPERLINK(&#34;http://evil.example&#34;,&#34;Click&#34;)" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "kept as plain text, never calculated" in page
    confirm(client, url)
    assert find_user_by_email("formula@a.org").name == formula


def test_all_or_nothing_when_the_import_fails_midway(client, world, manager, monkeypatch, caplog):
    caplog.set_level(logging.WARNING)
    url = preview_url(upload(client, world.institution_a, HAPPY))
    print_ = fingerprint(client, url)
    before = counts()

    def broken_enrol(user, course):
        raise OperationalError("INSERT INTO enrolment", {}, Exception("disk I/O error"))

    monkeypatch.setattr(bulk.learning, "enrol", broken_enrol)
    page = confirm(client, url, print_).get_data(as_text=True)
    assert "Nothing was imported" in page
    assert counts() == before and find_user_by_email("ana.new@a.org") is None
    assert db.session.scalar(db.select(BulkImport)).status == BulkImport.PREVIEW
    assert not db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "enrolment.import"))
    assert not invitation_links(caplog)

    monkeypatch.undo()
    assert "Import complete: 2 people invited" in confirm(client, url, print_).get_data(as_text=True)


def test_double_confirm_imports_once(client, world, manager, caplog):
    caplog.set_level(logging.WARNING)
    url = preview_url(upload(client, world.institution_a, HAPPY))
    print_ = fingerprint(client, url)
    first = confirm(client, url, print_, follow=False)
    after_first = counts()
    second = confirm(client, url, print_).get_data(as_text=True)
    assert first.status_code == 302
    assert "already been imported" in second and 'data-testid="import-done"' in second
    assert counts() == after_first
    assert len(invitation_links(caplog)) == 2
    assert db.session.scalar(db.select(db.func.count(AuditEvent.id)).where(
        AuditEvent.action == "enrolment.import")) == 1


def test_a_second_upload_after_the_import_shows_already_enrolled(client, world, manager):
    confirm(client, preview_url(upload(client, world.institution_a, HAPPY)))
    url = preview_url(upload(client, world.institution_a, HAPPY))
    page = client.get(url).get_data(as_text=True)
    assert page.count("Already a member: nothing to do") == 3 and "Already enrolled:" in page
    assert "Nothing to import" in page and 'data-testid="confirm-import" disabled' in page


def test_two_uploads_of_the_same_file_confirmed_in_parallel_never_duplicate(client, world, manager, monkeypatch):
    new_people = HAPPY.rsplit("learner@a.org", 1)[0]
    first = preview_url(upload(client, world.institution_a, new_people))
    second = preview_url(upload(client, world.institution_a, new_people))
    first_print, second_print = fingerprint(client, first), fingerprint(client, second)
    confirm(client, first, first_print)
    after = counts()

    # The other tab confirms what it previewed before the first import: re-checked, nothing imported.
    changed = confirm(client, second, second_print).get_data(as_text=True)
    assert "something has changed since this preview" in changed and "Already a member" in changed
    assert counts() == after

    # A true race, where the check cannot see the other import yet: the unique e-mail stops it whole.
    monkeypatch.setattr(bulk, "existing_accounts", lambda emails: {})
    raced = confirm(client, second, second_print).get_data(as_text=True)
    assert "the database refused the change" in raced
    assert counts() == after
    assert db.session.get(BulkImport, int(second.rsplit("/", 1)[1])).status == BulkImport.PREVIEW


def test_another_institution_and_other_roles_are_kept_out(client, auth, world, manager):
    url = preview_url(upload(client, world.institution_a, HAPPY))
    import_id = url.rsplit("/", 1)[1]
    print_ = fingerprint(client, url)
    auth.as_user(world.manager_b)
    assert client.get(url).status_code == 404
    assert client.post(url + "/confirm", data={"fingerprint": print_}).status_code == 404
    own_prefix = f"/institutions/{world.institution_b.id}/enrolments/imports/{import_id}"
    assert client.get(own_prefix).status_code == 404
    assert client.post(own_prefix + "/confirm", data={"fingerprint": print_}).status_code == 404
    assert client.get(f"/institutions/{world.institution_a.id}/enrolments/upload").status_code == 404
    auth.as_user(world.learner)
    assert client.get(url).status_code == 403
    assert client.post(url + "/confirm", data={"fingerprint": print_}).status_code == 403
    assert find_user_by_email("ana.new@a.org") is None
    auth.as_user(world.admin)
    assert client.get(url).status_code == 200


def test_upload_page_explains_the_format_and_the_institution_page_links_to_it(client, world, manager):
    page = client.get(f"/institutions/{world.institution_a.id}/enrolments/upload").get_data(as_text=True)
    assert "/static/templates/bulk-enrolment-template.csv" in page
    assert "intro-course" in page and "law_enforcement" in page and "No files uploaded yet." in page
    template = client.get("/static/templates/bulk-enrolment-template.csv")
    assert template.data.decode("utf-8-sig").strip() == "email,name,track,courses"
    template.close()
    detail = client.get(f"/institutions/{world.institution_a.id}").get_data(as_text=True)
    assert f"/institutions/{world.institution_a.id}/enrolments/upload" in detail


def test_deactivated_and_institutionless_accounts_are_problems(client, world, manager):
    gone = factories.make_user("gone@a.org", institution=world.institution_a)
    gone.active = False
    db.session.commit()
    content = "email,name,track,courses\ngone@a.org,Gone,cert,\nadmin@academy.org,Admin,cert,\n"
    page = client.get(preview_url(upload(client, world.institution_a, content))).get_data(as_text=True)
    assert "deactivated" in page and "outside any institution" in page


def test_the_preview_is_paginated(client, world, manager):
    lines = "".join(f"p{n:03d}@a.org,Person {n},cert,\n" for n in range(150))
    url = preview_url(upload(client, world.institution_a, "email,name,track,courses\n" + lines))
    first = client.get(url).get_data(as_text=True)
    assert "p000@a.org" in first and "p120@a.org" not in first and "Import all 150 rows" in first
    assert "p120@a.org" in client.get(url + "?page=2").get_data(as_text=True)
    assert "p149@a.org" in client.get(url + "?page=99").get_data(as_text=True)


def test_checking_ten_thousand_rows_takes_a_handful_of_queries(app, world, course):
    from sqlalchemy import event

    rows = [{"line": n + 2, "email": f"p{n}@a.org", "name": f"P {n}", "track": "cert",
             "courses": "intro-course", "extra": False} for n in range(10_000)]
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        check = bulk.check_rows(world.institution_a, rows)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert check.count(bulk.NEW) == 10_000 and check.errors == 0
    assert len(statements) < 30
