import pytest

from academy.accounts.models import Role
from academy.extensions import db
from academy.institutions.permissions import can_view_staff
from academy.organisations.models import Institution
from tests import factories
from tests.conftest import ANY_HOST_BEHIND_A_PROXY, EVIL_HOST, keep_signed_in_on


def test_manager_sees_own_staff_and_code(client, auth, world):
    auth.as_user(world.manager_a)
    page = client.get(f"/institutions/{world.institution_a.id}").get_data(as_text=True)
    assert "learner@a.org" in page and world.institution_a.invitation_code in page
    assert "manager@b.org" not in page


@pytest.mark.parametrize("settings", [ANY_HOST_BEHIND_A_PROXY])
def test_registration_link_is_on_the_public_url(client, auth, world, hostile_headers):
    auth.as_user(world.manager_a)
    keep_signed_in_on(client)
    page = client.get(f"/institutions/{world.institution_a.id}", headers=hostile_headers).get_data(as_text=True)
    code = world.institution_a.invitation_code
    assert f'href="http://localhost/account/register?code={code}"' in page and EVIL_HOST not in page


def test_manager_of_another_institution_gets_404(client, auth, world):
    auth.as_user(world.manager_b)
    assert client.get(f"/institutions/{world.institution_a.id}").status_code == 404
    code = world.institution_a.invitation_code
    assert client.post(f"/institutions/{world.institution_a.id}/rotate-code").status_code == 404
    assert db.session.get(Institution, world.institution_a.id).invitation_code == code


def test_mine_redirects_to_own_institution(client, auth, world):
    auth.as_user(world.manager_b)
    response = client.get("/institutions/mine")
    assert response.headers["Location"].endswith(f"/institutions/{world.institution_b.id}/dashboard")


def test_rotating_code_invalidates_the_old_one(client, auth, world):
    old = world.institution_a.invitation_code
    auth.as_user(world.manager_a)
    client.post(f"/institutions/{world.institution_a.id}/rotate-code")
    auth.logout()
    response = client.post("/account/register", data={
        "invitation_code": old, "name": "Late Comer", "email": "late@a.org", "track": "policy",
        "password": "a long enough passphrase", "confirm": "a long enough passphrase"})
    assert b"This invitation code is not valid" in response.data


def test_staff_search_track_filter_and_pagination(app, client, auth, world):
    app.config["PAGE_SIZE"] = 5
    for n in range(12):
        factories.make_user(f"staff{n:02d}@a.org", institution=world.institution_a, name=f"Staff {n:02d}")
    db.session.commit()
    auth.as_user(world.manager_a)
    page = client.get(f"/institutions/{world.institution_a.id}?q=staff").get_data(as_text=True)
    assert "12 staff members" in page and "staff00@a.org" in page and "staff07@a.org" not in page
    page3 = client.get(f"/institutions/{world.institution_a.id}?q=staff&page=3").get_data(as_text=True)
    assert "staff11@a.org" in page3
    cert = client.get(f"/institutions/{world.institution_a.id}?track=cert").get_data(as_text=True)
    assert "Nobody matches these filters." in cert


def test_empty_institution_shows_helpful_empty_state(client, auth, world):
    empty = factories.make_institution("Empty Office")
    db.session.commit()
    auth.as_user(world.admin)
    page = client.get(f"/institutions/{empty.id}").get_data(as_text=True)
    assert "No staff have registered yet." in page


def test_can_view_staff_rules(world):
    assert can_view_staff(world.manager_a, world.institution_a)
    assert not can_view_staff(world.manager_b, world.institution_a)
    assert not can_view_staff(world.learner, world.institution_a)
    assert can_view_staff(world.admin, world.institution_b)
    assert Role.MANAGER in world.manager_a.roles
