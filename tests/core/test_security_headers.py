"""Security headers on every kind of answer, HSTS only in production, and templates the CSP can live with."""
import re
from pathlib import Path

from academy import create_app
from academy.config import Config
from academy.learning import services as learning
from tests import factories
from tests.conftest import build_settings
from tests.core.test_route_matrix import EXPECTATIONS
from tests.route_rows import PERSONAS

ACADEMY = Path(__file__).resolve().parents[2] / "academy"
TEMPLATES = sorted(ACADEMY.glob("**/templates/**/*.html"))
# Templates only WeasyPrint reads, on the server: their <style> block never reaches a browser.
PDF_TEMPLATES = {path for path in TEMPLATES if path.name.endswith("_pdf.html")}

EXPECTED_CSP = {
    "default-src": {"'self'"}, "script-src": {"'self'"}, "style-src": {"'self'"}, "img-src": {"'self'", "data:"},
    "connect-src": {"'self'"}, "object-src": {"'none'"}, "base-uri": {"'self'"}, "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}
DOWNLOADS = {  # endpoint -> the Content-Type it must declare
    "institutions.completion_report": "text/csv; charset=utf-8",
    "learning.certificate_pdf": "application/pdf",
    "tabletop.report_json": "application/json",
    "core.job_file": "application/pdf",
}


def csp_of(response) -> dict[str, set[str]]:
    directives = [part.split() for part in response.headers.get("Content-Security-Policy", "").split(";")]
    return {words[0]: set(words[1:]) for words in directives if words}


def header_problems(response, what: str, referrer="strict-origin-when-cross-origin") -> list[str]:
    """Every header this answer lacks or gets wrong, as readable lines."""
    headers = response.headers
    csp = csp_of(response)
    expected = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": referrer}
    problems = [f"{what}: {name} is {headers.get(name)!r}, not {value!r}"
                for name, value in expected.items() if headers.get(name) != value]
    if csp != EXPECTED_CSP:
        problems.append(f"{what}: Content-Security-Policy is {headers.get('Content-Security-Policy')!r}")
    policy = headers.get("Permissions-Policy", "")
    if not all(f"{feature}=()" in policy for feature in ("camera", "microphone", "geolocation")):
        problems.append(f"{what}: Permissions-Policy is {policy!r}")
    if "Strict-Transport-Security" in headers:
        problems.append(f"{what}: HSTS outside production")
    return problems


def sign_in_as(client, auth, world, persona, tokens) -> dict:
    """The browser session and the API token of a persona (none for anonymous visitors)."""
    if persona == "anon":
        with client.session_transaction() as session:
            session.clear()
        return {}
    user = auth.as_user(getattr(world, persona))
    if persona not in tokens:
        tokens[persona] = factories.make_token(user)
    return {"Authorization": f"Bearer {tokens[persona]}"}


def test_every_page_api_answer_stream_and_download_carries_the_headers(app, client, auth, world, course):
    """Every GET route of the route matrix, as someone who gets the page itself wherever someone does."""
    world.course = course
    world.learner_token_id = factories.issue_token(world.learner, "walk")[0].id
    tokens, problems, seen = {}, [], set()
    for (endpoint, method), (build_url, expected) in sorted(EXPECTATIONS.items()):
        if method != "GET":
            continue
        persona = next((who for who in PERSONAS if expected[who] == 200), "anon")
        headers = sign_in_as(client, auth, world, persona, tokens)
        url = build_url(world)
        response = client.get(url, headers=headers if url.startswith("/api/") else {})
        what = f"GET {url} as {persona}"
        assert response.status_code == expected[persona], what
        referrer = "no-referrer" if endpoint == "accounts.reset_password" else "strict-origin-when-cross-origin"
        problems += header_problems(response, what, referrer)
        if endpoint in DOWNLOADS:
            if response.headers["Content-Type"] != DOWNLOADS[endpoint]:
                problems.append(f"{what}: Content-Type {response.headers['Content-Type']!r}")
            if not response.headers.get("Content-Disposition", "").startswith("attachment; filename="):
                problems.append(f"{what}: not an attachment")
        seen.add(response.mimetype)
        response.close()
    assert not problems, "\n".join(problems)
    assert {"text/html", "application/json", "text/csv", "application/pdf", "text/event-stream"} <= seen


def test_lesson_errors_static_files_and_other_downloads_carry_the_headers(app, client, auth, world, course,
                                                                          monkeypatch):
    auth.as_user(world.learner)
    learning.enrol(world.learner, course)
    answers = {"a lesson with rendered Markdown": client.get(f"/courses/{course.slug}/lessons/first-lesson"),
               "a 404 page": client.get("/no/such/page"),
               "a 404 in the API": client.get("/api/v1/no/such/thing"),
               "a 403 page": client.get("/admin/"),
               "a 413 answer": client.post("/account/password", data={"current": "x" * (5 * 1024 * 1024 + 1)}),
               "a static script": client.get("/static/js/live.js")}
    auth.as_user(world.manager_a)
    report = f"/institutions/{world.institution_a.id}/reports/completion"
    downloads = {}
    for fmt in ("xlsx", "pdf"):  # made by a job (at once in tests), downloaded from the job's page
        job_page = client.post(report, data={"from": "2026-01-01", "to": "2026-06-30", "format": fmt})
        page = client.get(job_page.headers["Location"]).get_data(as_text=True)
        downloads[fmt] = client.get(re.search(r'data-testid="job-file" href="([^"]+)"', page).group(1))
    downloads["api csv"] = client.get(f"/api/v1/institutions/{world.institution_a.id}/completion-report?format=csv"
                                      "&from=2026-01-01&to=2026-06-30",
                                      headers={"Authorization": f"Bearer {factories.make_token(world.manager_a)}"})

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("academy.core.views.render_template", explode)
    auth.logout()
    answers["a 500 page"] = client.get("/")
    expected_status = {"a lesson with rendered Markdown": 200, "a 404 page": 404, "a 404 in the API": 404,
                       "a 403 page": 403, "a 413 answer": 413, "a static script": 200, "a 500 page": 500}
    problems = []
    for what, response in answers.items():
        assert response.status_code == expected_status[what], what
        problems += header_problems(response, what)
        response.close()
    assert 'class="lesson-body"' in answers["a lesson with rendered Markdown"].get_data(as_text=True)
    assert answers["a 404 in the API"].get_json()["code"] == 404
    for fmt, mimetype in (("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                          ("pdf", "application/pdf"), ("api csv", "text/csv; charset=utf-8")):
        response = downloads[fmt]
        assert response.status_code == 200 and response.headers["Content-Type"] == mimetype, fmt
        assert re.fullmatch(r'attachment; filename="?completion-report-ministry-a-2026-01-01-2026-06-30\.'
                            r'(xlsx|pdf|csv)"?', response.headers["Content-Disposition"]), fmt
        problems += header_problems(response, f"completion report, {fmt}")
    assert not problems, "\n".join(problems)


def test_script_and_style_sources_allow_nothing_inline(client):
    csp = csp_of(client.get("/account/login"))
    for directive in ("script-src", "style-src", "default-src"):
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "blob:"} & csp[directive], directive
        assert not any(source.startswith(("'nonce-", "'sha")) for source in csp[directive]), directive


def production_app(**overrides):
    """The security settings ACADEMY_ENV=production gives, on the test database and services."""
    settings = Config.from_environ({"ACADEMY_ENV": "production", "SECRET_KEY": "s" * 32,
                                    "PUBLIC_URL": "https://academy.example", "ALLOWED_HOSTS": "localhost"})
    security = ("HSTS_", "REFERRER_", "SESSION_COOKIE_", "REMEMBER_COOKIE_", "ENV_NAME", "SECRET_KEY", "PUBLIC_URL",
                "TRUSTED_HOSTS")
    test_services = {key: value for key, value in build_settings().items() if not key.startswith(security)}
    return create_app({**settings, **test_services, **overrides})


def test_hsts_for_a_year_in_production_behind_the_tls_proxy():
    app = production_app(PROXY_FIX=1)
    client = app.test_client()
    proxied = client.get("/static/css/academy.css", headers={"X-Forwarded-Proto": "https"})
    assert proxied.status_code == 200  # not redirected: TLS ends at the proxy
    assert proxied.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    direct = client.get("/static/css/academy.css", base_url="https://academy.example")
    assert direct.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    plain = client.get("/static/css/academy.css")  # browsers ignore HSTS over http; a redirect would loop
    assert plain.status_code == 200 and "Strict-Transport-Security" not in plain.headers
    for response in (proxied, direct, plain):
        response.close()


def test_no_hsts_in_development_even_over_https():
    app = create_app({**Config.from_environ({}), **build_settings()})
    response = app.test_client().get("/static/css/academy.css", base_url="https://localhost")
    assert response.status_code == 200 and "Strict-Transport-Security" not in response.headers
    assert response.headers["Content-Security-Policy"] and response.headers["X-Frame-Options"] == "DENY"
    response.close()


def test_session_cookie_flags_stay_as_configured(client, world):
    development = client.post("/account/login", data={"email": "learner@a.org", "password": factories.PASSWORD})
    cookie = next(value for value in development.headers.getlist("Set-Cookie") if value.startswith("session="))
    assert development.status_code == 302 and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in development: a Secure cookie would never come back
    app = production_app()
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax" and app.config["SESSION_COOKIE_HTTPONLY"]


# --- Templates the policy can live with ----------------------------------------------------------

JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\ssrc=)[^>]*>", re.I)
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.I)
STYLE_BLOCK = re.compile(r"<style\b", re.I)
JAVASCRIPT_URL = re.compile(r"javascript\s*:", re.I)


