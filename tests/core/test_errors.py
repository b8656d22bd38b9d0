from academy.extensions import db


def test_html_404_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"Page not found" in response.data and b"<nav" in response.data


def test_oversized_body_is_refused_with_413(app, client, world):
    response = client.post("/account/login", data={"email": "x" * app.config["MAX_CONTENT_LENGTH"]})
    assert response.status_code == 413
    assert b"too large" in response.data


def test_csrf_missing_gives_400_and_changes_nothing(app, world):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = client.post("/account/login", data={"email": "learner@a.org", "password": "correct horse battery"})
    assert response.status_code == 400
    assert client.get("/account/").status_code == 302


def test_unexpected_error_renders_500_page_and_rolls_back(app, client, auth, world, monkeypatch):
    from academy.institutions import views

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.services, "rotate_invitation_code", explode)
    auth.as_user(world.manager_a)
    response = client.post(f"/institutions/{world.institution_a.id}/rotate-code")
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.data
    assert b"boom" not in response.data
    db.session.rollback()


def test_tampered_ids_answer_404_not_500(client, auth, world):
    auth.as_user(world.admin)
    for url in ("/institutions/abc", "/admin/users/-1", "/account/tokens/xyz/revoke", "/institutions/99999999999999999999"):
        method = client.post if "revoke" in url else client.get
        assert method(url).status_code == 404, url


def test_pages_render_navigation_by_role(client, auth, world):
    auth.as_user(world.learner)
    page = client.get("/learning").get_data(as_text=True)
    assert "Administration" not in page and "My institution" not in page
    auth.as_user(world.manager_a)
    assert "My institution" in client.get("/learning").get_data(as_text=True)
    auth.as_user(world.admin)
    assert "Audit log" in client.get("/learning").get_data(as_text=True)
