"""The supervision panel's login, logout and dashboard shell."""

from __future__ import annotations

from tests.admin.conftest import csrf_token
from tests.factories import PASSWORD


def test_dashboard_requires_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_supervisor_logs_in_and_sees_the_programme(panel_login, client, supervisor, factory, coach):
    factory.patient(coach)
    factory.patient(program_id=coach.program_id)
    response = panel_login(supervisor.email, PASSWORD)
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    page = client.get("/admin/").get_data(as_text=True)
    assert "Test Programme" in page and supervisor.full_name in page
    assert 'data-testid="open-patients">2<' in page and 'data-testid="unassigned">1<' in page


def test_login_form_refuses_a_post_without_csrf_token(client, supervisor):
    response = client.post("/admin/login", data={"email": supervisor.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_wrong_password_shows_one_message(panel_login, supervisor):
    response = panel_login(supervisor.email, "wrong password")
    assert response.status_code == 401
    assert "The e-mail address or password is incorrect." in response.get_data(as_text=True)


def test_coaches_are_sent_to_the_app(panel_login, client, coach):
    response = panel_login(coach.email, PASSWORD)
    assert response.status_code == 403
    assert "Coaches use the Bridgeline app" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_logout_needs_csrf_and_ends_the_session(panel_login, client, admin_user):
    panel_login(admin_user.email, PASSWORD)
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert client.post("/admin/logout").status_code == 400  # no token: refused
    assert client.get("/admin/").status_code == 200
    response = client.post("/admin/logout", data={"csrf_token": csrf_token(dashboard)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302


def test_panel_sends_security_headers(client):
    response = client.get("/admin/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_deactivated_supervisor_loses_the_panel_session(panel_login, client, admin_api, supervisor):
    panel_login(supervisor.email, PASSWORD)
    assert client.get("/admin/").status_code == 200
    admin_api.patch(f"/api/v1/users/{supervisor.id}", json={"active": False})
    assert client.get("/admin/").status_code == 302


def test_a_copy_of_the_cookie_opens_nothing_after_logout(panel_login, client, admin_user):
    """Logout ends the session on the server: an old cookie (copied, or left on a shared computer) is refused."""
    panel_login(admin_user.email, PASSWORD)
    dashboard = client.get("/admin/").get_data(as_text=True)
    copied = client.get_cookie("session").value
    client.post("/admin/logout", data={"csrf_token": csrf_token(dashboard)})
    client.set_cookie("session", copied)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert "panel_version" not in (client.get_cookie("session").value if client.get_cookie("session") else "")
    panel_login(admin_user.email, PASSWORD)  # logging in again works
    assert client.get("/admin/").status_code == 200


def test_opening_the_login_page_spends_no_login_attempts(app, client, admin_user):
    app.config["LOGIN_ATTEMPTS_PER_ADDRESS"] = "3 per minute"
    for _ in range(5):
        assert client.get("/admin/login").status_code == 200
    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"email": admin_user.email, "password": PASSWORD,
                                                 "csrf_token": token})
    assert response.status_code == 302


def test_after_a_reset_the_panel_opens_only_the_password_page(app, panel_login, client, admin_user, supervisor):
    from backend.users import service as users_service

    with app.app_context():
        from backend.database import db
        from backend.users.models import User

        temporary = users_service.reset_password(db.session.get(User, admin_user.id), supervisor.id)
        db.session.commit()
    panel_login(supervisor.email, temporary)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/password")
    page = client.get("/admin/password").get_data(as_text=True)
    assert "reset by an administrator" in page
    changed = client.post("/admin/password", data={"current_password": temporary, "csrf_token": csrf_token(page),
                                                   "new_password": "plum lantern orbit seventeen",
                                                   "confirm": "plum lantern orbit seventeen"})
    assert changed.status_code == 302 and client.get("/admin/").status_code == 200
