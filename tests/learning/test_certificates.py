import io
import re

import pytest
from pypdf import PdfReader

from academy.core.models import AuditEvent
from academy.extensions import db
from academy.learning import certificates, services
from academy.learning.certificates import find_certificate, issue_certificate
from academy.learning.models import Certificate, Enrolment, Module, QuizAttempt
from tests import factories
from tests.conftest import ANY_HOST_BEHIND_A_PROXY, EVIL_HOST, keep_signed_in_on

CODE = re.compile(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}")


@pytest.fixture
def holder(world):
    user = factories.make_user("ana@a.org", name="Ana Petrović", institution=world.institution_a)
    db.session.commit()
    return user


@pytest.fixture
def certificate(holder, course):
    issued = issue_certificate(holder, course)
    db.session.commit()
    return issued


def pass_quiz(user, course):
    """A passed attempt at every module's quiz, as the quiz would record it."""
    for module in db.session.scalars(db.select(Module).where(Module.course_id == course.id)):
        db.session.add(QuizAttempt(user_id=user.id, module_id=module.id, number=1, paper=[], answers={},
                                   correct=8, total=8, score=100, passed=True, submitted_at=module.created_at))
    db.session.commit()


def certificates_of(user):
    return db.session.scalars(db.select(Certificate).where(Certificate.user_id == user.id)).all()


def revoke(client, code, reason, follow_redirects=False, **fields):
    return client.post(f"/admin/certificates/{code}/revoke", data={"reason": reason, **fields},
                       follow_redirects=follow_redirects)


def audit_events():
    return db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "certificate.revoke")).all()


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_completing_the_course_issues_exactly_one_certificate(client, auth, holder, course):
    auth.as_user(holder)
    client.post(f"/courses/{course.slug}/enrol")
    pass_quiz(holder, course)
    client.post(f"/courses/{course.slug}/lessons/first-lesson/done")
    assert certificates_of(holder) == []
    response = client.post(f"/courses/{course.slug}/lessons/second-lesson/done", follow_redirects=True)
    assert "Your certificate is ready" in response.get_data(as_text=True)
    [certificate] = certificates_of(holder)
    assert CODE.fullmatch(certificate.code)
    assert (certificate.holder_name, certificate.course_title) == ("Ana Petrović", "An introduction")
    enrolment = db.session.scalar(db.select(Enrolment).where(Enrolment.user_id == holder.id))
    assert enrolment.completed_at is not None

    client.post(f"/courses/{course.slug}/lessons/second-lesson/done")
    enrolment.completed_at = None  # as if another path (a quiz pass) found the course complete again
    assert services.complete_if_done(holder, enrolment).id == certificate.id
    assert issue_certificate(holder, course).id == certificate.id
    db.session.commit()
    assert len(certificates_of(holder)) == 1


def test_each_certificate_gets_its_own_code(world, course):
    codes = {issue_certificate(user, course).code
             for user in (world.learner, world.trainer, world.manager_a, world.manager_b, world.admin)}
    assert len(codes) == 5 and all(CODE.fullmatch(code) for code in codes)


