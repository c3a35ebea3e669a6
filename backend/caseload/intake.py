"""Intake: a new patient is created and placed with a coach in one step, under the caps.

ED and inpatient referrals without a coach go to the on-shift coach with the
most room (opt-out linkage); caps hold in every case.
"""

from __future__ import annotations

from backend.audit import service as audit
from backend.caseload import assignment
from backend.caseload.locking import lock_coaches, lock_on_shift_coaches
from backend.caseload.models import AssignmentMethod
from backend.common.errors import ForbiddenError
from backend.database import db, utcnow
from backend.patients.models import CLOSED_STATUSES, Acuity, Patient, PatientEventKind, PatientStatus
from backend.patients.service import check_referring_partner, record_event
from backend.users.models import Role, User
from backend.users.service import coach_in_program


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
    record_event(patient, actor, PatientEventKind.CREATED,
           {"source": str(patient.source), "status": str(patient.status), "coach_id": patient.coach_id})
    audit.record("create", "patient", actor=actor, patient_id=patient.id, resource_id=patient.id)
    if placement is not None:
        assignment.record_placement(patient, placement, actor)
    elif automatic:
        assignment.ask_supervisor_to_place(patient, len(on_shift))
    return patient
