"""Assigning patients to coaches without ever breaking a cap by accident."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from backend.audit import service as audit
from backend.caseload import caps
from backend.caseload.caps import cap_of, utilisation
from backend.caseload.locking import lock_coaches
from backend.caseload.models import Assignment, AssignmentMethod
from backend.caseload.policy import loads_for, weight_of
from backend.common.errors import ConflictError, ForbiddenError, field_error
from backend.database import db, utcnow
from backend.patients.access import get_patient_for, scope_patients
from backend.patients.events import patient_changed
from backend.patients.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Acuity,
    Patient,
    PatientEvent,
    PatientEventKind,
    PatientSource,
)
from backend.programs.policies import policy_for
from backend.tasks.models import TaskKind
from backend.tasks.service import least_busy_supervisor, open_system_task, supervisor_of
from backend.users.models import Role, User
from backend.users.service import coach_in_program

AUTO_SOURCES = (PatientSource.ED, PatientSource.INPATIENT)
MIN_REASON = 10


def check_override(actor: User, override_reason: str | None) -> str | None:
    """Only supervisors and admins override a cap, with a written reason."""
    if override_reason is None:
        return None
    if actor.role == Role.COACH:
        raise ForbiddenError("override_not_allowed", "Only a supervisor or admin can override a caseload cap.")
    reason = override_reason.strip()
    if len(reason) < MIN_REASON:
        raise field_error("override_reason", f"Give a reason of at least {MIN_REASON} characters.")
    return reason


def cap_reached(coach: User, load: int, cap: int, weight: int) -> ConflictError:
    return ConflictError("caseload_cap_reached",
                    "This coach's caseload is full. A supervisor can override with a reason.",
                    extra={"coach_id": coach.id, "load": load / 100, "cap": cap, "patient_weight": weight / 100})


def _give(patient: Patient, coach: User, actor: User | None, method: AssignmentMethod,
          load_before: int, cap: int, reason: str | None) -> Assignment:
    created = method in (AssignmentMethod.CREATED, AssignmentMethod.AUTOMATIC)  # both only at creation
    previous = None if created else patient.coach_id
    patient.coach_id = coach.id
    assignment = Assignment(program_id=patient.program_id, patient_id=patient.id, coach_id=coach.id,
                            previous_coach_id=previous, assigned_by_id=actor.id if actor else None,
                            method=method, override_reason=reason, load_before=load_before, cap=cap)
    db.session.add(assignment)
    if created:  # the patient's "created" event already names the coach
        return assignment
    db.session.add(PatientEvent(patient_id=patient.id, actor_id=actor.id if actor else None,
                                kind=PatientEventKind.COACH_CHANGED,
                                details={"from": previous, "to": coach.id, "method": str(method),
                                         "override": reason is not None}))
    return assignment


def assign_patient(actor: User, patient_id: int, coach_id: int, override_reason: str | None = None) -> Patient:
    """Assign or reassign a patient; 409 at the cap unless a lead overrides with a reason."""
    reason = check_override(actor, override_reason)
    if actor.role == Role.COACH and coach_id != actor.id:
        raise ForbiddenError("forbidden", "A coach can only assign patients to themselves.",
                       errors={"coach_id": ["Must be your own id."]})
    coach = coach_in_program(actor, coach_id)
    lock_coaches([coach.id])
    patient = _assignable(actor, patient_id)
    if patient.coach_id == coach.id:  # nothing to move, but the answer shows the patient: audited
        audit.record("assign", "patient", actor=actor, patient_id=patient.id, resource_id=patient.id,
                     outcome="unchanged")
        return patient
    _give_within_cap(patient, coach, actor, AssignmentMethod.MANUAL, reason)
    db.session.flush()
    return patient


@dataclass(frozen=True)
class Placement:
    """Room found for a patient on a coach's (locked) caseload."""

    coach: User
    method: AssignmentMethod
    load_before: int
    cap: int
    override_reason: str | None = None