def test_holder_downloads_a_real_pdf_with_name_course_code_and_verification_url(client, auth, holder,
                                                                                   certificate):
    auth.as_user(holder)
    response = client.get(f"/certificates/{certificate.code}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f"attachment; filename=certificate-{certificate.code}.pdf"
    assert response.data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (842, 595)  # A4 landscape, in points
    text = pdf_text(response.data)
    for expected in ("Western Balkans Cybersecurity Academy", "Ana Petrović", "An introduction", certificate.code,
                     f"http://localhost/verify/{certificate.code}"):
        assert expected in text


@pytest.mark.parametrize("settings", [ANY_HOST_BEHIND_A_PROXY])
def test_the_verification_link_and_qr_code_are_on_the_public_url(client, auth, holder, certificate, monkeypatch,
                                                                  hostile_headers):
    encoded = []
    make = certificates.segno.make
    monkeypatch.setattr(certificates.segno, "make", lambda text, **kw: encoded.append(text) or make(text, **kw))
    auth.as_user(holder)
    keep_signed_in_on(client)
    verify = f"http://localhost/verify/{certificate.code}"
    response = client.get(f"/certificates/{certificate.code}.pdf", headers=hostile_headers)
    assert response.status_code == 200
    text = pdf_text(response.data)
    assert verify in text and EVIL_HOST not in text
    assert encoded == [verify]  # what the QR code says
    page = client.get(f"/verify/{certificate.code}", headers=hostile_headers).get_data(as_text=True)
    assert f'<link rel="canonical" href="{verify}">' in page and EVIL_HOST not in page


def test_pdf_is_only_for_the_holder_and_admins(client, auth, world, certificate):
    url = f"/certificates/{certificate.code}.pdf"
    assert client.get(url).status_code == 302
    for other in (world.learner, world.trainer, world.manager_a):
        auth.as_user(other)
        assert client.get(url).status_code == 404
    auth.as_user(world.admin)
    assert client.get(url).status_code == 200
    assert client.get("/certificates/ABCD-EFGH-JKLM.pdf").status_code == 404


def test_revoked_certificate_cannot_be_downloaded(client, auth, holder, certificate):
    certificate.revoked_at, certificate.revoked_reason = certificate.issued_at, "Issued in error"
    db.session.commit()
    auth.as_user(holder)
    response = client.get(f"/certificates/{certificate.code}.pdf")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/verify/{certificate.code}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "was revoked and can no longer be downloaded" in page


def test_verify_page_for_a_valid_certificate_needs_no_login(client, certificate):
    response = client.get(f"/verify/{certificate.code}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<meta name="robots" content="noindex">' in page
    for expected in ("Valid certificate", "Ana Petrović", "An introduction", "Western Balkans Cybersecurity Academy",
                     certificate.issued_at.strftime("%Y-%m-%d"), certificate.code):
        assert expected in page
    assert "Revoked" not in page


@pytest.mark.parametrize("typed", ["{code_lower}", " {code} ", "  {code_lower}\t", "{bare}"])
def test_verify_accepts_codes_as_people_type_them(client, certificate, typed):
    code = certificate.code
    url = "/verify/" + typed.format(code=code, code_lower=code.lower(), bare=code.replace("-", "").lower())
    response = client.get(url)
    assert response.status_code == 200
    assert "Valid certificate" in response.get_data(as_text=True)
    assert find_certificate(typed.format(code=code, code_lower=code.lower(), bare=code)).id == certificate.id


def test_verify_unknown_code_is_a_helpful_404(client, certificate):
    response = client.get("/verify/ZZZZ-ZZZZ-ZZZZ")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "No certificate has this code" in page and "ZZZZ-ZZZZ-ZZZZ" in page
    assert "ABCD-EFGH-JKLM" in page
    assert '<meta name="robots" content="noindex">' in page
    assert "Ana Petrović" not in page
    tampered = client.get("/verify/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    assert tampered.status_code == 404
    page = tampered.get_data(as_text=True)
    assert "No certificate has this code" in page
    assert "<img src=x" not in page and "&lt;img src=x" in page


def test_admin_revokes_with_a_reason_shown_on_the_page_and_in_the_api(client, auth, world, holder, certificate):
    auth.as_user(world.admin)
    response = revoke(client, certificate.code, "  Exam irregularity confirmed  ", next="/admin/certificates?q=ana")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/certificates?q=ana"
    assert "is revoked" in client.get(response.headers["Location"]).get_data(as_text=True)
    db.session.refresh(certificate)
    assert not certificate.is_valid
    assert certificate.revoked_reason == "Exam irregularity confirmed"
    assert certificate.revoked_by_id == world.admin.id

    auth.logout()
    page = client.get(f"/verify/{certificate.code.lower()}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Revoked certificate" in text and "Exam irregularity confirmed" in text
    assert certificate.revoked_at.strftime("%Y-%m-%d") in text
    body = client.get(f"/api/v1/certificates/{certificate.code}").get_json()
    assert body["valid"] is False
    assert body["revoked_reason"] == "Exam irregularity confirmed"
    assert body["revoked_at"].startswith(certificate.revoked_at.strftime("%Y-%m-%d"))


def test_revoke_writes_one_audit_event_and_the_first_revocation_stands(client, auth, world, holder, certificate):
    auth.as_user(world.admin)
    revoke(client, certificate.code, "Issued in error")
    [event] = audit_events()
    assert event.actor_id == world.admin.id
    assert event.target == certificate.code
    assert event.institution_id == world.institution_a.id
    assert event.detail["reason"] == "Issued in error"

    response = revoke(client, certificate.code, "A second opinion", follow_redirects=True)
    assert "already revoked" in response.get_data(as_text=True)
    db.session.refresh(certificate)
    assert certificate.revoked_reason == "Issued in error"
    assert len(audit_events()) == 1


@pytest.mark.parametrize("reason", ["", "   ", "ab", "x" * 501])
def test_revoke_without_a_proper_reason_changes_nothing(client, auth, world, certificate, reason):
    auth.as_user(world.admin)
    response = revoke(client, certificate.code, reason, follow_redirects=True)
    assert response.status_code == 200
    assert f"Certificate {certificate.code} was not revoked" in response.get_data(as_text=True)
    db.session.refresh(certificate)
    assert certificate.is_valid and certificate.revoked_reason is None
    assert audit_events() == []


@pytest.mark.parametrize("settings", [{"WTF_CSRF_ENABLED": True}])
def test_revoke_needs_the_csrf_token(client, auth, world, certificate, settings):
    auth.as_user(world.admin)
    revoke(client, certificate.code, "Issued in error")
    db.session.refresh(certificate)
    assert certificate.is_valid


def test_only_admins_revoke_and_unknown_codes_are_404(client, auth, world, certificate):
    for user in (world.learner, world.manager_a):
        auth.as_user(user)
        assert revoke(client, certificate.code, "Issued in error").status_code == 403
    auth.as_user(world.admin)
    assert revoke(client, "ZZZZ-ZZZZ-ZZZZ", "Issued in error").status_code == 404
    db.session.refresh(certificate)
    assert certificate.is_valid


def test_admin_list_searches_and_filters(client, auth, world, holder, course, certificate):
    other = issue_certificate(world.learner, course)
    other.revoked_at, other.revoked_reason = other.issued_at, "Duplicate account"
    db.session.commit()
    auth.as_user(world.admin)

    def listed(query=""):
        page = client.get(f"/admin/certificates{query}").get_data(as_text=True)
        return {code for code in (certificate.code, other.code) if code in page}

    assert listed() == {certificate.code, other.code}
    assert listed(f"?q={certificate.code.lower()}") == {certificate.code}
    assert listed("?q=petrovi") == {certificate.code}
    assert listed("?q=learner@a.org") == {other.code}
    assert listed("?status=valid") == {certificate.code}
    assert listed("?status=revoked") == {other.code}
    assert listed("?q=nobody&status=valid") == set()
    assert listed("?q=%25") == set()  # a LIKE wildcard is searched for, not obeyed
    assert "Duplicate account" in client.get("/admin/certificates?status=revoked").get_data(as_text=True)


def test_api_returns_the_certificate_without_a_token(client, certificate, course):
    response = client.get(f"/api/v1/certificates/{certificate.code.lower()}")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"code", "valid", "holder_name", "course_title", "course_slug", "issued_at", "revoked_at",
                         "revoked_reason"}
    assert body["code"] == certificate.code
    assert body["valid"] is True
    assert (body["holder_name"], body["course_title"], body["course_slug"]) == ("Ana Petrović", "An introduction",
                                                                               course.slug)
    assert body["issued_at"].startswith(certificate.issued_at.strftime("%Y-%m-%dT"))
    assert body["revoked_at"] is None and body["revoked_reason"] is None


def test_api_unknown_code_is_404_in_the_error_shape(client):
    response = client.get("/api/v1/certificates/ZZZZ-ZZZZ-ZZZZ")
    assert response.status_code == 404
    assert response.content_type.startswith("application/json")
    body = response.get_json()
    assert body["code"] == 404 and body["status"] == "Not Found"
    assert "ABCD-EFGH-JKLM" in body["message"]


def test_openapi_document_describes_the_certificate_endpoint(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/certificates/{code}"]["get"]
    assert {"200", "404"} <= set(operation["responses"])
    assert "security" not in operation
    schema = spec["components"]["schemas"]["Certificate"]
    assert {"code", "valid", "holder_name", "revoked_reason"} <= set(schema["properties"])


@pytest.mark.parametrize(("tag", "name"), [("sr-Cyrl", "Ђорђе Ћирић-Љубојевић"), ("mk", "Ѓорѓи Ќостовски"),
                                         ("sq", "Ëndërita Çelaj"), ("cnr", "Šćepan Đukanović")])
def test_a_certificate_prints_the_holders_script_and_the_english_with_embedded_fonts(app, course, tag, name):
    holder = factories.make_user(name=name)
    certificate = issue_certificate(holder, course)
    db.session.commit()
    data = certificates.certificate_pdf(certificate, "https://academy.example/verify/X", tag=tag)
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert holder.name in text  # what was written, read back from the PDF
    assert "Certificate of completion" in text  # the English beneath
    fonts = [font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()]
    assert fonts and all("/FontFile2" in font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
                         for font in fonts if "/DescendantFonts" in font)  # embedded, not taken from the machine
    assert {"/DescendantFonts" in font for font in fonts} == {True}
