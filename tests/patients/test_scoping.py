"""Object-level access: a patient outside your scope answers exactly like a missing one."""

from __future__ import annotations

import re

import pytest

# A valid request for every patient-scoped endpoint, so that the only possible
# refusal is the scope check. A new endpoint without an entry here fails the test.
VALID_BODIES = {
    ("GET", "/api/v1/patients/<int:patient_id>"): None,
    ("PATCH", "/api/v1/patients/<int:patient_id>"): {"preferred_name": "Sam"},
    ("GET", "/api/v1/patients/<int:patient_id>/timeline"): None,
    ("GET", "/api/v1/patients/<int:patient_id>/contacts"): None,
    ("POST", "/api/v1/patients/<int:patient_id>/contacts"): {"kind": "phone"},
    ("POST", "/api/v1/patients/<int:patient_id>/tasks"): {"title": "Call", "due_at": "2030-01-01T10:00:00Z"},
    ("POST", "/api/v1/patients/<int:patient_id>/assignment"): lambda caller: {"coach_id": caller.id},
    ("GET", "/api/v1/patients/<int:patient_id>/messages"): None,
    ("POST", "/api/v1/patients/<int:patient_id>/messages"): {"template_key": "check_in"},
    ("POST", "/api/v1/patients/<int:patient_id>/follow-ups"): {"plan_key": "after_ed_visit",
                                                               "anchor_at": "2030-01-01T10:00:00Z"},
    ("GET", "/api/v1/patients/<int:patient_id>/consents"): None,
    ("POST", "/api/v1/patients/<int:patient_id>/consents"): {
        "recipient_description": "My treatment providers", "purpose": "Arrange care", "information": "Name, phone",
        "expires_on_event": "End of the programme", "signature_method": "paper",
        "signed_at": "2026-01-01T10:00:00Z", "revocation_explained": True},
    ("GET", "/api/v1/patients/<int:patient_id>/disclosures"): None,
    ("GET", "/api/v1/patients/<int:patient_id>/handoffs"): None,
    ("GET", "/api/v1/patients/<int:patient_id>/calls"): None,
    # A masked call from the coach's phone (the coach below has one); confirmed in case it is the patient's night.
    ("POST", "/api/v1/patients/<int:patient_id>/calls"): {"confirm_outside_hours": True},
}


def patient_scoped_endpoints(app):
    for rule in app.url_map.iter_rules():
        # The API's (coaches use it); the panel's pages are for leads and tested for other programmes in tests/admin.
        if "<int:patient_id>" not in rule.rule or not rule.rule.startswith("/api/"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule


def call(session, method, rule, patient_id):
    path = re.sub(r"<int:patient_id>", str(patient_id), rule)
    body = VALID_BODIES[(method, rule)]
    body = body(session.user) if callable(body) else body
    return getattr(session, method.lower())(path, **({"json": body} if body is not None else {}))


def test_every_patient_endpoint_has_a_valid_sample(app):
    missing = [e for e in patient_scoped_endpoints(app) if e not in VALID_BODIES]
    assert not missing, f"add a valid request for {missing} to VALID_BODIES"


def test_coach_gets_404_on_every_endpoint_for_another_coachs_patient(app, factory, login, program, other_coach):
    coach = factory.user("coach", program, email="caller@example.test", phone="+13125550121")
    theirs = factory.patient(other_coach)
    mine = factory.patient(coach)
    coach_api = login(coach)
    for method, rule in patient_scoped_endpoints(app):
        outside = call(coach_api, method, rule, theirs.id)
        missing = call(coach_api, method, rule, 999_999)
        assert outside.status_code == 404, (method, rule, outside.json)
        assert outside.json == missing.json == {"error": "not_found", "message": "The patient was not found."}
        assert call(coach_api, method, rule, mine.id).status_code in (200, 201, 202), (method, rule)


def test_coach_list_and_search_never_contain_another_coachs_patient(factory, login, coach, other_coach):
    theirs = factory.patient(other_coach, first_name="Hidden", phone="+13125550199")
    factory.patient(coach, first_name="Visible")
    coach_api = login(coach)
    for query in ["", "?q=Hidden", "?q=0199", "?status=referred", "?updated_since=2000-01-01T00:00:00Z",
                  f"?coach_id={other_coach.id}"]:
        ids = [p["id"] for p in coach_api.get(f"/api/v1/patients{query}").json]
        assert theirs.id not in ids, query


def test_supervisor_sees_the_programme_but_not_another(factory, login, supervisor, coach):
    patient = factory.patient(coach)
    elsewhere = factory.program("Other Hospital")
    foreign_supervisor = factory.user("supervisor", elsewhere)
    assert login(supervisor).get(f"/api/v1/patients/{patient.id}").status_code == 200
    foreign = login(foreign_supervisor)
    assert foreign.get(f"/api/v1/patients/{patient.id}").status_code == 404
    assert foreign.get("/api/v1/patients").json == []


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_leads_see_unassigned_patients_of_their_programme(factory, login, program, role):
    lead = factory.user(role, program)
    unassigned = factory.patient(program_id=program.id)
    assert [p["id"] for p in login(lead).get("/api/v1/patients").json] == [unassigned.id]


def test_coach_cannot_touch_another_coachs_task(factory, login, coach, other_coach):
    theirs = factory.patient(other_coach)
    task = factory.task(other_coach, theirs)
    response = login(coach).patch(f"/api/v1/tasks/{task.id}", json={"status": "done"})
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
