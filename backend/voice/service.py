"""The warm line for the app and for supervisors: settings and hours, a coach's line, calls (scoped and
audited), masked outbound calls, bringing a partner or the crisis line into a call, voicemail, figures."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from backend.audit import service as audit
from backend.caseload.intake import create_patient
from backend.common.errors import ConflictError, ForbiddenError, field_error, not_found
from backend.consent.service import require_cover
from backend.contacts.models import Contact
from backend.database import db, utcnow
from backend.handoffs.models import OPEN_STATUSES as OPEN_HANDOFFS
from backend.handoffs.models import Handoff, HandoffKind
from backend.handoffs.service import create_handoff
from backend.messaging import policy as quiet
from backend.messaging.service import messaging_policy
from backend.partners.models import Organization, PartnerContact, Service
from backend.patients.access import get_patient_for
from backend.patients.models import CLOSED_STATUSES, Patient, PatientSource
from backend.programs.hours import is_open, line_for, next_opening, stored_line
from backend.programs.models import Program, ProgramNumber
from backend.tasks.models import Task
from backend.twilio.gateway import GatewayError, gateway
from backend.users.models import Role, User
from backend.users.service import require_role
from backend.voice import commands, lines
from backend.voice.choice import on_shift_coaches, start_of_today
from backend.voice.models import (
    OPEN_CALL_STATUSES,
    Call,
    CallDirection,
    CallLeg,
    CallOutcome,
    CallStatus,
    LegKind,
    LegOutcome,
)
from backend.voice.paths import leg_path

CONFIRM_CALLER = "Confirm who is calling before you talk about their care: a relative may be on this phone."


# -- settings -------------------------------------------------------------------------------------------------

def warm_line_state(actor: User) -> dict:
    """Open now, the hours, the next opening and the settings (every staff member)."""
    program = db.session.get(Program, actor.program_id)
    line = line_for(program.id)
    now = utcnow()
    return {"open_now": is_open(program, now), "next_opening": next_opening(program, now),
            "timezone": program.timezone, "settings": line}


def update_warm_line(actor: User, changes: dict) -> dict:
    """Supervisors and admins set the hours and the ringing, voicemail and callback rules."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    line = stored_line(actor.program_id)
    for name, value in changes.items():
        setattr(line, name, value)
    db.session.flush()
    audit.record("update", "warm_line", actor=actor, resource_id=actor.program_id, details=sorted(changes))
    return warm_line_state(actor)


def set_override(actor: User, state: str | None, until: datetime | None) -> dict:
    """Open now / closed now, until a time or until cleared (None follows the hours again)."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    if until is not None and until <= utcnow():
        raise field_error("until", "Must be in the future.")
    line = stored_line(actor.program_id)
    line.override, line.override_until = state, until if state else None
    db.session.flush()
    audit.record("override", "warm_line", actor=actor, resource_id=actor.program_id,
                 details={"state": state, "until": until.isoformat() if until else None})
    return warm_line_state(actor)


# -- a coach's line -------------------------------------------------------------------------------------------

def my_line(actor: User) -> dict:
    """Whether I take calls, and the call I am on (or being rung for)."""
    if actor.role != Role.COACH:
        raise ForbiddenError("forbidden", "Only coaches take warm-line calls.")
    line = lines.line_of(actor)
    return {"on_shift": actor.on_shift, "taking_calls": line.taking_calls, "call_id": line.busy_call_id,
            "has_phone": actor.phone is not None}


def set_my_line(actor: User, taking_calls: bool) -> dict:
    """Take calls, or stop taking them for a while without ending the shift."""
    if actor.role != Role.COACH:
        raise ForbiddenError("forbidden", "Only coaches take warm-line calls.")
    lines.set_taking_calls(actor, taking_calls)
    audit.record("take_calls" if taking_calls else "stop_calls", "line", actor=actor, resource_id=actor.id)
    return my_line(actor)


# -- calls ----------------------------------------------------------------------------------------------------

def visible_calls(actor: User) -> sa.Select:
    """Calls the actor may see: a lead sees the programme's; a coach those they took or placed, their patients'
    and the missed calls they were given to call back."""
    stmt = sa.select(Call).where(Call.program_id == actor.program_id)
    if actor.role == Role.COACH:
        stmt = stmt.where(sa.or_(
            Call.coach_id == actor.id,
            Call.patient_id.in_(sa.select(Patient.id).where(Patient.coach_id == actor.id)),
            Call.callback_task_id.in_(sa.select(Task.id).where(Task.assignee_id == actor.id))))
    return stmt


def get_call(actor: User, call_id: int) -> Call:
    """A call the actor may see, or 404 exactly as for a missing one."""
    call = db.session.scalar(visible_calls(actor).where(Call.id == call_id))
    if call is None:
        raise not_found("call")
    return call


def legs_of(call_ids: list[int]) -> dict[int, list[CallLeg]]:
    """Each call's legs, in the order they were rung."""
    result: dict[int, list[CallLeg]] = {i: [] for i in call_ids}
    if call_ids:
        for leg in db.session.scalars(sa.select(CallLeg).where(CallLeg.call_id.in_(call_ids))
                                      .order_by(CallLeg.call_id, CallLeg.position, CallLeg.id)):
            result[leg.call_id].append(leg)
    return result


