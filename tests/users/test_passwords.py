"""Passwords per NIST SP 800-63B: length, no repeats, not the e-mail, not leaked; change and admin reset."""

from __future__ import annotations

import pytest

from backend.users.passwords import password_problem
from tests.factories import PASSWORD

NEW = "plum lantern orbit seventeen"


@pytest.mark.parametrize("password", ["            ", "aaaaaaaaaaaa", "abababababab", "password1234", "short",
                                      "qwertyuiopasdfgh", "coach.a@example.test!", "my coach.a rules ok"])
def test_weak_passwords_are_refused(password):
    assert password_problem(password, "coach.a@example.test") is not None


def test_a_long_unusual_passphrase_is_accepted():
    assert password_problem(NEW, "coach.a@example.test") is None


def test_an_admin_cannot_create_a_user_with_a_leaked_password(admin_api):
    response = admin_api.post("/api/v1/users", json={"email": "new.coach@example.test", "full_name": "New Coach",
                                                     "role": "coach", "password": "password1234"})
    assert response.status_code == 422 and "password" in response.json["errors"]


def test_changing_the_password_ends_every_other_session(client, login, coach):
    phone, laptop = login(coach), login(coach)
    changed = phone.put("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW})
    assert changed.status_code == 200 and set(changed.json) == {"access_token", "refresh_token", "user"}
    assert laptop.get("/api/v1/me").status_code == 401 and phone.get("/api/v1/me").status_code == 401
    fresh = {"Authorization": f"Bearer {changed.json['access_token']}"}
    assert client.get("/api/v1/me", headers=fresh).status_code == 200  # this device goes on with its new tokens
    assert client.post("/api/v1/auth/login", json={"email": coach.email, "password": PASSWORD}).status_code == 401
    assert client.post("/api/v1/auth/login", json={"email": coach.email, "password": NEW}).status_code == 200


def test_a_change_needs_the_current_password_and_a_good_new_one(coach_api):
    wrong = coach_api.put("/api/v1/me/password", json={"current_password": "not it at all", "new_password": NEW})
    assert wrong.status_code == 422 and "current_password" in wrong.json["errors"]
    weak = coach_api.put("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "password1234"})
    assert weak.status_code == 422 and "new_password" in weak.json["errors"]
    same = coach_api.put("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": PASSWORD})
    assert same.status_code == 422
    assert coach_api.get("/api/v1/me").status_code == 200  # nothing changed


def test_an_admin_reset_gives_a_temporary_password_that_only_opens_the_password_change(
        client, admin_api, coach_api, coach):
    reset = admin_api.post(f"/api/v1/users/{coach.id}/password-reset")
    assert reset.status_code == 201
    temporary = reset.json["temporary_password"]
    assert coach_api.get("/api/v1/me").status_code == 401  # the coach's sessions ended
    login = client.post("/api/v1/auth/login", json={"email": coach.email, "password": temporary})
    assert login.status_code == 200 and login.json["user"]["must_change_password"] is True
    limited = {"Authorization": f"Bearer {login.json['access_token']}"}
    refused = client.get("/api/v1/patients", headers=limited)
    assert refused.status_code == 403 and refused.json["error"] == "password_change_required"
    changed = client.put("/api/v1/me/password", headers=limited,
                         json={"current_password": temporary, "new_password": NEW})
    assert changed.status_code == 200 and changed.json["user"]["must_change_password"] is False
    full = {"Authorization": f"Bearer {changed.json['access_token']}"}
    assert client.get("/api/v1/patients", headers=full).status_code == 200


def test_only_admins_reset_passwords(supervisor_api, coach):
    assert supervisor_api.post(f"/api/v1/users/{coach.id}/password-reset").status_code == 403
