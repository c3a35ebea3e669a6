"""The Users area of the panel (admins): the staff list, adding a coach or supervisor, editing, deactivating,
forcing a password change and resetting a second factor."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.database import db
from backend.users.models import Role, User
from tests.admin.conftest import csrf_token
from tests.factories import PASSWORD

TEMPORARY = re.compile(r'data-testid="temporary-password">([^<]+)<')


@pytest.fixture
def as_admin(panel_login, client, admin_user):
    """The admin logged in to the panel (second factor set up); returns a fresh CSRF token."""
    panel_login(admin_user.email, PASSWORD)
    return lambda: csrf_token(client.get("/admin/users").get_data(as_text=True))


def stored(app, user_id: int) -> User:
    with app.app_context():
        return db.session.get(User, user_id)


def events(app, action: str, resource: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action,
                                                                   AuditEvent.resource == resource)
                                       .order_by(AuditEvent.id)))


def test_the_staff_list_shows_each_person_and_filters(app, as_admin, client, factory, program, supervisor, coach,
                                                      admin_user):
    leaver = factory.user("coach", program, full_name="Lee Leaver", active=False, supervisor_id=supervisor.id)
    capped = factory.user("coach", program, full_name="Casey Capped", caseload_cap=12)
    as_admin()
    page = client.get("/admin/users").get_data(as_text=True)
    row = re.search(rf'data-testid="user-{coach.id}">(.*?)</tr>', page, re.S).group(1)
    assert coach.full_name in row and coach.email in row and "coach" in row and supervisor.full_name in row
    assert "25 <span class=\"muted\">(default)</span>" in row and "never" in row  # cap and last login
    capped_row = re.search(rf'data-testid="user-{capped.id}">(.*?)</tr>', page, re.S).group(1)
    assert '<td class="num">12</td>' in capped_row  # their own cap
    assert f"user-{admin_user.id}" in page and f"user-{leaver.id}" in page

    coaches = client.get("/admin/users?role=coach&active=true").get_data(as_text=True)
    assert f"user-{coach.id}" in coaches
    assert f"user-{supervisor.id}" not in coaches and f"user-{leaver.id}" not in coaches
    gone = client.get("/admin/users?active=false").get_data(as_text=True)
    assert f"user-{leaver.id}" in gone and f"user-{coach.id}" not in gone and "deactivated" in gone
    bad = client.get("/admin/users?role=owner")
    assert bad.status_code == 422 and 'id="filter-role-error"' in bad.get_data(as_text=True)


def test_an_admin_adds_a_coach_who_must_choose_a_password(app, as_admin, client, supervisor, login):
    response = client.post("/admin/users", data={
        "csrf_token": as_admin(), "full_name": "Nova Coach", "email": "Nova.Coach@Example.test", "role": "coach",
        "phone": "312 555 0161", "supervisor_id": str(supervisor.id)})
    page = response.get_data(as_text=True)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    temporary = TEMPORARY.search(page).group(1)
    with app.app_context():
        added = db.session.scalar(sa.select(User).where(User.email == "nova.coach@example.test"))
        assert (added.role, added.phone, added.supervisor_id) == (Role.COACH, "+13125550161", supervisor.id)
        assert added.must_change_password and added.active
    assert [e.resource_id for e in events(app, "create", "user")] == [str(added.id)]

    session = login(added, temporary)  # the temporary password works, and only to choose a new one
    assert session.tokens["user"]["must_change_password"] is True


def test_a_supervisor_added_in_the_panel_chooses_a_password_at_first_login(app, as_admin, client):
    response = client.post("/admin/users", data={"csrf_token": as_admin(), "full_name": "Sam Lead",
                                                 "email": "sam.lead@example.test", "role": "supervisor"})
    temporary = TEMPORARY.search(response.get_data(as_text=True)).group(1)
    fresh = app.test_client()
    token = csrf_token(fresh.get("/admin/login").get_data(as_text=True))
    fresh.post("/admin/login", data={"email": "sam.lead@example.test", "password": temporary, "csrf_token": token})
    assert fresh.get("/admin/").headers["Location"].endswith("/admin/password")


def test_adding_refuses_bad_input_and_keeps_what_was_typed(app, as_admin, client, coach):
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    bad = client.post("/admin/users", data={"csrf_token": as_admin(), "full_name": "Typed Name",
                                            "email": "not-an-address", "phone": "12"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'id="f-email-error"' in page and 'id="f-role-error"' in page and 'id="f-phone-error"' in page
    assert 'value="Typed Name"' in page and 'value="not-an-address"' in page
    taken = client.post("/admin/users", data={"csrf_token": as_admin(), "full_name": "X", "email": coach.email,
                                              "role": "coach"})
    assert taken.status_code == 409 and "An account with this e-mail address exists." in taken.get_data(as_text=True)
    admin = client.post("/admin/users", data={"csrf_token": as_admin(), "full_name": "X",
                                              "email": "x@example.test", "role": "admin"})
    assert admin.status_code == 422 and "Choose coach or supervisor." in admin.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == before
    assert [e.outcome for e in events(app, "create", "user")] == ["email_taken"]  # the refusal, on record


def test_an_admin_edits_name_phone_supervisor_and_cap(app, as_admin, client, coach, factory, program):
    lead = factory.user("supervisor", program, full_name="Second Lead")
    page = client.get(f"/admin/users/{coach.id}").get_data(as_text=True)
    assert "Own caseload cap" in page and "programme default of 25" in page
    response = client.post(f"/admin/users/{coach.id}", data={
        "csrf_token": as_admin(), "full_name": "Renamed Coach", "phone": "(312) 555-0162",
        "supervisor_id": str(lead.id), "cap": "18"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/users/{coach.id}")
    saved = stored(app, coach.id)
    assert (saved.full_name, saved.phone, saved.supervisor_id, saved.caseload_cap) == (
        "Renamed Coach", "+13125550162", lead.id, 18)
    assert events(app, "update", "user")[-1].details == {"fields": ["full_name", "phone", "supervisor_id"]}
    assert events(app, "update", "caseload_cap")[-1].details == {"cap": 18}

    client.post(f"/admin/users/{coach.id}", data={"csrf_token": as_admin(), "full_name": "Renamed Coach",
                                                  "phone": "", "supervisor_id": "", "cap": ""})
    saved = stored(app, coach.id)
    assert (saved.phone, saved.supervisor_id, saved.caseload_cap) == (None, None, None)  # cleared: the default


def test_editing_refuses_bad_values_and_changes_nothing(app, as_admin, client, coach, supervisor):
    response = client.post(f"/admin/users/{coach.id}", data={
        "csrf_token": as_admin(), "full_name": "", "phone": "call me", "supervisor_id": str(coach.id), "cap": "500"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert all(f'id="f-{name}-error"' in page for name in ("full_name", "phone", "cap"))
    assert 'value="call me"' in page and 'value="500"' in page
    itself = client.post(f"/admin/users/{coach.id}", data={"csrf_token": as_admin(), "full_name": coach.full_name,
                                                           "supervisor_id": str(coach.id), "cap": ""})
    assert itself.status_code == 422 and "A user cannot supervise themselves." in itself.get_data(as_text=True)
    saved = stored(app, coach.id)
    assert (saved.full_name, saved.phone, saved.supervisor_id, saved.caseload_cap) == (
        coach.full_name, None, supervisor.id, None)
    assert [(e.outcome, e.resource_id) for e in events(app, "update", "user")] == [("validation_error", str(coach.id))]


def test_deactivating_ends_the_users_sessions_at_once(app, as_admin, client, coach, coach_api):
    assert coach_api.get("/api/v1/me").status_code == 200
    response = client.post(f"/admin/users/{coach.id}/active", data={"csrf_token": as_admin(), "active": "false"},
                           follow_redirects=True)
    assert "deactivated: their sessions have ended" in response.get_data(as_text=True)
    assert coach_api.get("/api/v1/me").status_code == 401  # the API token stops working at once
    saved = stored(app, coach.id)
    assert not saved.active and saved.deactivated_at is not None
    assert events(app, "update", "user")[-1].details == {"fields": ["active"]}

    client.post(f"/admin/users/{coach.id}/active", data={"csrf_token": as_admin(), "active": "true"})
    saved = stored(app, coach.id)
    assert saved.active and saved.deactivated_at is None


def test_an_admin_cannot_deactivate_themselves(app, as_admin, client, admin_user):
    response = client.post(f"/admin/users/{admin_user.id}/active", data={"csrf_token": as_admin(), "active": "false"},
                           follow_redirects=True)
    assert "You cannot deactivate or demote your own account." in response.get_data(as_text=True)
    assert stored(app, admin_user.id).active
    assert [e.outcome for e in events(app, "update", "user")] == ["cannot_demote_self"]


def test_forcing_a_password_change_shows_a_temporary_password_once(app, as_admin, client, coach, coach_api, login):
    response = client.post(f"/admin/users/{coach.id}/password-reset", data={"csrf_token": as_admin()})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    temporary = TEMPORARY.search(page).group(1)
    assert stored(app, coach.id).must_change_password
    assert coach_api.get("/api/v1/me").status_code == 401  # their sessions ended
    assert client.post("/api/v1/auth/login", json={"email": coach.email, "password": PASSWORD}).status_code == 401
    assert login(coach, temporary).tokens["user"]["must_change_password"] is True
    assert temporary not in client.get(f"/admin/users/{coach.id}").get_data(as_text=True)
    assert [e.resource_id for e in events(app, "reset_password", "user")] == [str(coach.id)]


def test_resetting_a_second_factor(app, as_admin, client, supervisor):
    with app.app_context():
        db.session.get(User, supervisor.id).totp_secret = "JBSWY3DPEHPK3PXP"
        db.session.commit()
    assert "Reset second step" in client.get(f"/admin/users/{supervisor.id}").get_data(as_text=True)
    response = client.post(f"/admin/users/{supervisor.id}/mfa-reset", data={"csrf_token": as_admin()},
                           follow_redirects=True)
    assert "second step is reset" in response.get_data(as_text=True)
    assert stored(app, supervisor.id).totp_secret is None
    assert [e.resource_id for e in events(app, "reset", "mfa")] == [str(supervisor.id)]


def test_another_programmes_user_is_the_panels_404(app, as_admin, client, factory):
    stranger = factory.user("coach", factory.program("Elsewhere"))
    token = as_admin()
    assert client.get(f"/admin/users/{stranger.id}").status_code == 404
    for path, data in ((f"/admin/users/{stranger.id}", {"full_name": "Taken Over"}),
                       (f"/admin/users/{stranger.id}/active", {"active": "false"}),
                       (f"/admin/users/{stranger.id}/password-reset", {}),
                       (f"/admin/users/{stranger.id}/mfa-reset", {})):
        response = client.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 404 and "Not found" in response.get_data(as_text=True)
    saved = stored(app, stranger.id)
    assert saved.active and saved.full_name != "Taken Over" and not saved.must_change_password


def test_supervisors_get_the_403_page(app, panel_login, client, supervisor, coach):
    panel_login(supervisor.email, PASSWORD)
    token = csrf_token(client.get("/admin/").get_data(as_text=True))
    assert client.get("/admin/users").status_code == 403
    assert client.get(f"/admin/users/{coach.id}").status_code == 403
    refused = client.post(f"/admin/users/{coach.id}/active", data={"csrf_token": token, "active": "false"})
    assert refused.status_code == 403 and "Not for your role" in refused.get_data(as_text=True)
    assert client.post("/admin/users", data={"csrf_token": token, "full_name": "X", "email": "x@example.test",
                                             "role": "coach"}).status_code == 403
    assert stored(app, coach.id).active
