"""The handoff as a FHIR R4 Bundle through the API: required fields, validity (R4B models, the official R4 JSON
Schema, FHIRPath invariants, references resolving inside the bundle), stable ids, and the disclosure it is."""

from __future__ import annotations

from tests.handoffs.test_fhir_validation import (
    assert_valid_r4,
    invariant_failures,
    references,
    unresolved_references,
)
from tests.handoffs.test_handoffs import setup_handoff

TASK_CODES = {"draft", "requested", "accepted", "rejected", "cancelled", "in-progress", "on-hold", "failed",
              "completed", "entered-in-error"}


def create_handoff(coach_api, patient, service_id) -> int:
    response = coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id,
                                                        "kind": "warm", "appointment_at": "2031-01-02T15:00:00Z"})
    assert response.status_code == 201
    return response.json["id"]


def export(coach_api, handoff_id) -> dict:
    response = coach_api.get(f"/api/v1/handoffs/{handoff_id}/fhir")
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    return response.json


def bundle_for(coach_api, supervisor_api, factory, coach, *patches):
    patient, org_id, service_id = setup_handoff(coach_api, supervisor_api, factory, coach)
    hid = create_handoff(coach_api, patient, service_id)
    for patch in patches:
        assert coach_api.patch(f"/api/v1/handoffs/{hid}", json=patch).status_code == 200
    return patient, org_id, export(coach_api, hid)


def by_type(bundle):
    return {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}


def url_of(bundle, kind, ident) -> str:
    (url,) = [e["fullUrl"] for e in bundle["entry"]
              if e["resource"]["resourceType"] == kind and e["resource"]["id"] == str(ident)]
    return url


def test_bundle_has_the_required_task_fields_and_is_valid_r4(coach_api, supervisor_api, factory, coach):
    patient, org_id, bundle = bundle_for(coach_api, supervisor_api, factory, coach)
    assert_valid_r4(bundle)
    # Task 4, ServiceRequest 4, Consent 3: every one the fullUrl of an entry (R4 Bundle reference resolution).
    assert len(bundle["entry"]) == 6 and len(references(bundle)) == 11 and not unresolved_references(bundle)
    resources = by_type(bundle)
    task = resources["Task"]
    assert task["status"] in TASK_CODES and task["intent"] == "order"
    assert task["code"]["coding"][0]["code"] == "fulfill"
    assert task["focus"]["reference"] == url_of(bundle, "ServiceRequest", resources["ServiceRequest"]["id"])
    assert task["for"]["reference"] == url_of(bundle, "Patient", patient.id)
    assert task["authoredOn"] and task["requester"]
    assert task["owner"]["reference"] == url_of(bundle, "Organization", org_id)
    consent = resources["Consent"]
    assert any(c["coding"][0]["code"] == "IDSCL" for c in consent["category"])
    assert consent["patient"] and consent["dateTime"] and consent["organization"] and consent["sourceAttachment"]
    assert "Arrange treatment and follow up on attendance" in consent["text"]["div"]
    assert "42 CFR part 2" in task["note"][0]["text"]
    assert resources["ServiceRequest"]["status"] == "active"
    assert resources["ServiceRequest"]["code"]["coding"][0]["code"] == "outpatient_moud"
    assert bundle["identifier"]["value"].startswith("urn:uuid:") and not invariant_failures(bundle)


def test_rejected_task_carries_its_reason(coach_api, supervisor_api, factory, coach):
    _, _, bundle = bundle_for(coach_api, supervisor_api, factory, coach,
                              {"status": "rejected", "status_reason": "No beds for the next two weeks"})
    task = by_type(bundle)["Task"]
    assert task["status"] == "rejected" and task["statusReason"]["text"] == "No beds for the next two weeks"
    assert by_type(bundle)["ServiceRequest"]["status"] == "revoked"


def test_a_no_show_is_a_revoked_request_not_a_completed_one(coach_api, supervisor_api, factory, coach):
    _, _, bundle = bundle_for(coach_api, supervisor_api, factory, coach, {"status": "accepted"},
                              {"status": "failed", "status_reason": "no_show"})
    assert by_type(bundle)["Task"]["status"] == "failed"
    assert by_type(bundle)["ServiceRequest"]["status"] == "revoked"
    assert_valid_r4(bundle)


def test_a_handoff_exports_the_same_full_urls_under_a_new_bundle_identifier(coach_api, supervisor_api, factory,
                                                                            coach):
    patient, _, service_id = setup_handoff(coach_api, supervisor_api, factory, coach)
    first_id, second_id = create_handoff(coach_api, patient, service_id), create_handoff(coach_api, patient,
                                                                                          service_id)
    first, again, second = export(coach_api, first_id), export(coach_api, first_id), export(coach_api, second_id)
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in first["entry"]]
    assert len({b["identifier"]["value"] for b in (first, again, second)}) == 3  # not the shared consent id
    assert url_of(second, "Task", f"handoff-{second_id}") != url_of(first, "Task", f"handoff-{first_id}")
    assert url_of(second, "Patient", patient.id) == url_of(first, "Patient", patient.id)


def test_export_is_a_recorded_disclosure(coach_api, supervisor_api, factory, coach):
    patient, _, _ = bundle_for(coach_api, supervisor_api, factory, coach)
    channels = [d["channel"] for d in coach_api.get(f"/api/v1/patients/{patient.id}/disclosures").json]
    assert any(c.startswith("fhir") for c in channels) and any(c.startswith("handoff") for c in channels)