def find_room(coach: User, acuity: Acuity, method: AssignmentMethod, reason: str | None = None) -> Placement:
    """Room for a patient of this acuity on the coach's caseload; 409 at the cap unless a lead overrides."""
    policy = policy_for(coach.program_id)
    weight = weight_of(policy, acuity)
    load, _count = loads_for([coach.id], policy)[coach.id]
    cap = cap_of(coach, policy)
    over = not caps.fits(load, weight, cap)
    if over and reason is None:
        raise cap_reached(coach, load, cap, weight)
    return Placement(coach, method, load, cap, reason if over else None)


def record_placement(patient: Patient, placement: Placement, actor: User | None) -> None:
    """Give the patient to the placement's coach: history row, timeline event, audit."""
    _give(patient, placement.coach, actor, placement.method, placement.load_before, placement.cap,
          placement.override_reason)
    audit.record("assign", "patient", actor=actor, patient_id=patient.id, resource_id=patient.id,
                 details={"coach_id": placement.coach.id, "method": str(placement.method),
                          "override": placement.override_reason is not None})


def _give_within_cap(patient: Patient, coach: User, actor: User, method: AssignmentMethod,
                     reason: str | None = None) -> None:
    record_placement(patient, find_room(coach, patient.acuity, method, reason), actor)


def _assignable(actor: User, patient_id: int) -> Patient:
    patient = get_patient_for(actor, patient_id, for_update=True)
    if patient.status in CLOSED_STATUSES:
        raise ConflictError("patient_closed", "A closed or declined patient cannot be assigned. Reopen it first.")
    return patient


def bulk_assign(actor: User, patient_ids: list[int], coach_id: int, override_reason: str | None = None) -> list:
    """Move patients to one coach, all or nothing; on refusal, say why for each patient."""
    if actor.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise ForbiddenError("forbidden", "Only a supervisor or admin can move patients in bulk.")
    reason = check_override(actor, override_reason)
    coach = coach_in_program(actor, coach_id)
    lock_coaches([coach.id])
    policy = policy_for(actor.program_id)
    cap = cap_of(coach, policy)
    load, _count = loads_for([coach.id], policy)[coach.id]
    found = {p.id: p for p in db.session.scalars(
        scope_patients(actor).where(Patient.id.in_(patient_ids)).with_for_update()
        .execution_options(populate_existing=True))}
    report, moves, running = [], [], load
    for pid in dict.fromkeys(patient_ids):
        patient = found.get(pid)
        if patient is None:
            report.append({"patient_id": pid, "result": "refused", "error": "not_found"})
        elif patient.status in CLOSED_STATUSES:
            report.append({"patient_id": pid, "result": "refused", "error": "patient_closed"})
        elif patient.coach_id == coach.id:
            report.append({"patient_id": pid, "result": "unchanged"})
        else:
            weight = weight_of(policy, patient.acuity)
            over = not caps.fits(running, weight, cap)
            if over and reason is None:
                report.append({"patient_id": pid, "result": "refused", "error": "caseload_cap_reached"})
            else:
                report.append({"patient_id": pid, "result": "assigned", "override": over})
                moves.append((patient, running, over))
            running += weight
    if any(r["result"] == "refused" for r in report):
        raise ConflictError("bulk_assignment_refused", "Nothing was moved: some patients cannot go to this coach.",
                       extra={"results": report, "coach_id": coach.id, "load": load / 100, "cap": cap})
    for patient, before, over in moves:
        _give(patient, coach, actor, AssignmentMethod.BULK, before, cap, reason if over else None)
        audit.record("assign", "patient", actor=actor, patient_id=patient.id, resource_id=patient.id,
                     details={"coach_id": coach.id, "bulk": True, "override": over})
    db.session.flush()
    return report


def qualifies_for_automatic_assignment(patient_data: dict, coach_id: int | None) -> bool:
    """Opt-out linkage: ED and inpatient referrals get a coach unless they declined."""
    return (coach_id is None and patient_data.get("source") in AUTO_SOURCES
            and not patient_data.get("declined_peer_support"))


