"""When a call ends: its outcome, the contact on the patient's timeline, the callback task for a missed call,
and the disclosure when a partner joined."""

from __future__ import annotations

import math
from datetime import timedelta

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.errors import ConflictError
from backend.consent.service import record_disclosure, require_cover
from backend.contacts.models import Contact, ContactDirection, ContactKind, ContactOutcome
from backend.database import db, utcnow
from backend.partners.models import PartnerContact
from backend.programs.hours import is_open, line_for, next_opening
from backend.programs.models import Program
from backend.tasks.models import TaskKind
from backend.tasks.service import least_busy_supervisor, open_system_task
from backend.users.models import User
from backend.voice import commands, lines
from backend.voice.choice import coach_order, on_shift_coaches
from backend.voice.models import (
    Call,
    CallDirection,
    CallLeg,
    CallOutcome,
    CallStatus,
    LegKind,
    LegOutcome,
)
from backend.voice.paths import leg_path

DISCLOSED_BY_PHONE = "Introduction by phone during a warm handoff (name and reason for referral)"


def _outcome(call: Call, legs: list[CallLeg]) -> CallOutcome:
    if call.answered_at is not None:
        return CallOutcome.ANSWERED
    if call.voicemail_sid is not None:
        return CallOutcome.VOICEMAIL
    if call.after_hours:
        return CallOutcome.AFTER_HOURS
    if call.direction == CallDirection.OUTBOUND:
        return CallOutcome.NO_ANSWER
    if any(leg.kind == LegKind.COACH and leg.ended_at is None for leg in legs):
        return CallOutcome.ABANDONED  # the caller hung up while a coach's phone rang
    return CallOutcome.MISSED


def finish_call(call: Call, duration: int | None = None) -> None:
    """End the call once: stop any leg still ringing, free its coaches, log the contact, open the callback task."""
    if call.status == CallStatus.COMPLETED:
        return
    now = utcnow()
    legs = list(db.session.scalars(sa.select(CallLeg).where(CallLeg.call_id == call.id)))
    call.outcome = _outcome(call, legs)
    call.status = CallStatus.COMPLETED
    call.ended_at = now
    if duration is None and call.answered_at is not None:
        duration = int((now - call.answered_at).total_seconds())
    call.duration_seconds = duration
    for leg in legs:
        if leg.ended_at is None:
            if leg.twilio_sid:
                commands.queue(commands.StopCall(leg.twilio_sid, ringing=leg.answered_at is None))
            leg.ended_at = now
            leg.outcome = leg.outcome or LegOutcome.CANCELLED
    lines.release_all(call.id)
    _log_contact(call)
    if call.direction == CallDirection.INBOUND and call.outcome != CallOutcome.ANSWERED:
        open_callback_task(call)
    audit.record("end", "call", actor=None, program_id=call.program_id, patient_id=call.patient_id,
                 resource_id=call.id, details={"outcome": str(call.outcome)})


def _log_contact(call: Call) -> None:
    """A call with a patient that a coach was on becomes a contact (timeline, last contact, burnout signals)."""
    if call.patient_id is None or call.coach_id is None or call.contact_id is not None:
        return
    answered = call.outcome == CallOutcome.ANSWERED
    talk = call.duration_seconds or 0
    if call.direction == CallDirection.INBOUND and call.answered_at is not None:
        talk -= int((call.answered_at - call.started_at).total_seconds())  # the caller's wait is not the talk
    contact = Contact(program_id=call.program_id, patient_id=call.patient_id, coach_id=call.coach_id,
                      kind=ContactKind.PHONE,
                      direction=ContactDirection.INBOUND if call.direction == CallDirection.INBOUND
                      else ContactDirection.OUTBOUND,
                      occurred_at=call.answered_at or call.started_at,
                      duration_minutes=math.ceil(max(talk, 0) / 60) if answered else 0,
                      outcome=ContactOutcome.REACHED if answered else ContactOutcome.NO_ANSWER)
    db.session.add(contact)
    db.session.flush()
    call.contact_id = contact.id


def callback_assignee(call: Call) -> User | None:
    """The patient's coach when on shift, else the least utilised on-shift coach, else a supervisor."""
    coaches = on_shift_coaches(call.program_id)
    if coaches:
        return coach_order(call.program_id, call.patient_id, coaches)[0]
    return least_busy_supervisor(call.program_id)


def open_callback_task(call: Call) -> None:
    """A missed call (or, by the programme's setting, only one with a voicemail) gets a callback task."""
    line = line_for(call.program_id)
    if line.callbacks_for_voicemail_only and call.outcome != CallOutcome.VOICEMAIL:
        return
    program = db.session.get(Program, call.program_id)
    now = utcnow()
    opens = now if is_open(program, now) else (next_opening(program, now) or now)
    due_in = (opens - now) + timedelta(minutes=line.callback_due_minutes if opens == now else 0)
    assignee = callback_assignee(call)
    title = ("Call back: voicemail on the warm line" if call.outcome == CallOutcome.VOICEMAIL
             else "Call back: missed warm-line call")
    task = open_system_task(call.program_id, assignee.id if assignee else None, TaskKind.CALL_BACK, title, due_in,
                            patient_id=call.patient_id)
    if task is not None:
        task.note = f"Caller's number: {call.external_number}"
        db.session.flush()
        call.callback_task_id = task.id


def outbound_leg_ended(call: Call, leg: CallLeg, duration: int | None = None) -> None:
    """A masked call's leg is over: the coach left, or the patient answered and hung up, or never answered."""
    patient_leg = db.session.scalar(sa.select(CallLeg).where(CallLeg.call_id == call.id,
                                                              CallLeg.kind == LegKind.PATIENT))
    coach_leg = db.session.scalar(sa.select(CallLeg).where(CallLeg.call_id == call.id, CallLeg.kind == LegKind.COACH))
    if leg.kind == LegKind.PATIENT and leg.outcome != LegOutcome.ACCEPTED:
        if coach_leg is not None and coach_leg.ended_at is None and coach_leg.twilio_sid:
            commands.queue(commands.Redirect(coach_leg.twilio_sid, leg_path(coach_leg.id, "no-answer")))
            coach_leg.ended_at = utcnow()
        finish_call(call)
    elif leg.kind == LegKind.PATIENT:
        finish_call(call, duration)  # the patient's leg: exactly the time they talked
    elif leg.kind == LegKind.COACH and (patient_leg is None or not _partner_on(call)):
        finish_call(call)


def _partner_on(call: Call) -> bool:
    return bool(db.session.scalar(sa.select(sa.func.count()).where(
        CallLeg.call_id == call.id, CallLeg.kind.in_((LegKind.PARTNER, LegKind.CRISIS)),
        CallLeg.outcome == LegOutcome.ACCEPTED, CallLeg.ended_at.is_(None))))


def disclose_to_partner(call: Call, leg: CallLeg) -> bool:
    """The partner pressed 1 and hears the Part 2 notice: record the disclosure (consent checked again now)."""
    contact = db.session.get(PartnerContact, leg.partner_contact_id)
    try:
        consent = require_cover(call.patient_id, contact.organization_id)
    except ConflictError:
        return False  # revoked since the coach asked: nothing is disclosed, the partner is not connected
    leg.notice_given = True
    record_disclosure(db.session.get(User, call.coach_id), consent, DISCLOSED_BY_PHONE, channel=f"call {call.id}")
    return True