def describe(calls: list[Call]) -> list[Call]:
    """Attach what the app shows: legs, the caller's initials and the reminder, the callback task's state."""
    legs = legs_of([c.id for c in calls])
    patients = {p.id: p for p in db.session.scalars(
        sa.select(Patient).where(Patient.id.in_({c.patient_id for c in calls if c.patient_id})))}
    for call in calls:
        call.legs = legs[call.id]
        patient = patients.get(call.patient_id)
        call.caller = {"known": patient is not None,
                       "initials": (patient.first_name[:1] + patient.last_name[:1]).upper() if patient else None,
                       "reminder": CONFIRM_CALLER}
        call.has_voicemail = call.voicemail_sid is not None and call.voicemail_deleted_at is None
    return calls


def audit_calls(actor: User, calls: list[Call], action: str = "list") -> list[Call]:
    """Every read of call records is on the audit trail, with the patients they concern."""
    audit.record(action, "call", actor=actor, details={"call_ids": [c.id for c in calls],
                                                       "patient_ids": sorted({c.patient_id for c in calls
                                                                              if c.patient_id})})
    return describe(calls)


def my_calls(actor: User, missed: bool) -> sa.Select:
    """My recent calls, newest first; `missed` gives the missed calls whose callback is mine."""
    stmt = visible_calls(actor)
    if missed:
        stmt = stmt.where(Call.outcome.in_((CallOutcome.MISSED, CallOutcome.ABANDONED, CallOutcome.VOICEMAIL,
                                            CallOutcome.AFTER_HOURS)),
                          Call.callback_task_id.in_(sa.select(Task.id).where(Task.assignee_id == actor.id)))
    elif actor.role != Role.COACH:
        stmt = stmt.where(Call.coach_id == actor.id)
    return stmt.order_by(Call.started_at.desc(), Call.id.desc())


def patient_calls(actor: User, patient_id: int) -> sa.Select:
    """The patient's calls, newest first (scoped like the patient)."""
    patient = get_patient_for(actor, patient_id)
    return (sa.select(Call).where(Call.program_id == actor.program_id, Call.patient_id == patient.id)
            .order_by(Call.started_at.desc(), Call.id.desc()))


def read_call(actor: User, call_id: int) -> Call:
    """One call with its legs (audited)."""
    call = get_call(actor, call_id)
    audit.record("read", "call", actor=actor, patient_id=call.patient_id, resource_id=call.id)
    return describe([call])[0]


def note_call(actor: User, call_id: int, note: str | None) -> Call:
    """The coach's note after the call; it is the note of the call's contact on the timeline too."""
    call = get_call(actor, call_id)
    if actor.role == Role.COACH and call.coach_id != actor.id:
        raise ForbiddenError("forbidden", "Only the coach on the call adds its note.")
    call.note = note
    if call.contact_id is not None:
        db.session.get(Contact, call.contact_id).note = note
    audit.record("update", "call", actor=actor, patient_id=call.patient_id, resource_id=call.id)
    return describe([call])[0]


def voice_number(program_id: int) -> str:
    """The programme's number that calls come from (its first voice number)."""
    number = db.session.scalar(sa.select(ProgramNumber.number).where(
        ProgramNumber.program_id == program_id, ProgramNumber.voice.is_(True)).order_by(ProgramNumber.id).limit(1))
    if number is None:
        raise ConflictError("no_voice_number", "The programme has no voice number yet: an admin adds one.")
    return number


