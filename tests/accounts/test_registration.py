from academy.accounts.models import Role, User, find_user_by_email
from academy.core.models import AuditEvent
from academy.extensions import db


def register_data(code, **overrides):
    data = {"invitation_code": code, "name": "Ana Analyst", "email": "Ana.Analyst@Example.org",
            "track": "cert", "password": "a long enough passphrase", "confirm": "a long enough passphrase"}
    data.update(overrides)
    return data


def count_users():
    return db.session.scalar(db.select(db.func.count(User.id)))


def test_register_with_invitation_code_creates_learner_and_signs_in(client, world):
    response = client.post("/account/register", data=register_data(world.institution_a.invitation_code.lower()))
    assert response.status_code == 302
    user = find_user_by_email("ana.analyst@example.org")
    assert user.email == "ana.analyst@example.org"
    assert user.institution_id == world.institution_a.id
    assert user.roles == {Role.LEARNER}
    assert user.track.value == "cert"
    assert client.get("/account/").status_code == 200
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "account.register"))


def test_wrong_invitation_code_is_refused_and_creates_nothing(client, world):
    before = count_users()
    response = client.post("/account/register", data=register_data("NOTACODE1"))
    assert response.status_code == 200
    assert b"This invitation code is not valid" in response.data
    assert count_users() == before


def test_inactive_institution_code_is_refused(client, world):
    world.institution_a.active = False
    db.session.commit()
    response = client.post("/account/register", data=register_data(world.institution_a.invitation_code))
    assert b"This invitation code is not valid" in response.data


def test_duplicate_email_case_insensitive_is_refused(client, world):
    before = count_users()
    response = client.post("/account/register", data=register_data(
        world.institution_a.invitation_code, email="LEARNER@A.ORG"))
    assert response.status_code == 200
    assert b"already exists" in response.data
    assert count_users() == before


def test_weak_password_is_refused_with_field_message(client, world):
    before = count_users()
    for weak in ("short", "password123", "aaaaaaaaaaaa", "ana.analyst-2026"):
        response = client.post("/account/register", data=register_data(
            world.institution_a.invitation_code, password=weak, confirm=weak))
        assert response.status_code == 200
        assert b'aria-invalid="true"' in response.data, weak
    assert count_users() == before


def test_mismatched_confirmation_is_refused(client, world):
    response = client.post("/account/register", data=register_data(
        world.institution_a.invitation_code, confirm="something else entirely"))
    assert b"The passwords do not match." in response.data
    assert find_user_by_email("ana.analyst@example.org") is None


def test_unknown_track_is_refused(client, world):
    response = client.post("/account/register", data=register_data(world.institution_a.invitation_code,
                                                                    track="astronaut"))
    assert response.status_code == 200
    assert find_user_by_email("ana.analyst@example.org") is None


def test_registration_page_prefills_code_from_link(client, world):
    response = client.get(f"/account/register?code={world.institution_a.invitation_code}")
    assert world.institution_a.invitation_code.encode() in response.data


def test_registration_form_has_labels_and_csrf_in_production_settings(app, world):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    page = client.get("/account/register").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    for field in ("invitation_code", "name", "email", "track", "password", "confirm"):
        assert f'for="{field}"' in page
    response = client.post("/account/register", data=register_data(world.institution_a.invitation_code))
    assert response.status_code == 400
    assert find_user_by_email("ana.analyst@example.org") is None
