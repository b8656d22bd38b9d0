"""Every registered route × every kind of caller: who gets in, who is refused, who sees 404.

Adding a route without adding its line here fails test_every_route_has_an_expectation.
"""
import importlib
from pathlib import Path
from types import SimpleNamespace

import pytest

from academy.extensions import db
from tests import factories
from tests.conftest import Kept, bind_process_state, keep, restore, rolled_back, sync_fixture_course
from tests.route_rows import (
    ADMIN_200,
    ANON_ONLY,
    API_SIGNED_IN,
    EVERYONE_200,
    PERSONAS,
    REDIRECT_ALL,
    SIGNED_IN_200,
    row,
)

# (endpoint, method) -> (url builder, expected status per persona)
EXPECTATIONS = {
    ("core.index", "GET"): (lambda w: "/", ANON_ONLY),
    ("core.healthz", "GET"): (lambda w: "/healthz", EVERYONE_200),
    ("core.languages", "GET"): (lambda w: "/languages", EVERYONE_200),
    ("accounts.choose_language", "POST"): (lambda w: "/account/language", REDIRECT_ALL),
    ("api.list_locales", "GET"): (lambda w: "/api/v1/locales", EVERYONE_200),
    ("api-docs.openapi_json", "GET"): (lambda w: "/api/v1/openapi.json", EVERYONE_200),
    ("accounts.login", "GET"): (lambda w: "/account/login", ANON_ONLY),
    ("accounts.login", "POST"): (lambda w: "/account/login", EVERYONE_200),
    ("accounts.logout", "POST"): (lambda w: "/account/logout", REDIRECT_ALL),
    ("accounts.register", "GET"): (lambda w: "/account/register", ANON_ONLY),
    ("accounts.register", "POST"): (lambda w: "/account/register", ANON_ONLY),
    ("accounts.profile", "GET"): (lambda w: "/account/", SIGNED_IN_200),
    ("accounts.change_password", "GET"): (lambda w: "/account/password", SIGNED_IN_200),
    ("accounts.change_password", "POST"): (lambda w: "/account/password", SIGNED_IN_200),
    ("accounts.request_reset", "GET"): (lambda w: "/account/reset", EVERYONE_200),
    ("accounts.request_reset", "POST"): (lambda w: "/account/reset", EVERYONE_200),
    ("accounts.reset_password", "GET"): (lambda w: "/account/reset/forged", REDIRECT_ALL),
    ("accounts.reset_password", "POST"): (lambda w: "/account/reset/forged", REDIRECT_ALL),
    ("accounts.create_token", "POST"): (lambda w: "/account/tokens", REDIRECT_ALL),
    ("accounts.revoke_token", "POST"): (lambda w: f"/account/tokens/{w.learner_token_id}/revoke",
                                        row(302, 302, 404, 404, 404, 404)),
    ("institutions.mine", "GET"): (lambda w: "/institutions/mine", row(302, 403, 403, 302, 302, 403)),
    ("institutions.detail", "GET"): (lambda w: f"/institutions/{w.institution_a.id}",
                                     row(302, 403, 403, 200, 404, 200)),
    ("institutions.rotate_code", "POST"): (lambda w: f"/institutions/{w.institution_a.id}/rotate-code",
                                           row(302, 403, 403, 302, 404, 302)),
    ("admin.index", "GET"): (lambda w: "/admin/", ADMIN_200),
    ("admin.institution_list", "GET"): (lambda w: "/admin/institutions", ADMIN_200),
    ("admin.new_institution", "GET"): (lambda w: "/admin/institutions/new", ADMIN_200),
    ("admin.new_institution", "POST"): (lambda w: "/admin/institutions/new", ADMIN_200),
    ("admin.edit_institution", "GET"): (lambda w: f"/admin/institutions/{w.institution_a.id}/edit", ADMIN_200),
    ("admin.edit_institution", "POST"): (lambda w: f"/admin/institutions/{w.institution_a.id}/edit", ADMIN_200),
    ("admin.user_list", "GET"): (lambda w: "/admin/users", ADMIN_200),
    ("admin.edit_user", "GET"): (lambda w: f"/admin/users/{w.learner.id}", ADMIN_200),
    ("admin.edit_user", "POST"): (lambda w: f"/admin/users/{w.learner.id}", ADMIN_200),
    ("admin.audit_log", "GET"): (lambda w: "/admin/audit", ADMIN_200),
    ("api.create_token", "POST"): (lambda w: "/api/v1/auth/token", row(422, 422, 422, 422, 422, 422)),
    ("api.revoke_token", "DELETE"): (lambda w: "/api/v1/auth/token", row(401, 204, 204, 204, 204, 204)),
    ("api.me", "GET"): (lambda w: "/api/v1/me", API_SIGNED_IN),
}