def pick_on_shift_coach(program_id: int, acuity: Acuity, coaches: list[User]) -> Placement | None:
    """The on-shift coach with the lowest utilisation who has room; None when nobody has.

    The caller has locked `coaches` (see lock_coaches). Ties go to the coach with
    the fewest assignments in the last 7 days.
    """
    if not coaches:
        return None
    policy = policy_for(program_id)
    weight = weight_of(policy, acuity)
    loads = loads_for([c.id for c in coaches], policy)
    recent = dict(db.session.execute(
        sa.select(Assignment.coach_id, sa.func.count()).where(
            Assignment.coach_id.in_([c.id for c in coaches]),
            Assignment.created_at >= utcnow() - timedelta(days=7)).group_by(Assignment.coach_id)).all())
    candidates = [c for c in coaches if caps.fits(loads[c.id][0], weight, cap_of(c, policy))]
    if not candidates:
        return None
    best = min(candidates, key=lambda c: (utilisation(loads[c.id][0], cap_of(c, policy)), recent.get(c.id, 0), c.id))
    return Placement(best, AssignmentMethod.AUTOMATIC, loads[best.id][0], cap_of(best, policy))


def ask_supervisor_to_place(patient: Patient, coaches_on_shift: int) -> None:
    """The patient waits unassigned; the least busy supervisor gets a task."""
    why = "every on-shift coach is at their cap" if coaches_on_shift else "no coach is on shift"
    _ask_supervisor(patient, why)


def _ask_supervisor(patient: Patient, why: str) -> None:
    supervisor = least_busy_supervisor(patient.program_id)
    open_system_task(patient.program_id, supervisor.id if supervisor else None, TaskKind.REVIEW,
                     f"New referral waiting for a coach: {why}", timedelta(hours=1), patient_id=patient.id)


def load_added(patient: Patient, before: dict) -> int:
    """How much a change of status or acuity (old values in `before`) added to the coach's load (hundredths)."""
    policy = policy_for(patient.program_id)

    def weight(status, acuity) -> int:
        return weight_of(policy, acuity) if status in OPEN_STATUSES else 0

    return (weight(patient.status, patient.acuity)
            - weight(before.get("status", patient.status), before.get("acuity", patient.acuity)))


@patient_changed.connect
def _watch_cap_on_change(patient: Patient, before: dict) -> None:
    # A reopen or a higher acuity adds load: watch whether it takes the coach over cap.
    if patient.coach_id and {"status", "acuity"} & set(before):
        added = load_added(patient, before)
        if added > 0:
            tell_supervisor_if_over_cap(patient, added)


def tell_supervisor_if_over_cap(patient: Patient, added: int) -> None:
    """A change that added `added` to the coach's load took them over cap: their supervisor gets a review task.

    The change itself stands - a patient who comes back at 2 a.m. is not turned away - but a coach over cap is
    a burnout risk someone must look at, so the crossing (not every later change) becomes a task.
    """
    coach = db.session.get(User, patient.coach_id)
    policy = policy_for(patient.program_id)
    load, cap = loads_for([coach.id], policy)[coach.id][0], cap_of(coach, policy)
    if not caps.crossed(load - added, added, cap):
        return
    supervisor = supervisor_of(coach)
    open_system_task(patient.program_id, supervisor.id if supervisor else None, TaskKind.REVIEW,
                     f"{coach.full_name} is over their cap ({load / 100:g} of {cap}): review the caseload",
                     timedelta(hours=24), patient_id=patient.id)


def unassigned_queue(actor: User) -> sa.Select:
    """Open patients with no coach, oldest first (supervisors and admins)."""
    if actor.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise ForbiddenError("forbidden", "Only a supervisor or admin sees the unassigned queue.")
    return (scope_patients(actor).where(Patient.coach_id.is_(None), Patient.status.not_in(CLOSED_STATUSES))
            .order_by(Patient.created_at, Patient.id))
