"""A handoff as a FHIR R4 Bundle: Task (closed-loop tracking), ServiceRequest, Consent, Patient, Organizations.

Shaped after the Gravity Project's SDOH Clinical Care referral model. Every
bundle that leaves for a partner carries the 42 CFR Part 2 redisclosure notice
and the consent it relies on, and is recorded as a disclosure.
"""

from __future__ import annotations

from backend.consent.models import Consent
from backend.consent.schemas import REDISCLOSURE_NOTICE
from backend.consent.service import record_disclosure, require_cover
from backend.database import db, utcnow
from backend.handoffs.models import FhirTaskStatus, Handoff
from backend.handoffs.service import get_handoff
from backend.partners.models import Organization, Service
from backend.patients.models import Patient
from backend.programs.models import Program
from backend.users.models import User

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SERVICE_REQUEST_STATUS = {
    FhirTaskStatus.DRAFT: "draft", FhirTaskStatus.COMPLETED: "completed", FhirTaskStatus.CANCELLED: "revoked",
    FhirTaskStatus.REJECTED: "revoked", FhirTaskStatus.FAILED: "completed",
    FhirTaskStatus.ENTERED_IN_ERROR: "entered-in-error",
}
BASE = "urn:bridgeline"


def _ref(kind: str, ident: object) -> dict:
    return {"reference": f"{kind}/{ident}"}


def _time(value) -> str | None:
    return value.isoformat() if value else None


def handoff_bundle(handoff: Handoff, patient: Patient, service: Service, partner: Organization, consent: Consent,
                   program: Program) -> dict:
    """The Bundle (type collection) for one handoff."""
    program_ref, partner_ref = _ref("Organization", f"program-{program.id}"), _ref("Organization", partner.id)
    task = {
        "resourceType": "Task", "id": f"handoff-{handoff.id}",
        "identifier": [{"system": f"{BASE}:handoff", "value": handoff.reference}],
        "status": str(handoff.status), "intent": "order",
        "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]},
        "focus": _ref("ServiceRequest", f"handoff-{handoff.id}"), "for": _ref("Patient", patient.id),
        "authoredOn": _time(handoff.created_at), "lastModified": _time(handoff.updated_at),
        "requester": program_ref, "owner": partner_ref,
        "note": [{"text": REDISCLOSURE_NOTICE}],
    }
    if handoff.status_reason:
        task["statusReason"] = {"text": handoff.status_reason}
    request = {
        "resourceType": "ServiceRequest", "id": f"handoff-{handoff.id}",
        "status": SERVICE_REQUEST_STATUS.get(handoff.status, "active"), "intent": "order",
        "code": {"text": service.name}, "subject": _ref("Patient", patient.id), "authoredOn": _time(handoff.created_at),
        "requester": program_ref, "performer": [partner_ref],
        "supportingInfo": [_ref("Consent", consent.id)],
    }
    if handoff.appointment_at:
        request["occurrenceDateTime"] = _time(handoff.appointment_at)
    provision = {"type": "permit", "actor": [{"role": {"coding": [{"system": ACT_CODE, "code": "IRCP"}]},
                                              "reference": partner_ref}],
                 "purpose": [{"system": ACT_CODE, "code": "TREAT", "display": consent.purpose[:200]}]}
    if consent.expires_at:
        provision["period"] = {"start": _time(consent.signed_at), "end": _time(consent.expires_at)}
    consent_resource = {
        "resourceType": "Consent", "id": str(consent.id),
        "status": "active" if consent.is_active(utcnow()) else "inactive",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": ACT_CODE, "code": "IDSCL"}]}],
        "patient": _ref("Patient", patient.id), "dateTime": _time(consent.signed_at), "organization": [program_ref],
        "sourceAttachment": {"title": f"Signed {consent.signature_method}"}, "provision": provision,
    }
    patient_resource = {"resourceType": "Patient", "id": str(patient.id),
                        "name": [{"family": patient.last_name, "given": [patient.first_name]}]}
    if patient.phone:
        patient_resource["telecom"] = [{"system": "phone", "value": patient.phone, "use": "mobile"}]
    organizations = [{"resourceType": "Organization", "id": partner.id, "name": partner.name},
                     {"resourceType": "Organization", "id": f"program-{program.id}", "name": program.name}]
    resources = [task, request, consent_resource, patient_resource, *organizations]
    return {
        "resourceType": "Bundle", "type": "collection", "timestamp": _time(utcnow()),
        "meta": {"security": [{"system": ACT_CODE, "code": "42CFRPart2"}]},
        "identifier": {"system": f"{BASE}:consent", "value": str(consent.id)},
        "entry": [{"fullUrl": f"{BASE}:{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }


def export_handoff(actor: User, handoff_id: int) -> dict:
    """The handoff's Bundle; leaving for the partner, it is recorded as a disclosure under its consent."""
    handoff = get_handoff(actor, handoff_id)
    consent = require_cover(handoff.patient_id, handoff.organization_id)  # the one that covers it now
    bundle = handoff_bundle(handoff, db.session.get(Patient, handoff.patient_id),
                            db.session.get(Service, handoff.service_id),
                            db.session.get(Organization, handoff.organization_id), consent,
                            db.session.get(Program, handoff.program_id))
    record_disclosure(actor, consent, "Referral as FHIR: name, phone, service requested, appointment",
                      channel=f"fhir {handoff.reference}")
    return bundle