for _path in sorted(Path(__file__).resolve().parents[1].glob("*/routes_*.py")):
    _module = importlib.import_module(f"tests.{_path.parent.name}.{_path.stem}")
    EXPECTATIONS.update(_module.ROUTES)

IGNORED_ENDPOINTS = {"static"}


def registered_routes(app):
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules() if rule.endpoint not in IGNORED_ENDPOINTS
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_has_an_expectation(app):
    routes = registered_routes(app)
    missing = sorted(routes - EXPECTATIONS.keys())
    stale = sorted(EXPECTATIONS.keys() - routes)
    assert not missing, f"routes without an expectation in the matrix: {missing}"
    assert not stale, f"expectations for routes that no longer exist: {stale}"


@pytest.fixture(scope="module")
def cast(session_app, tmp_path_factory):
    """The world, the fixture course and a token of the learner's, made once for the module's tests: what each
    route and each test adds goes into SAVEPOINTs of this module's transaction, rolled back at their end."""
    restore(session_app)
    bind_process_state(session_app)
    keep(session_app)  # no data kept by the tests before: this module's goes in a transaction of its own
    with rolled_back(session_app):
        with session_app.app_context():
            world = factories.make_world()
            course = sync_fixture_course(tmp_path_factory.mktemp("matrix"))
            token = factories.issue_token(world.learner, "matrix")[0]
            db.session.commit()
            made = Kept(SimpleNamespace(**vars(world), course=course))
            learner_token_id = token.id
        yield made, learner_token_id


def read_world(cast) -> SimpleNamespace:
    """The module's world in the current database session."""
    made, learner_token_id = cast
    world = made.read()
    world.learner_token_id = learner_token_id
    return world


@pytest.fixture
def world(app, cast):
    return read_world(cast)


@pytest.fixture(scope="module")
def route(request, session_app, cast):
    """A route and its URL. What the URL builder makes (a session to run, a certificate …) is made once for the six
    callers, in a SAVEPOINT that each of their tests' own SAVEPOINT is rolled back to."""
    build_url, expected = EXPECTATIONS[request.param]
    with rolled_back(session_app):
        with session_app.app_context():
            url = build_url(read_world(cast))
            db.session.commit()
        yield SimpleNamespace(endpoint=request.param[0], method=request.param[1], url=url, expected=expected)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("route", sorted(EXPECTATIONS), ids=lambda r: f"{r[1]} {r[0]}", indirect=True)
def test_route_answers_as_expected(app, client, auth, world, route, persona):
    method, url = route.method, route.url
    headers = {}
    if persona != "anon":
        user = getattr(world, persona)
        auth.as_user(user)
        headers["Authorization"] = f"Bearer {factories.make_token(user)}"
    db.session.commit()
    if url.startswith("/api/"):
        kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        response = client.open(url, method=method, headers=headers, **kwargs)
    else:
        response = client.open(url, method=method, data={})
    assert response.status_code == route.expected[persona], (
        f"{method} {url} as {persona}: {response.status_code}, expected {route.expected[persona]}"
    )