def template_problems(name: str, source: str, pdf_only: bool = False) -> list[str]:
    """What in one template a browser would refuse (or run) under the policy."""
    html = JINJA.sub(lambda match: re.sub(r"[^\n]", " ", match.group()), source)  # Jinja out, lines kept
    checks = [(INLINE_SCRIPT, "inline <script>"), (HANDLER, "on* event handler"), (STYLE_ATTRIBUTE, "style= attribute"),
              (JAVASCRIPT_URL, "javascript: URL")]
    if not pdf_only:
        checks.append((STYLE_BLOCK, "<style> block"))
    return [f"{name}:{html.count(chr(10), 0, match.start()) + 1}: {label}"
            for pattern, label in checks for match in pattern.finditer(html)]


def test_the_template_scan_finds_what_it_looks_for():
    bad = ('<script>alert(1)</script>\n<a href="javascript:void(0)">x</a>\n<button onclick="go()">\n'
           '<div class="x"\n     style="width: 5%">\n<style>p{}</style>\n<img src=x onerror=alert(1)>')
    assert [line.split(": ", 1)[1] for line in template_problems("bad.html", bad)] == [
        "inline <script>", "on* event handler", "on* event handler", "style= attribute", "javascript: URL",
        "<style> block"]
    fine = ('<script src="{{ url_for(\'static\', filename=\'js/a.js\') }}"></script>'
            '<p data-style-on="x" class="onward">{% if a > b %}on={{ x }}{% endif %}</p>')
    assert template_problems("fine.html", fine) == []
    assert template_problems("x_pdf.html", "<style>{% include 'x.css' %}</style>", pdf_only=True) == []