def call_patient(actor: User, patient_id: int, confirm_outside_hours: bool) -> Call:
    """A masked call: Twilio rings my phone from the programme's number; when I press 1 it dials the patient,
    who sees the programme's number, never mine."""
    patient = get_patient_for(actor, patient_id)
    if not patient.phone or patient.phone_flagged_at is not None:
        raise ConflictError("number_invalid", "The patient's number is missing or flagged as not working.")
    if patient.status in CLOSED_STATUSES:
        raise ConflictError("patient_closed", "The patient's record is closed.")
    if not actor.phone:
        raise ConflictError("no_phone_on_file", "Add your phone number to your profile to place calls.")
    settings = messaging_policy(patient.program_id)
    in_quiet_hours = quiet.quiet_until(utcnow(), patient.timezone, settings.quiet_start_hour, settings.quiet_end_hour)
    if in_quiet_hours and not confirm_outside_hours:
        raise ConflictError("outside_patient_hours", "It is the patient's quiet hours. Confirm to call anyway.",
                                errors={"confirm_outside_hours": ["Set to true to call during quiet hours."]})
    call = Call(program_id=patient.program_id, direction=CallDirection.OUTBOUND, program_number=voice_number(
        patient.program_id), external_number=patient.phone, patient_id=patient.id, coach_id=actor.id,
        language=patient.language, confirmed_outside_hours=confirm_outside_hours, started_at=utcnow())
    db.session.add(call)
    db.session.flush()
    if not lines.reserve(actor, call.id) and not _free_from_break(actor, call):
        raise ConflictError("coach_on_call", "You are on another call.")
    leg = CallLeg(call_id=call.id, kind=LegKind.COACH, position=1, user_id=actor.id, number=actor.phone,
                  rung_at=utcnow())
    db.session.add(leg)
    db.session.flush()
    commands.queue(commands.RingLeg(leg.id, actor.phone, call.program_number, leg_path(leg.id, "screen"), 30))
    audit.record("call", "patient", actor=actor, patient_id=patient.id, resource_id=call.id,
                 details={"outside_quiet_hours_confirmed": True} if confirm_outside_hours else None)
    return describe([call])[0]


def _free_from_break(actor: User, call: Call) -> bool:
    """A coach on a break may still place a call (the break is about incoming calls)."""
    line = lines.line_of(actor)
    if line.busy_call_id is not None:
        return False
    line.busy_call_id, line.busy_since = call.id, utcnow()
    return True


def _live_call_of_coach(actor: User, call_id: int) -> Call:
    call = get_call(actor, call_id)
    if call.coach_id != actor.id:
        raise ForbiddenError("forbidden", "Only the coach on the call can do this.")
    if call.status != CallStatus.IN_PROGRESS:
        raise ConflictError("call_not_in_progress", "The call is not in progress.")
    return call


def add_partner(actor: User, call_id: int, partner_contact_id: str, service_id: str | None) -> CallLeg:
    """Bring a partner's point person into the call (a warm handoff): consent first, screened, then a notice."""
    call = _live_call_of_coach(actor, call_id)
    if call.patient_id is None:
        raise ConflictError("caller_unknown", "Record the caller as a patient before a warm handoff.")
    contact = db.session.get(PartnerContact, partner_contact_id)
    if contact is None or not _partner_of_program(contact.organization_id, actor.program_id):
        raise field_error("partner_contact_id", "Not a contact of your programme's partners.")
    if not contact.phone:
        raise field_error("partner_contact_id", "This contact has no phone number.")
    service_id = service_id or contact.service_id
    require_cover(call.patient_id, contact.organization_id)
    handoff = _warm_handoff(actor, call.patient_id, contact.organization_id, service_id)
    leg = CallLeg(call_id=call.id, kind=LegKind.PARTNER, position=_next_position(call), number=contact.phone,
                  partner_contact_id=contact.id, handoff_id=handoff.id if handoff else None, rung_at=utcnow())
    db.session.add(leg)
    db.session.flush()
    commands.queue(commands.RingLeg(leg.id, contact.phone, call.program_number, leg_path(leg.id, "screen"), 30))
    audit.record("add_partner", "call", actor=actor, patient_id=call.patient_id, resource_id=call.id,
                 details={"partner_contact_id": contact.id, "handoff_id": leg.handoff_id})
    return leg


def _partner_of_program(organization_id: str, program_id: int) -> bool:
    org = db.session.get(Organization, organization_id)
    return org is not None and org.program_id == program_id


