"""The handoff as a FHIR R4 Bundle, checked field by field and with fhir.resources (R4B models)."""

from __future__ import annotations

import json

from fhir.resources.R4B.bundle import Bundle

from tests.handoffs.test_handoffs import setup_handoff

TASK_CODES = {"draft", "requested", "accepted", "rejected", "cancelled", "in-progress", "on-hold", "failed",
              "completed", "entered-in-error"}


def bundle_for(coach_api, supervisor_api, factory, coach, **patch):
    patient, org_id, service_id = setup_handoff(coach_api, supervisor_api, factory, coach)
    hid = coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id,
                                                   "kind": "warm", "appointment_at": "2031-01-02T15:00:00Z"}).json["id"]
    if patch:
        coach_api.patch(f"/api/v1/handoffs/{hid}", json=patch)
    response = coach_api.get(f"/api/v1/handoffs/{hid}/fhir")
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    return patient, org_id, response.json


def by_type(bundle):
    return {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"] if e["resource"]["id"] != "x"}


def test_bundle_has_the_required_task_fields(coach_api, supervisor_api, factory, coach):
    patient, org_id, bundle = bundle_for(coach_api, supervisor_api, factory, coach)
    resources = by_type(bundle)
    task = resources["Task"]
    assert task["status"] in TASK_CODES and task["intent"] == "order"
    assert task["code"]["coding"][0]["code"] == "fulfill"
    assert task["focus"]["reference"] == f"ServiceRequest/{resources['ServiceRequest']['id']}"
    assert task["for"]["reference"] == f"Patient/{patient.id}"
    assert task["authoredOn"] and task["requester"] and task["owner"]["reference"] == f"Organization/{org_id}"
    consent = resources["Consent"]
    assert consent["category"][0]["coding"][0]["code"] == "IDSCL" and consent["patient"] and consent["dateTime"]
    assert consent["organization"] and consent["sourceAttachment"]
    assert "42 CFR part 2" in task["note"][0]["text"]
    assert bundle["identifier"]["value"] == str(consent["id"])


def test_rejected_task_carries_its_reason(coach_api, supervisor_api, factory, coach):
    _, _, bundle = bundle_for(coach_api, supervisor_api, factory, coach, status="rejected",
                              status_reason="No beds for the next two weeks")
    task = by_type(bundle)["Task"]
    assert task["status"] == "rejected" and task["statusReason"]["text"] == "No beds for the next two weeks"


def test_bundle_is_structurally_valid_fhir(coach_api, supervisor_api, factory, coach):
    _, _, bundle = bundle_for(coach_api, supervisor_api, factory, coach)
    parsed = Bundle.model_validate(bundle)
    assert {e.resource.get_resource_type() for e in parsed.entry} == {
        "Task", "ServiceRequest", "Consent", "Patient", "Organization"}
    assert json.loads(parsed.model_dump_json())["type"] == "collection"


def test_export_is_a_recorded_disclosure(coach_api, supervisor_api, factory, coach):
    patient, _, _ = bundle_for(coach_api, supervisor_api, factory, coach)
    channels = [d["channel"] for d in coach_api.get(f"/api/v1/patients/{patient.id}/disclosures").json]
    assert any(c.startswith("fhir") for c in channels) and any(c.startswith("handoff") for c in channels)
