"""Patient rules: reading, listing, edits with preconditions. Intake (create and place with a coach) is
caseload's; what other capabilities do when a patient changes, they do on `patient_changed`."""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.errors import PreconditionFailedError, field_error
from backend.database import db, utcnow
from backend.patients.access import get_patient_for, scope_patients
from backend.patients.events import patient_changed
from backend.patients.models import (
    CLOSED_STATUSES,
    Patient,
    PatientEvent,
    PatientEventKind,
    PatientStatus,
)
from backend.users.models import User

PHONE_DIGITS = re.compile(r"\d")


def list_patients(actor: User, *, status: list[PatientStatus] | None = None, q: str | None = None,
                  updated_since: datetime | None = None, coach_id: int | None = None) -> sa.Select:
    """The caller's patients, filtered; ordered for delta sync when `updated_since` is given."""
    stmt = scope_patients(actor)
    if status:
        stmt = stmt.where(Patient.status.in_(status))
    if coach_id is not None:
        stmt = stmt.where(Patient.coach_id == coach_id)
    if q:
        stmt = stmt.where(_matches(q))
    if updated_since is not None:
        return stmt.where(Patient.updated_at > updated_since).order_by(Patient.updated_at, Patient.id)
    return stmt.order_by(Patient.last_name, Patient.first_name, Patient.id)


def _matches(q: str):
    """Name (any part, or "first last") or phone digits."""
    digits = "".join(PHONE_DIGITS.findall(q))
    if len(digits) >= 4 and len(digits) >= len(q.replace(" ", "")) // 2:
        return Patient.phone.contains(digits, autoescape=True)
    term = q.strip()
    conditions = [col.icontains(term, autoescape=True)
                  for col in (Patient.first_name, Patient.last_name, Patient.preferred_name)]
    if " " in term:
        first, _, last = term.partition(" ")
        conditions.append(sa.and_(Patient.first_name.istartswith(first.strip(), autoescape=True),
                                  Patient.last_name.istartswith(last.strip(), autoescape=True)))
    return sa.or_(*conditions)


def audit_list(actor: User, patients: list[Patient], filters: dict) -> None:
    """One audit event per list read, naming the patients shown (ids only)."""
    used = sorted(name for name, value in filters.items() if value)
    audit.record("list", "patient", actor=actor,
                 details={"patient_ids": [p.id for p in patients], "filters": used})


def read_patient(actor: User, patient_id: int) -> Patient:
    """One patient, audited."""
    patient = get_patient_for(actor, patient_id)
    audit.record("read", "patient", actor=actor, patient_id=patient.id, resource_id=patient.id)
    return patient


def check_referring_partner(actor: User, organization_id: str | None) -> None:
    """The referring partner must be one of the programme's partners."""
    if organization_id is None:
        return
    from backend.partners.models import Organization

    org = db.session.get(Organization, organization_id)
    if org is None or org.program_id != actor.program_id:
        raise field_error("referring_organization_id", "Not a partner of your programme.")


def check_if_match(patient: Patient, if_match: str | None) -> None:
    """412 when the client's ETag is not the current one (no header: no precondition)."""
    if if_match is None:
        return
    tags = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    if "*" not in tags and patient.etag not in tags:
        raise PreconditionFailedError("precondition_failed",
                       "The patient changed since you read it. Reload and retry.",
                       extra={"current_etag": patient.etag})


def update_patient(actor: User, patient_id: int, changes: dict, if_match: str | None) -> Patient:
    """Edit a patient under an optional If-Match precondition; status changes are events."""
    patient = get_patient_for(actor, patient_id, for_update=True)
    check_if_match(patient, if_match)
    check_referring_partner(actor, changes.get("referring_organization_id"))
    changes = {k: v for k, v in changes.items() if getattr(patient, k) != v}
    before = {field: getattr(patient, field) for field in changes}
    now = utcnow()
    if "status" in changes:
        old = patient.status
        new = changes["status"]
        patient.closed_at = now if new in CLOSED_STATUSES else None
        record_event(patient, actor, PatientEventKind.STATUS_CHANGED, {"from": str(old), "to": str(new)})
    if changes.get("sms_consent"):
        patient.sms_consent_at = now
    if "phone" in changes:
        patient.phone_flagged_at = None
    detail_fields = sorted(set(changes) - {"status"})
    if detail_fields:
        record_event(patient, actor, PatientEventKind.DETAILS_UPDATED, {"fields": detail_fields})
    for field, value in changes.items():
        setattr(patient, field, value)
    db.session.flush()
    patient_changed.send(patient, before=before)  # texts cancelled, cap watched: see the receivers
    audit.record("update", "patient", actor=actor, patient_id=patient.id, resource_id=patient.id,
                 details={"fields": sorted(changes)})
    return patient


def record_event(patient: Patient, actor: User | None, kind: PatientEventKind, details: dict) -> None:
    """Add an entry to the patient's own history (created, status changed, details updated)."""
    db.session.add(PatientEvent(patient_id=patient.id, actor_id=actor.id if actor else None,
                                kind=kind, details=details))
