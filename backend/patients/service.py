"""Patient rules: creation and assignment on create, edits with preconditions, listing."""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa

from backend.audit import service as audit
from backend.caseload import assignment
from backend.caseload.locking import lock_coaches, lock_on_shift_coaches
from backend.caseload.models import Assignment, AssignmentMethod
from backend.common.errors import ForbiddenError, PreconditionFailedError, field_error
from backend.database import db, utcnow
from backend.messaging import service as messaging
from backend.patients.access import get_patient_for, scope_patients
from backend.patients.models import (
    CLOSED_STATUSES,
    Acuity,
    Patient,
    PatientEvent,
    PatientEventKind,
    PatientStatus,
)
from backend.users.models import Role, User
from backend.users.service import coach_in_program

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


def removed_since(actor: User, since: datetime) -> list[dict]:
    """Patients that left the caller's caseload after `since`: an offline device deletes its copy of them."""
    removed = []
    # Supervisors and admins see the whole programme, so no patient ever leaves their view.
    if actor.role == Role.COACH:
        moved = (sa.select(Assignment.patient_id, sa.func.max(Assignment.created_at).label("removed_at"))
                 .where(Assignment.program_id == actor.program_id, Assignment.previous_coach_id == actor.id,
                        Assignment.created_at > since)
                 .group_by(Assignment.patient_id).subquery())
        rows = db.session.execute(
            sa.select(moved.c.patient_id, moved.c.removed_at).join(Patient, Patient.id == moved.c.patient_id)
            .where(Patient.coach_id.is_distinct_from(actor.id))  # reassigned back since: still theirs
            .order_by(moved.c.removed_at, moved.c.patient_id)).all()
        removed = [{"id": patient_id, "removed_at": at} for patient_id, at in rows]
    audit.record("list", "removed_patient", actor=actor, details={"patient_ids": [r["id"] for r in removed]})
    return removed


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


def create_patient(actor: User, data: dict) -> Patient:
    """Create a patient: a coach becomes its coach; a supervisor may name one or leave it unassigned.

    ED and inpatient referrals without a coach go to the on-shift coach with the
    most room (opt-out linkage); caps hold in every case.
    """
    coach_id = data.pop("coach_id", None)
    check_referring_partner(actor, data.get("referring_organization_id"))
    coach = None
    if actor.role == Role.COACH:
        if coach_id not in (None, actor.id):
            raise ForbiddenError("forbidden", "A coach can only create patients for their own caseload.",
                           errors={"coach_id": ["Must be your own id or left out."]})
        coach = actor
    elif coach_id is not None:
        coach = coach_in_program(actor, coach_id)
    automatic = coach is None and assignment.qualifies_for_automatic_assignment(data, coach_id)
    if automatic:
        on_shift = lock_on_shift_coaches(actor.program_id)
    else:
        on_shift = []
        lock_coaches([coach.id] if coach else [])
    if data.get("declined_peer_support") and "status" not in data:
        data["status"] = PatientStatus.DECLINED
    data.setdefault("timezone", actor.program.timezone)
    acuity = data.get("acuity", Acuity.STANDARD)
    placement = None
    if coach is not None and data.get("status") not in CLOSED_STATUSES:
        placement = assignment.find_room(coach, acuity, AssignmentMethod.CREATED)
    elif automatic:
        placement = assignment.pick_on_shift_coach(actor.program_id, acuity, on_shift)
    patient = Patient(program_id=actor.program_id, created_by_id=actor.id, **data,
                      coach_id=placement.coach.id if placement else (coach.id if coach else None))
    now = utcnow()
    if patient.sms_consent:
        patient.sms_consent_at = now
    if patient.status in CLOSED_STATUSES:
        patient.closed_at = now
    db.session.add(patient)
    db.session.flush()
    _event(patient, actor, PatientEventKind.CREATED,
           {"source": str(patient.source), "status": str(patient.status), "coach_id": patient.coach_id})
    audit.record("create", "patient", actor=actor, patient_id=patient.id, resource_id=patient.id)
    if placement is not None:
        assignment.record_placement(patient, placement, actor)
    elif automatic:
        assignment.ask_supervisor_to_place(patient, len(on_shift))
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
    # A reopen or a higher acuity adds load: watch whether it takes the coach over cap.
    added = assignment.load_added(patient, changes) if patient.coach_id and {"status", "acuity"} & set(changes) else 0
    now = utcnow()
    if "status" in changes:
        old = patient.status
        new = changes["status"]
        patient.closed_at = now if new in CLOSED_STATUSES else None
        _event(patient, actor, PatientEventKind.STATUS_CHANGED, {"from": str(old), "to": str(new)})
    if changes.get("sms_consent"):
        patient.sms_consent_at = now
    if changes.get("sms_consent") is False:
        messaging.cancel_pending(patient.id, "sms_consent_withdrawn")
    if changes.get("status") in CLOSED_STATUSES:
        messaging.cancel_pending(patient.id, "patient_closed")
    if "phone" in changes:
        patient.phone_flagged_at = None
    detail_fields = sorted(set(changes) - {"status"})
    if detail_fields:
        _event(patient, actor, PatientEventKind.DETAILS_UPDATED, {"fields": detail_fields})
    for field, value in changes.items():
        setattr(patient, field, value)
    db.session.flush()
    if added > 0:
        assignment.tell_supervisor_if_over_cap(patient, added)
    audit.record("update", "patient", actor=actor, patient_id=patient.id, resource_id=patient.id,
                 details={"fields": sorted(changes)})
    return patient


def _event(patient: Patient, actor: User | None, kind: PatientEventKind, details: dict) -> None:
    db.session.add(PatientEvent(patient_id=patient.id, actor_id=actor.id if actor else None,
                                kind=kind, details=details))
