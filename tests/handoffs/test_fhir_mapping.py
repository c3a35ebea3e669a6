"""How a handoff maps to FHIR R4, on unsaved models (no database, so it runs once and fast)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from backend.consent.models import Consent, SignatureMethod
from backend.handoffs.fhir import (
    SERVICE_REQUEST_STATUS,
    US_CORE_ORGANIZATION,
    deployment_namespace,
    handoff_bundle,
)
from backend.handoffs.models import FhirTaskStatus, Handoff
from backend.partners.models import Organization, Service, ServiceAttribute
from backend.patients.models import Patient
from backend.programs.models import Program
from tests.handoffs.test_fhir_validation import assert_valid_r4, narrative_errors

NOW = datetime(2031, 1, 2, 15, 0, tzinfo=UTC)
PARTNER_ID = "0b6f4a52-3c1d-4e8f-9a7b-5d2c1e0f9a88"
URN_UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
PART_2 = "https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2"
# R4 request-status for each Task status, decided from the value set's definitions (see backend/handoffs/fhir.py).
EXPECTED_REQUEST_STATUS = {
    "draft": "draft", "requested": "active", "accepted": "active", "in-progress": "active", "on-hold": "on-hold",
    "rejected": "revoked", "cancelled": "revoked", "failed": "revoked", "completed": "completed",
    "entered-in-error": "entered-in-error",
}
REASONS = {FhirTaskStatus.REJECTED: "No beds", FhirTaskStatus.CANCELLED: "Patient moved",
           FhirTaskStatus.ON_HOLD: "Awaiting detox", FhirTaskStatus.FAILED: "no_show"}


def export(status=FhirTaskStatus.REQUESTED, handoff_id=5, service_types=("outpatient_moud",), base="http://localhost",
           purpose="Arrange treatment and follow up on attendance", expires_at=NOW + timedelta(days=365),
           expires_on_event=None) -> dict:
    handoff = Handoff(id=handoff_id, reference=f"H{handoff_id:05d}", status=status, status_reason=REASONS.get(status),
                      created_at=NOW - timedelta(days=1), updated_at=NOW, appointment_at=NOW + timedelta(days=2))
    patient = Patient(id=7, first_name="Ana", last_name="Diaz", phone="+13125550100")
    service = Service(name="Northside Intake",
                      attributes=[ServiceAttribute(kind="service_type", value=code) for code in service_types]
                      + [ServiceAttribute(kind="payer", value="medicaid")])
    partner = Organization(id=PARTNER_ID, name="Northside Health", phone="+13125550111")
    consent = Consent(id=3, purpose=purpose, information="Name, phone, referral reason and appointment time",
                      expires_at=expires_at, expires_on_event=expires_on_event, signed_at=NOW - timedelta(days=2),
                      signature_method=SignatureMethod.ELECTRONIC, revoked_at=None)
    program = Program(id=1, name="ED Bridge", phone=None)
    return handoff_bundle(handoff, patient, service, partner, consent, program,
                          namespace=deployment_namespace(base))


def resources(bundle) -> dict:
    found = {}
    for entry in bundle["entry"]:
        found.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return found


def one(bundle, kind) -> dict:
    (resource,) = resources(bundle)[kind]
    return resource


def full_urls(bundle) -> dict:
    return {(e["resource"]["resourceType"], e["resource"]["id"]): e["fullUrl"] for e in bundle["entry"]}


@pytest.mark.parametrize("status", list(FhirTaskStatus))
def test_every_task_status_maps_to_its_r4_request_status_and_exports_valid_r4(status):
    bundle = export(status)
    assert one(bundle, "Task")["status"] == str(status)
    assert one(bundle, "ServiceRequest")["status"] == EXPECTED_REQUEST_STATUS[status]
    assert_valid_r4(bundle)


def test_a_no_show_is_a_revoked_request_and_on_hold_stays_on_hold():
    assert one(export(FhirTaskStatus.FAILED), "ServiceRequest")["status"] == "revoked"  # never "completed"
    assert one(export(FhirTaskStatus.ON_HOLD), "ServiceRequest")["status"] == "on-hold"
    assert set(SERVICE_REQUEST_STATUS) == set(FhirTaskStatus)  # no status falls through to a default


def test_full_urls_are_urn_uuids_stable_per_resource_and_every_reference_uses_them():
    bundle = export()
    urls = full_urls(bundle)
    assert all(URN_UUID.match(url) for url in urls.values()) and len(set(urls.values())) == len(urls)
    assert full_urls(export()) == urls  # the same handoff, the same ids, every time
    other = full_urls(export(handoff_id=6))
    assert other[("Task", "handoff-6")] != urls[("Task", "handoff-5")]
    assert other[("Patient", "7")] == urls[("Patient", "7")]
    elsewhere = full_urls(export(base="https://bridgeline.other-hospital.test"))
    assert not set(elsewhere.values()) & set(urls.values())  # another deployment's Patient 7 is someone else
    task, request, consent = one(bundle, "Task"), one(bundle, "ServiceRequest"), one(bundle, "Consent")
    assert task["focus"]["reference"] == urls[("ServiceRequest", "handoff-5")]
    assert task["for"]["reference"] == request["subject"]["reference"] == urls[("Patient", "7")]
    assert task["owner"]["reference"] == urls[("Organization", PARTNER_ID)]
    assert task["requester"]["reference"] == urls[("Organization", "program-1")]
    assert request["supportingInfo"][0]["reference"] == urls[("Consent", "3")]
    assert consent["provision"]["actor"][0]["reference"]["reference"] == urls[("Organization", PARTNER_ID)]


def test_each_export_has_its_own_bundle_identifier():
    first, second = export(), export()
    assert first["identifier"]["system"] == "urn:ietf:rfc:3986"
    assert uuid.UUID(first["identifier"]["value"].removeprefix("urn:uuid:")).version == 4
    assert first["identifier"]["value"] != second["identifier"]["value"]
    assert one(first, "Consent")["identifier"] == [{"system": "urn:bridgeline:consent", "value": "3"}]


def test_consent_codes_are_in_their_own_code_systems_with_a_policy():
    consent = one(export(purpose="Arrange <b>treatment</b> & follow up"), "Consent")
    role = consent["provision"]["actor"][0]["role"]["coding"]
    assert role == [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP",
                     "display": "information recipient"}]
    assert consent["provision"]["purpose"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT", "display": "treatment"}]
    assert {"uri": PART_2} in consent["policy"]
    assert consent["policyRule"]["coding"][0]["code"] == "42CFRPart2"
    assert consent["scope"]["coding"][0] == {"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                             "code": "patient-privacy", "display": "Privacy Consent"}
    categories = [(c["coding"][0]["system"], c["coding"][0]["code"]) for c in consent["category"]]
    assert ("http://loinc.org", "59284-0") in categories
    assert ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "IDSCL") in categories
    # The free-text purpose is kept, escaped, in the narrative: no coded element can hold it.
    assert "Arrange &lt;b&gt;treatment&lt;/b&gt; &amp; follow up" in consent["text"]["div"]
    assert consent["text"]["status"] == "additional" and not narrative_errors(consent)


def test_a_consent_that_ends_with_an_event_says_so_in_its_narrative():
    consent = one(export(expires_at=None, expires_on_event="Discharge from the programme"), "Consent")
    assert "period" not in consent["provision"] and "Discharge from the programme" in consent["text"]["div"]


def test_the_service_request_is_coded_and_categorised():
    request = one(export(service_types=("detox", "residential")), "ServiceRequest")
    assert request["category"] == [{"coding": [{"system": "http://snomed.info/sct", "code": "306206005",
                                                "display": "Referral to service"}]}]
    assert request["code"]["text"] == "Northside Intake"
    assert [(c["system"], c["code"]) for c in request["code"]["coding"]] == [
        ("urn:bridgeline:service-type", "detox"), ("urn:bridgeline:service-type", "residential")]
    untyped = one(export(service_types=()), "ServiceRequest")
    assert untyped["code"]["coding"] == [{"system": "http://snomed.info/sct", "code": "306206005",
                                          "display": "Referral to service"}]


def test_profiles_are_claimed_only_where_every_required_element_is_present():
    bundle = export()
    for organization in resources(bundle)["Organization"]:
        assert organization["active"] is True and organization["name"]
        assert organization["meta"]["profile"] == [US_CORE_ORGANIZATION]
    # US Core Patient needs an identifier and a gender, which Bridgeline does not record; SDOHCC's Task and
    # ServiceRequest need a US Core Patient: none of them is claimed.
    for kind in ("Patient", "Task", "ServiceRequest", "Consent"):
        assert "profile" not in one(bundle, kind).get("meta", {})


def test_the_patient_carries_no_invented_data():
    patient = one(export(), "Patient")
    assert set(patient) == {"resourceType", "id", "name", "telecom"}