def _warm_handoff(actor: User, patient_id: int, organization_id: str, service_id: str | None) -> Handoff | None:
    """The patient's open warm handoff to this partner, or a new one for the service (None without a service)."""
    existing = db.session.scalar(sa.select(Handoff).where(
        Handoff.patient_id == patient_id, Handoff.organization_id == organization_id,
        Handoff.kind == HandoffKind.WARM, Handoff.status.in_(OPEN_HANDOFFS)).order_by(Handoff.id.desc()).limit(1))
    if existing is not None or service_id is None:
        return existing
    service = db.session.get(Service, service_id)
    if service is None or service.organization_id != organization_id:
        raise field_error("service_id", "Not a service of this partner.")
    return create_handoff(actor, {"patient_id": patient_id, "service_id": service_id, "kind": HandoffKind.WARM})


def _next_position(call: Call) -> int:
    return (db.session.scalar(sa.select(sa.func.max(CallLeg.position)).where(CallLeg.call_id == call.id)) or 0) + 1


def crisis_transfer(actor: User, call_id: int) -> CallLeg:
    """Bring the programme's crisis line into the call; the coach stays until it answers (a warm transfer)."""
    call = _live_call_of_coach(actor, call_id)
    number = line_for(call.program_id).crisis_transfer_number
    leg = CallLeg(call_id=call.id, kind=LegKind.CRISIS, position=_next_position(call), number=number,
                  rung_at=utcnow())
    db.session.add(leg)
    call.crisis_transfer_at = utcnow()
    db.session.flush()
    commands.queue(commands.RingLeg(leg.id, number, call.program_number, leg_path(leg.id, "screen"), 60))
    audit.record("crisis_transfer", "call", actor=actor, patient_id=call.patient_id, resource_id=call.id)
    return leg


def hold_patient(actor: User, call_id: int, on_hold: bool) -> Call:
    """Put the patient on hold while the coach introduces them to the partner (or take them off it)."""
    call = _live_call_of_coach(actor, call_id)
    sid = call.twilio_sid if call.direction == CallDirection.INBOUND else db.session.scalar(
        sa.select(CallLeg.twilio_sid).where(CallLeg.call_id == call.id, CallLeg.kind == LegKind.PATIENT))
    if call.conference_sid is None or sid is None:
        raise ConflictError("call_not_in_progress", "The patient is not in the call yet.")
    commands.queue(commands.Hold(call.conference_sid, sid, on_hold))
    audit.record("hold" if on_hold else "unhold", "call", actor=actor, patient_id=call.patient_id,
                 resource_id=call.id)
    return describe([call])[0]


def voicemail_audio(actor: User, call_id: int) -> tuple[bytes, str]:
    """Play a voicemail: fetched from Twilio with our credentials, scoped like the patient, audited."""
    call = get_call(actor, call_id)
    if call.voicemail_sid is None or call.voicemail_deleted_at is not None:
        raise not_found("voicemail")
    try:
        audio = gateway().recording_audio(call.voicemail_sid)
    except GatewayError as exc:
        raise not_found("voicemail") from exc
    audit.record("play", "voicemail", actor=actor, patient_id=call.patient_id, resource_id=call.id)
    return audio


def caller_to_patient(actor: User, call_id: int, data: dict) -> Patient:
    """An unknown caller becomes a patient (source warm_line) with the normal placement and cap rules."""
    call = get_call(actor, call_id)
    if call.patient_id is not None:
        raise ConflictError("caller_known", "This caller is already a patient.")
    data = {**data, "phone": call.external_number, "source": PatientSource.WARM_LINE}
    patient = create_patient(actor, data)
    call.patient_id = patient.id
    if call.callback_task_id is not None:
        db.session.get(Task, call.callback_task_id).patient_id = patient.id
    audit.record("link", "call", actor=actor, patient_id=patient.id, resource_id=call.id)
    return patient


# -- supervisors ----------------------------------------------------------------------------------------------

