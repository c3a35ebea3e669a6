"""Handoff rules: consent first, legal status moves, reasons, outcomes, reminders."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.errors import ConflictError, field_error, not_found
from backend.consent.service import record_disclosure, require_cover
from backend.database import db, utcnow
from backend.handoffs import reminders
from backend.handoffs.models import OPEN_STATUSES, FhirTaskStatus, Handoff
from backend.handoffs.transitions import NEEDS_REASON, NO_SHOW, can_move
from backend.partners.models import Service
from backend.patients.access import get_patient_for, scope_patients
from backend.patients.models import Patient, PatientEventKind
from backend.patients.service import record_event
from backend.users.models import User

REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
DISCLOSED = "Name, date of birth if known, phone, reason for referral and appointment time"


def new_reference() -> str:
    return "H-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(7))


def create_handoff(actor: User, data: dict) -> Handoff:
    """Refer or walk a patient to a partner service; 409 without an active consent naming the partner."""
    patient = get_patient_for(actor, data.pop("patient_id"))
    service = db.session.get(Service, data.pop("service_id"))
    if service is None or service.program_id != actor.program_id:
        raise field_error("service_id", "Not a service of your programme's partners.")
    consent = require_cover(patient.id, service.organization_id)
    if data.get("appointment_at") is not None and data["appointment_at"] < utcnow():
        raise field_error("appointment_at", "The appointment is in the past.")
    handoff = Handoff(program_id=patient.program_id, patient_id=patient.id, service_id=service.id,
                      organization_id=service.organization_id, consent_id=consent.id, reference=new_reference(),
                      status=FhirTaskStatus.REQUESTED, created_by_id=actor.id, **data)
    db.session.add(handoff)
    db.session.flush()
    record_disclosure(actor, consent, DISCLOSED, channel=f"handoff {handoff.reference}")
    reminders.reschedule(handoff, patient)
    audit.record("create", "handoff", actor=actor, patient_id=patient.id, resource_id=handoff.id)
    return handoff


def get_handoff(actor: User, handoff_id: int, *, for_update: bool = False) -> Handoff:
    """A handoff of a patient the actor may see, or 404."""
    stmt = sa.select(Handoff).where(Handoff.id == handoff_id,
                                    Handoff.patient_id.in_(scope_patients(actor, sa.select(Patient.id))))
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    handoff = db.session.scalar(stmt)
    if handoff is None:
        raise not_found("handoff")
    return handoff


def read_handoff(actor: User, handoff_id: int) -> Handoff:
    handoff = get_handoff(actor, handoff_id)
    audit.record("read", "handoff", actor=actor, patient_id=handoff.patient_id, resource_id=handoff.id)
    return handoff


def list_handoffs(actor: User, patient_id: int) -> list[Handoff]:
    patient = get_patient_for(actor, patient_id)
    audit.record("list", "handoff", actor=actor, patient_id=patient.id)
    return list(db.session.scalars(sa.select(Handoff).where(Handoff.patient_id == patient.id)
                                   .order_by(Handoff.created_at.desc(), Handoff.id.desc())))


def move(handoff: Handoff, status: FhirTaskStatus, reason: str | None, confirmed_by: str | None = None,
         actor: User | None = None) -> None:
    """Apply a status change if FHIR's Task lifecycle allows it; some need a reason. The timeline shows it."""
    if status == handoff.status:
        return
    before = handoff.status
    if not can_move(handoff.status, status):
        raise ConflictError("illegal_transition", f"A handoff cannot go from {handoff.status} to {status}.",
                       extra={"from": str(handoff.status), "to": str(status)})
    if status in NEEDS_REASON and not reason:
        raise field_error("status_reason", f"Say why the handoff is {status}.")
    handoff.status, handoff.status_reason = status, reason
    if status in (FhirTaskStatus.COMPLETED, FhirTaskStatus.FAILED):
        handoff.completed_at = utcnow()
        handoff.outcome_confirmed_by = confirmed_by
    record_event(db.session.get(Patient, handoff.patient_id), actor, PatientEventKind.HANDOFF_STATUS_CHANGED,
                 {"handoff_id": handoff.id, "reference": handoff.reference, "from": str(before), "to": str(status),
                  "reason": reason})


def edit_reason(handoff: Handoff, reason: str | None) -> None:
    """Reword the reason of an open handoff; a closed one's reason is its outcome, and a required one stays."""
    if handoff.status not in OPEN_STATUSES:
        raise ConflictError("handoff_closed", f"The reason of a {handoff.status} handoff is part of its outcome.")
    if handoff.status in NEEDS_REASON and not reason:
        raise field_error("status_reason", f"Say why the handoff is {handoff.status}.")
    handoff.status_reason = reason


def update_handoff(actor: User, handoff_id: int, changes: dict) -> Handoff:
    """Move a handoff through its lifecycle, or change its appointment (reminders follow)."""
    handoff = get_handoff(actor, handoff_id, for_update=True)
    before = (handoff.status, handoff.appointment_at)
    if "status" in changes:
        move(handoff, changes["status"], changes.get("status_reason"), confirmed_by=f"user:{actor.id}", actor=actor)
    elif "status_reason" in changes:
        edit_reason(handoff, changes["status_reason"])
    for field in ("appointment_at", "note"):
        if field in changes:
            setattr(handoff, field, changes[field])
    db.session.flush()
    # Reminders are rebuilt only when the appointment itself changes, and dropped when the handoff closes;
    # a status change along the way leaves them as they are (no cancelled-and-recreated clutter).
    patient = db.session.get(Patient, handoff.patient_id)
    if handoff.appointment_at != before[1]:
        reminders.reschedule(handoff, patient)
    elif handoff.status != before[0] and handoff.status not in OPEN_STATUSES:
        reminders.cancel(handoff, patient)
    audit.record("update", "handoff", actor=actor, patient_id=handoff.patient_id, resource_id=handoff.id,
                 details={"fields": sorted(changes), "status": str(handoff.status)})
    return handoff


def record_partner_answer(handoff: Handoff, arrived: bool) -> None:
    """The partner's point person said whether the patient arrived (through a confirmation link)."""
    if arrived:
        move(handoff, FhirTaskStatus.COMPLETED, "attended", confirmed_by="partner_link")
    else:
        move(handoff, FhirTaskStatus.FAILED, NO_SHOW, confirmed_by="partner_link")
    reminders.cancel(handoff, db.session.get(Patient, handoff.patient_id))
    audit.record("confirm", "handoff", actor=None, program_id=handoff.program_id, patient_id=handoff.patient_id,
                 resource_id=handoff.id,
                 details={"via": "partner_link", "arrived": arrived})
