"""Staff accounts: listing, creating and editing (admins)."""

from __future__ import annotations


def test_supervisor_lists_programme_staff_and_coach_cannot(supervisor_api, coach_api, coach, other_coach):
    response = supervisor_api.get("/api/v1/users?role=coach")
    assert response.status_code == 200
    assert {u["id"] for u in response.json} == {coach.id, other_coach.id}
    assert coach_api.get("/api/v1/users").status_code == 403


def test_admin_creates_a_coach(admin_api, supervisor, login):
    response = admin_api.post("/api/v1/users", json={
        "email": "New.Coach@Example.test", "full_name": "New Coach", "role": "coach",
        "password": "a long enough password", "phone": "312 555 0160", "supervisor_id": supervisor.id})
    assert response.status_code == 201
    assert response.json["email"] == "new.coach@example.test"
    assert response.json["phone"] == "+13125550160"


def test_user_creation_errors(admin_api, supervisor_api, coach):
    short = admin_api.post("/api/v1/users", json={"email": "x@example.test", "full_name": "X", "role": "coach",
                                                  "password": "short"})
    assert short.status_code == 422 and "password" in short.json["errors"]
    taken = admin_api.post("/api/v1/users", json={"email": coach.email, "full_name": "X", "role": "coach",
                                                  "password": "a long enough password"})
    assert taken.status_code == 409 and taken.json["error"] == "email_taken"
    bad_role = admin_api.post("/api/v1/users", json={"email": "y@example.test", "full_name": "Y",
                                                     "role": "owner", "password": "a long enough password"})
    assert bad_role.status_code == 422 and "role" in bad_role.json["errors"]
    assert supervisor_api.post("/api/v1/users", json={"email": "z@example.test", "full_name": "Z", "role": "coach",
                                                      "password": "a long enough password"}).status_code == 403


def test_admin_cannot_lock_themselves_out(admin_api, admin_user):
    response = admin_api.patch(f"/api/v1/users/{admin_user.id}", json={"active": False})
    assert response.status_code == 409 and response.json["error"] == "cannot_demote_self"


def test_users_of_other_programmes_are_invisible(admin_api, factory):
    stranger = factory.user("coach", factory.program("Elsewhere"))
    assert admin_api.patch(f"/api/v1/users/{stranger.id}", json={"active": False}).status_code == 404


def test_a_coach_chooses_how_texts_name_them(coach_api, factory, coach, app):
    from backend.database import db
    from backend.messaging.service import template_variables
    from backend.patients.models import Patient

    assert coach_api.patch("/api/v1/me", json={"text_name": "Rehab Robin"}).json["error"] == "validation_error"
    changed = coach_api.patch("/api/v1/me", json={"text_name": "Robin", "phone": "312-555-0125"})
    assert changed.status_code == 200
    assert (changed.json["text_name"], changed.json["phone"]) == ("Robin", "+13125550125")
    patient = factory.patient(coach, language="es")
    with app.app_context():
        variables = template_variables(db.session.get(Patient, patient.id))
    assert variables["coach_name"] == "Robin"