def test_templates_have_no_inline_script_handlers_styles_or_javascript_urls():
    assert len(TEMPLATES) > 40 and PDF_TEMPLATES
    problems = []
    for path in TEMPLATES:
        problems += template_problems(str(path.relative_to(ACADEMY)), path.read_text(), path in PDF_TEMPLATES)
    assert not problems, "\n".join(problems)


def test_pdf_templates_only_feed_weasyprint():
    """A *_pdf.html template may keep its <style> block only because no browser ever receives it."""
    names = {path.name for path in PDF_TEMPLATES}
    for module in ACADEMY.glob("**/*.py"):
        source = module.read_text()
        if any(name in source for name in names):
            assert "html_to_pdf(" in source, module  # the one way to WeasyPrint (academy/core/pdf.py)
    pdf = (ACADEMY / "core" / "pdf.py").read_text()
    assert "from weasyprint import HTML" in pdf
    assert "url_fetcher=" in pdf  # and WeasyPrint fetches nothing a name or answer names


def test_scripts_neither_evaluate_strings_nor_write_style_or_handler_attributes():
    problems = []
    for path in sorted((ACADEMY / "static" / "js").glob("*.js")):
        source = path.read_text()
        for pattern in (r"\beval\(", r"new Function\(", r"setAttribute\(\s*[\"']style", r"setAttribute\(\s*[\"']on",
                        r"setTimeout\(\s*[\"']", r"setInterval\(\s*[\"']", r"javascript:"):
            problems += [f"{path.name}: {pattern}" for _ in re.finditer(pattern, source)]
    assert not problems, "\n".join(problems)