def live(actor: User) -> dict:
    """Calls ringing and in progress now, and each on-shift coach's state (supervisors)."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    now = utcnow()
    calls = list(db.session.scalars(sa.select(Call).where(
        Call.program_id == actor.program_id, Call.status.in_(OPEN_CALL_STATUSES)).order_by(Call.started_at)))
    coaches = on_shift_coaches(actor.program_id)
    lines.ensure_lines(coaches)
    states = {s.user_id: s for s in db.session.scalars(sa.select(lines.LineState).where(
        lines.LineState.user_id.in_([c.id for c in coaches])))}
    ringing = {leg.user_id for leg in db.session.scalars(sa.select(CallLeg).where(
        CallLeg.call_id.in_([c.id for c in calls]), CallLeg.ended_at.is_(None), CallLeg.answered_at.is_(None)))}
    audit.record("list", "call", actor=actor, details={"call_ids": [c.id for c in calls], "live": True})
    return {
        "calls": [{"id": c.id, "direction": c.direction, "status": c.status, "coach_id": c.coach_id,
                   "known_caller": c.patient_id is not None, "started_at": c.started_at,
                   "seconds": int((now - c.started_at).total_seconds())} for c in calls],
        "coaches": [{"coach_id": c.id, "name": c.full_name,
                     "state": ("away" if not states[c.id].taking_calls and states[c.id].busy_call_id is None
                               else "ringing" if c.id in ringing
                               else "on_call" if states[c.id].busy_call_id else "free"),
                     "call_id": states[c.id].busy_call_id} for c in coaches],
    }


def coach_call_counts(actor: User, coach_id: int, days: int = 30) -> dict:
    """Warm-line rings a coach answered and missed over the last `days` (counts only; supervisors)."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    since = utcnow() - timedelta(days=days)
    rows = dict(db.session.execute(
        sa.select(CallLeg.outcome, sa.func.count()).join(Call, Call.id == CallLeg.call_id)
        .where(Call.program_id == actor.program_id, CallLeg.user_id == coach_id, CallLeg.kind == LegKind.COACH,
               Call.direction == CallDirection.INBOUND, CallLeg.rung_at >= since)
        .group_by(CallLeg.outcome)).all())
    missed = sum(n for outcome, n in rows.items() if outcome not in (LegOutcome.ACCEPTED, LegOutcome.CANCELLED, None))
    return {"days": days, "answered": rows.get(LegOutcome.ACCEPTED, 0), "missed": missed}


def calls_now(actor: User) -> dict:
    """How many calls ring and how many are in progress right now (counts only: nothing to audit)."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    rows = dict(db.session.execute(sa.select(Call.status, sa.func.count()).where(
        Call.program_id == actor.program_id, Call.status.in_(OPEN_CALL_STATUSES)).group_by(Call.status)).all())
    return {"ringing": rows.get(CallStatus.RINGING, 0), "in_progress": rows.get(CallStatus.IN_PROGRESS, 0),
            "voicemail": rows.get(CallStatus.VOICEMAIL, 0)}


def today(actor: User) -> dict:
    """Today's figures in the programme's time zone: answered, missed, voicemails, answer rate, time to answer."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    since = start_of_today(actor.program_id)
    calls = list(db.session.scalars(sa.select(Call).where(
        Call.program_id == actor.program_id, Call.direction == CallDirection.INBOUND, Call.started_at >= since)))
    counts = {o: sum(1 for c in calls if c.outcome == o) for o in CallOutcome}
    answered = [c for c in calls if c.answered_at is not None]
    offered = [c for c in calls if not c.after_hours and c.status == CallStatus.COMPLETED]
    legs = db.session.execute(sa.select(CallLeg.user_id, CallLeg.outcome).join(Call, Call.id == CallLeg.call_id)
                              .where(Call.program_id == actor.program_id, Call.started_at >= since,
                                     CallLeg.kind == LegKind.COACH, Call.direction == CallDirection.INBOUND)).all()
    names = dict(db.session.execute(sa.select(User.id, User.full_name).where(
        User.id.in_({u for u, _ in legs if u}))).all())
    per_coach = {}
    for user_id, outcome in legs:
        row = per_coach.setdefault(user_id, {"coach_id": user_id, "name": names.get(user_id), "answered": 0,
                                             "missed": 0})
        row["answered" if outcome == "accepted" else "missed"] += 1 if outcome not in (None, "cancelled") else 0
    return {
        "since": since, "calls": len(calls), "in_progress": sum(1 for c in calls if c.status != CallStatus.COMPLETED),
        "answered": counts[CallOutcome.ANSWERED], "missed": counts[CallOutcome.MISSED],
        "abandoned": counts[CallOutcome.ABANDONED], "voicemails": counts[CallOutcome.VOICEMAIL],
        "after_hours": counts[CallOutcome.AFTER_HOURS],
        "answer_rate": round(len([c for c in offered if c.answered_at]) / len(offered), 3) if offered else None,
        "mean_seconds_to_answer": round(sum((c.answered_at - c.started_at).total_seconds() for c in answered)
                                        / len(answered), 1) if answered else None,
        "per_coach": sorted(per_coach.values(), key=lambda r: (-r["answered"], r["coach_id"])),
    }

