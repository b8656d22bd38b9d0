"""Markup planted in every field people fill in is shown as text wherever it appears, PDF sources included."""
import io
import re
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from markupsafe import escape
from pypdf import PdfReader

from academy.core import audit
from academy.extensions import db
from academy.institutions.tokens import issue_institution_token
from academy.learning.certificates import issue_certificate, revoke
from academy.tabletop import services, ticker
from tests import factories
from tests.tabletop.routes_reports import at, sync_fixture_scenario

SCRIPT, IMAGE, LINK = "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)"
PLAIN = f"M {SCRIPT}{IMAGE} {LINK}"  # fits the shortest field it goes into (80 characters)
MARKDOWN = (f"{PLAIN} [click](javascript:alert(1)) <a href=\"javascript:alert(1)\">a</a> "
            f"![x](javascript:alert(1)) [ok](JaVaScRiPt:alert(1))")
SHOWN = str(escape(IMAGE))  # the planted field is on the page, as text
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcdoc"}


class LiveMarkup(HTMLParser):
    """Everything in a page that a browser would run: inline scripts, handlers, javascript: URLs, the planted image."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script" and not values.get("src"):
            self.found.append(f"inline <script> at {self.getpos()}")
        if tag == "img" and values.get("src") == "x":
            self.found.append(f"planted <img> at {self.getpos()}")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}> at {self.getpos()}")
            if name in URL_ATTRIBUTES and "".join((value or "").split()).lower().startswith("javascript:"):
                self.found.append(f"{name}={value!r} on <{tag}> at {self.getpos()}")


def live_markup(html: str) -> list[str]:
    parser = LiveMarkup()
    parser.feed(html)
    parser.close()
    return parser.found


def test_the_detector_finds_live_markup_and_passes_escaped_text():
    assert len(live_markup(f"<p>{PLAIN}</p><a href=' JavaScript:x'>y</a><svg onload=x>")) == 5
    assert live_markup(f"<p>{escape(PLAIN)}</p><script src='/static/a.js'></script>") == []


DEFAULTS = dict(user_name="Lea Learner", institution_name="Ministry A", guest_name="Gita Guest",
                guest_institution="Invented Bank", rationale="Agreed line", adhoc_title="Press office call",
                adhoc_body="A journalist calls.", observation="Well done.", override_reason="Shared in writing",
                session_title="Drill", revoke_reason="Issued in error", api_token_name="laptop",
                institution_token_name="HR system", csv_name="Ana Novak", csv_filename="staff.csv",
                audit_detail="routine")


EXERCISE_PAGES = {"sessions", "console", "play", "report", "debrief", "report pdf"}
UPLOAD_PAGES = {"bulk upload", "bulk preview"}


def build(client, auth, world, course, where, **planted) -> SimpleNamespace:
    """The places people type text into, filled with the defaults except what the test plants; an exercise and an
    upload only when one of the pages `where` names shows them."""
    text = SimpleNamespace(**{**DEFAULTS, **planted})
    world.learner.name = text.user_name
    world.institution_a.name = text.institution_name
    factories.issue_token(world.learner, text.api_token_name)
    issue_institution_token(world.institution_a, text.institution_token_name)
    certificate = issue_certificate(world.learner, course)
    revoked = issue_certificate(world.trainer, course)
    revoke(revoked, text.revoke_reason, world.admin)
    audit.record("export.download", actor=world.manager_a, target="report", institution_id=world.institution_a.id,
                 note=text.audit_detail)
    live = _exercise(world, text) if EXERCISE_PAGES & set(where) else None
    db.session.commit()
    preview = _upload(client, auth, world, text) if UPLOAD_PAGES & set(where) else None
    return SimpleNamespace(certificate=certificate, revoked=revoked, live=live, preview=preview)


def _upload(client, auth, world, text) -> str:
    """A CSV of one new person, uploaded and imported by manager A; the URL of its preview."""
    auth.as_user(world.manager_a)
    upload = client.post(f"/institutions/{world.institution_a.id}/enrolments/upload",
                         data={"file": (io.BytesIO(f"email,name,track,courses\nana@a.org,{text.csv_name},cert,\n"
                                                   .encode()), text.csv_filename)},
                         content_type="multipart/form-data")
    preview = upload.headers["Location"]
    fingerprint = client.get(preview).get_data(as_text=True).split('name="fingerprint" type="hidden" value="')[1]
    client.post(preview + "/confirm", data={"fingerprint": fingerprint.split('"')[0]})
    return preview


def _exercise(world, text):
    """A session under way: the learner (CERT) has answered and got an ad-hoc inject; a guest plays the bank."""
    live = services.create_session(world.trainer, sync_fixture_scenario(), text.session_title, allow_guests=True)
    learner = services.join(live, user=world.learner)
    guest = services.join(live, guest_name=text.guest_name, guest_institution=text.guest_institution)
    services.assign_role(live, learner, "cert", world.trainer)
    services.assign_role(live, guest, "operator", world.trainer)
    services.run_command(live, "start", world.trainer, now=at(0))
    ticker.tick(live, now=at(0))
    services.decide(live, learner, "alert-bank-portal", "call-neighbour", text.rationale, now=at(2))
    services.observe(live, text.observation, world.trainer, inject_id="alert-bank-portal", objective="cert-share")
    services.override_score(live, world.trainer, 1, text.override_reason, objective="cert-share")
    services.release_adhoc(live, text.adhoc_title, text.adhoc_body, {"participant": learner.id}, world.trainer,
                           now=at(3))
    return live


def pages(world, made):
    """(who, URL) of every page, ("pdf", who, URL) of every PDF whose source HTML is checked, and ("text pdf", who,
    URL) of the PDF drawn as lines of text (no HTML, so no markup: the planted text must be printed as it is), by
    name. A PDF made by a job is asked for with a POST (its URL ends in "report.pdf" or "completion")."""
    a, live = world.institution_a.id, getattr(made.live, "id", 0)
    return {
        "account": ("learner", "/account/"),
        "admin users": ("admin", "/admin/users"),
        "admin user": ("admin", f"/admin/users/{world.learner.id}"),
        "admin institutions": ("admin", "/admin/institutions"),
        "audit log": ("admin", "/admin/audit"),
        "certificates": ("admin", "/admin/certificates"),
        "verify": ("anon", f"/verify/{made.certificate.code}"),
        "verify revoked": ("anon", f"/verify/{made.revoked.code}"),
        "institution": ("manager_a", f"/institutions/{a}"),
        "dashboard": ("manager_a", f"/institutions/{a}/dashboard"),
        "institution tokens": ("manager_a", f"/institutions/{a}/tokens"),
        "bulk upload": ("manager_a", f"/institutions/{a}/enrolments/upload"),
        "bulk preview": ("manager_a", made.preview),
        "sessions": ("trainer", "/exercises"),
        "console": ("trainer", f"/exercises/sessions/{live}"),
        "play": ("learner", f"/exercises/play/{live}"),
        "report": ("trainer", f"/exercises/sessions/{live}/report"),
        "debrief": ("learner", f"/exercises/sessions/{live}/debrief"),
        "certificate pdf": ("pdf", "learner", f"/certificates/{made.certificate.code}.pdf"),
        "report pdf": ("pdf", "trainer", f"/exercises/sessions/{live}/report.pdf"),
        "completion pdf": ("text pdf", "manager_a", f"/institutions/{a}/reports/completion"),
    }


ENDED = {"report", "debrief", "report pdf"}  # after the end of the exercise
CASES = {
    "user name": ("user_name", PLAIN, ["account", "admin users", "admin user", "dashboard", "verify", "certificates",
                                       "console", "play", "report", "certificate pdf", "report pdf",
                                       "completion pdf"]),
    "institution name": ("institution_name", PLAIN, ["account", "admin institutions", "admin users", "institution",
                                                     "dashboard", "institution tokens",
                                                     "console", "report", "report pdf", "completion pdf"]),
    "guest name": ("guest_name", PLAIN, ["console", "report", "report pdf"]),
    "guest institution": ("guest_institution", PLAIN, ["console", "report", "report pdf"]),
    "free-text decision answer": ("rationale", PLAIN, ["console", "play", "report", "debrief", "report pdf"]),
    "ad-hoc inject title": ("adhoc_title", PLAIN, ["console", "play", "report", "report pdf"]),
    "ad-hoc inject text": ("adhoc_body", MARKDOWN, ["console", "play"]),
    "trainer observation": ("observation", MARKDOWN, ["console", "report", "report pdf"]),
    "score override reason": ("override_reason", PLAIN, ["console", "report", "report pdf"]),
    "session title": ("session_title", PLAIN, ["sessions", "console", "play", "report", "debrief", "report pdf"]),
    "revoke reason": ("revoke_reason", PLAIN, ["certificates", "verify revoked", "audit log"]),
    "audit log detail": ("audit_detail", PLAIN, ["audit log"]),
    "API token name": ("api_token_name", PLAIN, ["account"]),
    "institution token name": ("institution_token_name", PLAIN, ["institution tokens"]),
    "CSV-imported name": ("csv_name", PLAIN, ["bulk preview", "dashboard", "admin users", "completion pdf"]),
    "CSV file name": ("csv_filename", PLAIN.replace("</script>", "") + ".csv",
                      ["bulk upload", "bulk preview", "audit log"]),
}


@pytest.fixture
def pdf_sources(monkeypatch):
    """The HTML each PDF is made from, as WeasyPrint receives it (no PDF is drawn)."""
    sources = []

    class Capture:
        def __init__(self, string, **kwargs):
            sources.append(string)

        def write_pdf(self, *args, **kwargs):
            return b"%PDF-1.7 captured"

    monkeypatch.setattr("weasyprint.HTML", Capture)
    return sources


def fetch(client, url):
    """A page, or a PDF: one made by a job is posted for, then downloaded from its job's page."""
    if not url.endswith(("report.pdf", "/reports/completion")):
        return client.get(url)
    asked = client.post(url, data={"format": "pdf", "from": "2026-01-01", "to": "2026-12-31"})
    page = client.get(asked.headers["Location"]).get_data(as_text=True)
    return client.get(re.search(r'data-testid="job-file" href="([^"]+)"', page).group(1))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_planted_markup_is_shown_as_text_everywhere(client, auth, world, course, pdf_sources, case):
    field, payload, where = CASES[case]
    made = build(client, auth, world, course, where, **{field: payload})
    every = pages(world, made)
    problems = []
    for name in sorted(where, key=lambda page: page in ENDED):
        if name in ENDED and made.live.status != "ended":
            services.run_command(made.live, "end", world.trainer, now=at(10))
            db.session.commit()
        *pdf, who, url = every[name]
        if who == "anon":
            with client.session_transaction() as session:
                session.clear()
        else:
            auth.as_user(getattr(world, who))
        response = fetch(client, url)
        assert response.status_code == 200, f"{name}: {url} answered {response.status_code}"
        if pdf == ["text pdf"]:
            text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
            if "".join(payload.split()) not in "".join(text.split()):  # a long word may wrap anywhere
                problems.append(f"{name}: the {case} is not printed as it was typed")
            continue
        html = pdf_sources.pop() if pdf else response.get_data(as_text=True)
        if SHOWN not in html:
            problems.append(f"{name}: the {case} is not on the page (or not escaped as expected)")
        problems += [f"{name}: {found}" for found in live_markup(html)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("url", ["/verify/{}", "/admin/certificates?q={}", "/admin/users?q={}",
                                 "/admin/audit?actor={}", "/courses?track={}", "/join?code={}"])
def test_what_a_link_puts_in_the_address_comes_back_as_text(client, auth, world, url):
    auth.as_user(world.admin)
    response = client.get(url.format(quote(IMAGE)))
    assert response.status_code in (200, 400, 404)
    assert live_markup(response.get_data(as_text=True)) == []
