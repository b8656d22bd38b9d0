from datetime import timedelta

from academy.accounts.models import Role, User
from academy.core.models import AuditEvent, utcnow
from academy.extensions import db
from academy.organisations.models import Country, Institution


def country_id(code):
    return db.session.scalar(db.select(Country.id).where(Country.code == code))


def audit_actions():
    return [e.action for e in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))]


def test_admin_creates_institution_with_invitation_code(client, auth, world):
    auth.as_user(world.admin)
    response = client.post("/admin/institutions/new", data={
        "name": "Ministry of Interior (test)", "country": country_id("XK"), "sector": "law"})
    assert response.status_code == 302
    institution = db.session.scalar(db.select(Institution).where(Institution.name == "Ministry of Interior (test)"))
    assert institution.country.name == "Kosovo*"
    assert len(institution.invitation_code) == 10
    assert "institution.create" in audit_actions()


def test_duplicate_institution_name_is_refused(client, auth, world):
    auth.as_user(world.admin)
    before = db.session.scalar(db.select(db.func.count(Institution.id)))
    response = client.post("/admin/institutions/new", data={
        "name": "ministry a", "country": country_id("AL"), "sector": "ministry"})
    assert response.status_code == 200
    assert b"already exists" in response.data
    assert db.session.scalar(db.select(db.func.count(Institution.id))) == before


def test_bad_country_or_sector_is_refused(client, auth, world):
    auth.as_user(world.admin)
    for data in ({"name": "X", "country": 99999, "sector": "ministry"},
                 {"name": "X", "country": country_id("AL"), "sector": "pirates"},
                 {"name": "X", "country": "abc", "sector": "ministry"}):
        response = client.post("/admin/institutions/new", data=data)
        assert response.status_code == 200
    assert db.session.scalar(db.select(Institution).where(Institution.name == "X")) is None


def test_edit_institution_and_rotate_code(client, auth, world):
    auth.as_user(world.admin)
    old_code = world.institution_a.invitation_code
    response = client.post(f"/admin/institutions/{world.institution_a.id}/edit", data={
        "name": "Ministry A renamed", "country": country_id("ME"), "sector": "regulator", "active": "y"})
    assert response.status_code == 302
    client.post(f"/institutions/{world.institution_a.id}/rotate-code", data={"back": "admin"})
    institution = db.session.get(Institution, world.institution_a.id)
    assert institution.name == "Ministry A renamed"
    assert institution.country.code == "ME"
    assert institution.invitation_code != old_code
    assert {"institution.update", "institution.rotate_code"} <= set(audit_actions())


def test_unknown_institution_is_404(client, auth, world):
    auth.as_user(world.admin)
    assert client.get("/admin/institutions/99999/edit").status_code == 404
    assert client.get("/admin/users/99999").status_code == 404


def test_admin_changes_roles_and_deactivates(client, auth, world):
    auth.as_user(world.admin)
    response = client.post(f"/admin/users/{world.learner.id}", data={
        "roles": ["learner", "trainer"], "institution": world.institution_a.id, "track": "cert"})
    assert response.status_code == 302
    user = db.session.get(User, world.learner.id)
    assert user.roles == {Role.LEARNER, Role.TRAINER}
    assert user.active is False
    actions = audit_actions()
    assert "role.grant" in actions and "user.deactivate" in actions


def test_admin_cannot_remove_own_admin_role(client, auth, world):
    auth.as_user(world.admin)
    response = client.post(f"/admin/users/{world.admin.id}", data={
        "roles": ["learner"], "institution": 0, "track": "", "active": "y"}, follow_redirects=True)
    assert b"cannot remove your own admin role" in response.data
    assert db.session.get(User, world.admin.id).is_admin


def test_manager_needs_an_institution(client, auth, world):
    auth.as_user(world.admin)
    response = client.post(f"/admin/users/{world.learner.id}", data={
        "roles": ["manager"], "institution": 0, "track": "", "active": "y"}, follow_redirects=True)
    assert b"must belong to an institution" in response.data
    assert db.session.get(User, world.learner.id).roles == {Role.LEARNER}


def test_tampered_role_or_institution_changes_nothing(client, auth, world):
    auth.as_user(world.admin)
    for data in ({"roles": ["emperor"], "institution": world.institution_a.id, "active": "y"},
                 {"roles": ["learner"], "institution": 424242, "active": "y"}):
        response = client.post(f"/admin/users/{world.learner.id}", data=data)
        assert response.status_code == 200
    user = db.session.get(User, world.learner.id)
    assert user.roles == {Role.LEARNER} and user.institution_id == world.institution_a.id


def test_user_list_filters(client, auth, world):
    auth.as_user(world.admin)
    page = client.get("/admin/users?role=manager").get_data(as_text=True)
    assert "manager@a.org" in page and "manager@b.org" in page and "learner@a.org" not in page
    page = client.get(f"/admin/users?institution={world.institution_b.id}").get_data(as_text=True)
    assert "manager@b.org" in page and "manager@a.org" not in page
    page = client.get("/admin/users?q=LEARNER").get_data(as_text=True)
    assert "learner@a.org" in page and "trainer@a.org" not in page
    assert client.get("/admin/users?page=abc&institution=zz").status_code == 200


def test_audit_log_filters_by_action_actor_and_dates(client, auth, world):
    auth.login("learner@a.org", "wrong password here")
    auth.login("learner@a.org")
    auth.logout()
    auth.as_user(world.admin)
    page = client.get("/admin/audit?action=login.failure").get_data(as_text=True)
    assert "Failed sign-in" in page and "Signed in</td>" not in page
    page = client.get("/admin/audit?actor=learner@a").get_data(as_text=True)
    assert "learner@a.org" in page
    today = utcnow().date()
    page = client.get(f"/admin/audit?date_from={today + timedelta(days=1)}").get_data(as_text=True)
    assert "No event matches these filters." in page
    response = client.get(f"/admin/audit?date_from={today}&date_to={today - timedelta(days=2)}")
    assert b"The end date is before the start date." in response.data


def test_audit_log_paginates(client, auth, world):
    from academy.core import audit

    with client.application.test_request_context():
        for n in range(60):
            audit.record("export.download", actor=world.admin, target=f"report {n}")
    db.session.commit()
    auth.as_user(world.admin)
    first = client.get("/admin/audit?action=export.download").get_data(as_text=True)
    second = client.get("/admin/audit?action=export.download&page=2").get_data(as_text=True)
    assert "report 59" in first and "report 0<" not in first
    assert "report 0<" in second
    assert client.get("/admin/audit?page=999").status_code == 200
