"""A handoff as a FHIR R4 Bundle: Task (closed-loop tracking), ServiceRequest, Consent, Patient, Organizations.

Shaped after the Gravity Project's SDOH Clinical Care referral model. Every
bundle that leaves for a partner carries the 42 CFR Part 2 redisclosure notice
and the consent it relies on, and is recorded as a disclosure.

Identity: each entry's fullUrl is `urn:uuid:` + uuid5(deployment namespace, "<resourceType>/<our id>"), so the same
handoff exports the same fullUrls every time, and every reference inside the bundle is one of those fullUrls (R4
Bundle reference resolution). The deployment namespace derives from PUBLIC_BASE_URL, so deployments at different
addresses never mint the same urn:uuid for different patients. Resource.id stays our own id (R4 lets a
`urn:uuid:` fullUrl differ from it). Bundle.identifier is a new uuid4 per export: each export is its own document.

Profiles: the Organizations claim US Core Organization (its required elements, active and name, are always
present). Nothing else claims a profile: the SDOHCC ServiceRequest and Task profiles require their subject to be a
US Core Patient (identifier and gender, which Bridgeline does not record), so claiming them would be false.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from html import escape

from flask import current_app

from backend.consent.models import Consent
from backend.consent.schemas import REDISCLOSURE_NOTICE
from backend.consent.service import record_disclosure, require_cover
from backend.database import db, utcnow
from backend.handoffs.models import FhirTaskStatus, Handoff
from backend.handoffs.service import get_handoff
from backend.partners.models import Organization, Service
from backend.partners.vocabulary import SERVICE_TYPES
from backend.patients.models import Patient
from backend.programs.models import Program
from backend.users.models import User

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
PART_2_URI = "https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2"
US_CORE_ORGANIZATION = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization"
BASE = "urn:bridgeline"
# Bridgeline's own service types (backend/partners/vocabulary.py), the codes the HSDS export also carries.
SERVICE_TYPE_SYSTEM = f"{BASE}:service-type"
# Fixed for good: every fullUrl derives from it (through the deployment's namespace).
NAMESPACE = uuid.UUID("d8a5d2bc-c093-4242-8d2e-3b29e1d392d7")

# Task status (what the partner did) -> ServiceRequest status (R4 request-status: draft | active | on-hold |
# revoked | completed | entered-in-error | unknown). `completed` means "the activity described by the request has
# been fully performed", so only an attended handoff is completed; a rejected, cancelled or failed (e.g. no-show)
# one was "terminated prior to the known full completion of the intended actions", which is `revoked`.
SERVICE_REQUEST_STATUS = {
    FhirTaskStatus.DRAFT: "draft",
    FhirTaskStatus.REQUESTED: "active",
    FhirTaskStatus.ACCEPTED: "active",
    FhirTaskStatus.IN_PROGRESS: "active",
    FhirTaskStatus.ON_HOLD: "on-hold",
    FhirTaskStatus.REJECTED: "revoked",
    FhirTaskStatus.CANCELLED: "revoked",
    FhirTaskStatus.FAILED: "revoked",
    FhirTaskStatus.COMPLETED: "completed",
    FhirTaskStatus.ENTERED_IN_ERROR: "entered-in-error",
}


def deployment_namespace(public_base_url: str) -> uuid.UUID:
    """The uuid5 namespace of one deployment's fullUrls."""
    return uuid.uuid5(NAMESPACE, public_base_url.rstrip("/"))


def full_url(namespace: uuid.UUID, resource_type: str, ident: object) -> str:
    """The stable `urn:uuid:` fullUrl of one of our resources."""
    return f"urn:uuid:{uuid.uuid5(namespace, f'{resource_type}/{ident}')}"


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _coding(system: str, code: str, display: str | None = None) -> dict:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def _referral() -> dict:
    return _coding(SNOMED, "306206005", "Referral to service")


def _service_code(service: Service) -> dict:
    """What is requested: the service's types in our code system, else SNOMED's "referral to service"; its name."""
    types = [a.value for a in service.attributes if a.kind == "service_type" and a.value in SERVICE_TYPES]
    coding = [_coding(SERVICE_TYPE_SYSTEM, code, SERVICE_TYPES[code]) for code in types] or [_referral()]
    return {"coding": coding, "text": service.name}


def _consent_narrative(consent: Consent, partner: Organization, status: str) -> dict:
    """The consent's own words (purpose, information, expiry), which no coded R4 Consent element can hold."""
    expiry = _time(consent.expires_at) or consent.expires_on_event or "not stated"
    rows = [("Status", status), ("Recipient", partner.name), ("Purpose", consent.purpose),
            ("Information", consent.information), ("Expires", expiry)]
    body = "".join(f"<p><b>{escape(label)}:</b> {escape(str(value))}</p>" for label, value in rows)
    return {"status": "additional",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>Consent to disclose (42 CFR Part 2)</p>{body}</div>'}


def _organization(org_id: str, name: str, phone: str | None) -> dict:
    resource = {"resourceType": "Organization", "id": org_id, "meta": {"profile": [US_CORE_ORGANIZATION]},
                "active": True, "name": name}
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone, "use": "work"}]
    return resource


