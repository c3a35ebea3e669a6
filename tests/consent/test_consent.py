"""42 CFR Part 2 consents: every element required, revocable, and every disclosure accounted for."""

from __future__ import annotations

from datetime import timedelta

from backend.database import utcnow


def make_partner(supervisor_api) -> tuple[str, str]:
    org = supervisor_api.post("/api/v1/partners", json={"name": "Northside Health", "description": "Partner"}).json
    service = supervisor_api.post(f"/api/v1/partners/{org['id']}/services",
                                  json={"name": "Northside Intake", "service_types": ["outpatient_moud"]}).json
    return org["id"], service["id"]


def consent_body(org_id: str, **overrides) -> dict:
    body = {"recipient_organization_id": org_id, "purpose": "Arrange treatment and follow up on attendance",
            "information": "Name, phone, referral reason and appointment time",
            "expires_at": (utcnow() + timedelta(days=365)).isoformat(), "signature_method": "electronic",
            "signed_at": utcnow().isoformat(), "revocation_explained": True}
    body.update(overrides)
    return body


def test_consent_with_every_element_is_recorded(coach_api, supervisor_api, factory, coach):
    org_id, _ = make_partner(supervisor_api)
    patient = factory.patient(coach)
    response = coach_api.post(f"/api/v1/patients/{patient.id}/consents", json=consent_body(org_id))
    assert response.status_code == 201 and response.json["active"] is True
    assert [c["id"] for c in coach_api.get(f"/api/v1/patients/{patient.id}/consents").json] == [response.json["id"]]


def test_missing_elements_are_all_named(coach_api, factory, coach):
    patient = factory.patient(coach)
    response = coach_api.post(f"/api/v1/patients/{patient.id}/consents", json={"signature_method": "verbal_witnessed",
                                                                               "revocation_explained": False})
    assert response.status_code == 422
    assert {"recipient_organization_id", "purpose", "information", "expires_at", "signed_at", "witness_name",
            "revocation_explained"} <= set(response.json["errors"])
    assert coach_api.get(f"/api/v1/patients/{patient.id}/consents").json == []


def test_described_class_of_recipients_and_event_expiry(coach_api, factory, coach):
    patient = factory.patient(coach)
    body = consent_body(None, recipient_organization_id=None, recipient_description="My treatment providers",
                        expires_at=None, expires_on_event="Discharge from the peer programme",
                        signature_method="verbal_witnessed", witness_name="R. Nurse")
    assert coach_api.post(f"/api/v1/patients/{patient.id}/consents", json=body).status_code == 201


def test_revoked_consent_is_inactive_and_cannot_be_revoked_twice(coach_api, supervisor_api, factory, coach):
    org_id, _ = make_partner(supervisor_api)
    patient = factory.patient(coach)
    consent = coach_api.post(f"/api/v1/patients/{patient.id}/consents", json=consent_body(org_id)).json
    revoked = coach_api.post(f"/api/v1/consents/{consent['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json["active"] is False
    assert coach_api.post(f"/api/v1/consents/{consent['id']}/revoke").status_code == 409


def test_consent_of_another_coachs_patient_is_not_found(login, supervisor_api, factory, coach, other_coach):
    org_id, _ = make_partner(supervisor_api)
    theirs = factory.patient(other_coach)
    consent = login(other_coach).post(f"/api/v1/patients/{theirs.id}/consents", json=consent_body(org_id)).json
    assert login(coach).post(f"/api/v1/consents/{consent['id']}/revoke").status_code == 404