def handoff_bundle(handoff: Handoff, patient: Patient, service: Service, partner: Organization, consent: Consent,
                   program: Program, *, namespace: uuid.UUID) -> dict:
    """The Bundle (type collection) for one handoff."""
    task_id, request_id, program_org_id = f"handoff-{handoff.id}", f"handoff-{handoff.id}", f"program-{program.id}"
    urls = {"Task": full_url(namespace, "Task", task_id),
            "ServiceRequest": full_url(namespace, "ServiceRequest", request_id),
            "Consent": full_url(namespace, "Consent", consent.id),
            "Patient": full_url(namespace, "Patient", patient.id),
            "partner": full_url(namespace, "Organization", partner.id),
            "program": full_url(namespace, "Organization", program_org_id)}

    def ref(key: str) -> dict:
        return {"reference": urls[key]}

    task = {
        "resourceType": "Task", "id": task_id,
        "identifier": [{"system": f"{BASE}:handoff", "value": handoff.reference}],
        "status": str(handoff.status), "intent": "order",
        "code": {"coding": [_coding(TASK_CODE, "fulfill", "Fulfill the focal request")]},
        "focus": ref("ServiceRequest"), "for": ref("Patient"),
        "authoredOn": _time(handoff.created_at), "lastModified": _time(handoff.updated_at),
        "requester": ref("program"), "owner": ref("partner"),
        "note": [{"text": REDISCLOSURE_NOTICE}],
    }
    if handoff.status_reason:
        task["statusReason"] = {"text": handoff.status_reason}
    request = {
        "resourceType": "ServiceRequest", "id": request_id,
        "status": SERVICE_REQUEST_STATUS[handoff.status], "intent": "order",
        "category": [{"coding": [_referral()]}],
        "code": _service_code(service), "subject": ref("Patient"), "authoredOn": _time(handoff.created_at),
        "requester": ref("program"), "performer": [ref("partner")], "supportingInfo": [ref("Consent")],
    }
    if handoff.appointment_at:
        request["occurrenceDateTime"] = _time(handoff.appointment_at)
    provision = {"type": "permit",
                 "actor": [{"role": {"coding": [_coding(PARTICIPATION_TYPE, "IRCP", "information recipient")]},
                            "reference": ref("partner")}],
                 "purpose": [_coding(ACT_REASON, "TREAT", "treatment")]}
    if consent.expires_at:
        provision["period"] = {"start": _time(consent.signed_at), "end": _time(consent.expires_at)}
    consent_status = "active" if consent.is_active(utcnow()) else "inactive"
    consent_resource = {
        "resourceType": "Consent", "id": str(consent.id),
        "text": _consent_narrative(consent, partner, consent_status),
        "identifier": [{"system": f"{BASE}:consent", "value": str(consent.id)}],
        "status": consent_status,
        "scope": {"coding": [_coding(CONSENT_SCOPE, "patient-privacy", "Privacy Consent")]},
        "category": [{"coding": [_coding(ACT_CODE, "IDSCL", "information disclosure")]},
                     {"coding": [_coding(LOINC, "59284-0", "Patient Consent")]}],
        "patient": ref("Patient"), "dateTime": _time(consent.signed_at), "organization": [ref("program")],
        "sourceAttachment": {"title": f"Signed {consent.signature_method}"},
        "policy": [{"uri": PART_2_URI}],
        "policyRule": {"coding": [_coding(ACT_CODE, "42CFRPart2")], "text": "42 CFR Part 2"},
        "provision": provision,
    }
    patient_resource = {"resourceType": "Patient", "id": str(patient.id),
                        "name": [{"family": patient.last_name, "given": [patient.first_name]}]}
    if patient.phone:
        patient_resource["telecom"] = [{"system": "phone", "value": patient.phone, "use": "mobile"}]
    entries = [(urls["Task"], task), (urls["ServiceRequest"], request), (urls["Consent"], consent_resource),
               (urls["Patient"], patient_resource),
               (urls["partner"], _organization(partner.id, partner.name, partner.phone)),
               (urls["program"], _organization(program_org_id, program.name, program.phone))]
    return {
        "resourceType": "Bundle",
        "meta": {"security": [_coding(ACT_CODE, "42CFRPart2")]},
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        "type": "collection", "timestamp": _time(utcnow()),
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    }


def bundle_for(handoff: Handoff, consent: Consent) -> dict:
    """The handoff's Bundle under the consent that covers it now (the caller checked it and records the disclosure:
    a staff export here, a partner's pull with its API key in backend/partner_access)."""
    return handoff_bundle(handoff, db.session.get(Patient, handoff.patient_id),
                          db.session.get(Service, handoff.service_id),
                          db.session.get(Organization, handoff.organization_id), consent,
                          db.session.get(Program, handoff.program_id),
                          namespace=deployment_namespace(current_app.config["PUBLIC_BASE_URL"]))


def export_handoff(actor: User, handoff_id: int) -> dict:
    """The handoff's Bundle; leaving for the partner, it is recorded as a disclosure under its consent."""
    handoff = get_handoff(actor, handoff_id)
    consent = require_cover(handoff.patient_id, handoff.organization_id)  # the one that covers it now
    bundle = bundle_for(handoff, consent)
    record_disclosure(actor, consent, "Referral as FHIR: name, phone, service requested, appointment",
                      channel=f"fhir {handoff.reference}")
    return bundle
