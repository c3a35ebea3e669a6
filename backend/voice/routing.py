"""Inbound warm-line calls: file the call with the programme that owns the number, ring one free coach at a
time behind a press-1 screen, connect the first to accept, and fall back to voicemail.

Every step runs in the webhook's unit of work with the call's row locked, so Twilio's retries and racing legs
decide once: one caller never gets two coaches, a late "press 1" after the caller moved on hears "no longer
waiting". Calls to Twilio wait for the commit (commands.queue).
"""

from __future__ import annotations

import sqlalchemy as sa

from backend.audit import service as audit
from backend.database import db, take_sqlite_write_lock, utcnow
from backend.patients.models import CLOSED_STATUSES, Patient
from backend.programs.hours import is_open, line_for
from backend.programs.models import Program
from backend.programs.numbers import owning_program
from backend.users.models import User
from backend.voice import answers, commands, ending, lines
from backend.voice.choice import coach_order
from backend.voice.models import OPEN_CALL_STATUSES, Call, CallDirection, CallLeg, CallStatus, LegKind, LegOutcome
from backend.voice.paths import call_path, leg_path

MIN_RING_SECONDS = 5
FINAL_LEG_STATUSES = {"completed": LegOutcome.DECLINED, "busy": LegOutcome.BUSY, "no-answer": LegOutcome.NO_ANSWER,
                      "failed": LegOutcome.FAILED, "canceled": LegOutcome.CANCELLED}


def lock_call(call_id: int) -> Call | None:
    """The call, locked until commit (every step of one call is decided by one transaction at a time)."""
    stmt = sa.select(Call).where(Call.id == call_id).execution_options(populate_existing=True)
    if take_sqlite_write_lock():
        return db.session.scalar(stmt)
    return db.session.scalar(stmt.with_for_update())


def caller_patient(program_id: int, number: str) -> Patient | None:
    """The caller, looked up only within the programme that owns the dialled number (an open patient first)."""
    patients = list(db.session.scalars(
        sa.select(Patient).where(Patient.program_id == program_id, Patient.phone == number)
        .order_by(Patient.updated_at.desc(), Patient.id.desc())))
    return next((p for p in patients if p.status not in CLOSED_STATUSES), patients[0] if patients else None)


def answer_incoming(program: Program, call_sid: str, caller: str, dialled: str) -> str:
    """A call to the programme's number: closed → voicemail; else the first free coach is rung while it waits."""
    take_sqlite_write_lock()  # SQLite: decide as the one writer (PostgreSQL: the reservation's UPDATE decides)
    existing = db.session.scalar(sa.select(Call.id).where(Call.twilio_sid == call_sid))
    if existing is not None:  # Twilio retried the webhook: answer as the call stands, ring nobody again
        return _as_it_stands(lock_call(existing), program)
    patient = caller_patient(program.id, caller)
    call = Call(program_id=program.id, direction=CallDirection.INBOUND, twilio_sid=call_sid, program_number=dialled,
                external_number=caller, patient_id=patient.id if patient else None,
                language=patient.language if patient and patient.language in ("en", "es") else "en",
                started_at=utcnow())
    db.session.add(call)
    db.session.flush()
    audit.record("receive", "call", actor=None, program_id=program.id, patient_id=call.patient_id,
                 resource_id=call.id)
    if not is_open(program):
        call.after_hours = True
        call.status = CallStatus.VOICEMAIL
        return answers.voicemail(call, program, why="closed")
    if ring_next(call) is None:
        call.status = CallStatus.VOICEMAIL
        return answers.voicemail(call, program, why="busy")
    return answers.wait_for_coach(call)


def _as_it_stands(call: Call, program: Program) -> str:
    if call.status == CallStatus.RINGING or call.status == CallStatus.IN_PROGRESS:
        return answers.wait_for_coach(call)
    if call.status == CallStatus.VOICEMAIL:
        return answers.voicemail(call, program, why="closed" if call.after_hours else "busy")
    return answers.goodbye(call.language)


def ring_next(call: Call) -> CallLeg | None:
    """Reserve and ring the next free coach; None once N coaches were tried or the caller waited long enough."""
    line = line_for(call.program_id)
    tried = list(db.session.scalars(sa.select(CallLeg.user_id).where(CallLeg.call_id == call.id,
                                                                      CallLeg.kind == LegKind.COACH)))
    remaining = line.max_wait_seconds - int((utcnow() - call.started_at).total_seconds())
    if len(tried) >= line.max_coaches or remaining < MIN_RING_SECONDS:
        return None
    free = lines.free_on_shift_coaches(call.program_id, set(tried))
    for coach in coach_order(call.program_id, call.patient_id, free):
        if not lines.reserve(coach, call.id):
            continue  # another caller won this coach a moment ago
        leg = CallLeg(call_id=call.id, kind=LegKind.COACH, position=len(tried) + 1, user_id=coach.id,
                      number=coach.phone, rung_at=utcnow())
        db.session.add(leg)
        db.session.flush()
        commands.queue(commands.RingLeg(leg.id, coach.phone, call.program_number, leg_path(leg.id, "screen"),
                                        min(line.ring_timeout_seconds, remaining)))
        return leg
    return None


def current_coach_leg(call: Call) -> CallLeg | None:
    """The coach being rung for this call now (the last one tried), if any."""
    return db.session.scalar(sa.select(CallLeg).where(CallLeg.call_id == call.id, CallLeg.kind == LegKind.COACH)
                             .order_by(CallLeg.position.desc()).limit(1))


def _leg_and_call(leg_id: int) -> tuple[CallLeg, Call] | None:
    call_id = db.session.scalar(sa.select(CallLeg.call_id).where(CallLeg.id == leg_id))
    if call_id is None:
        return None
    call = lock_call(call_id)
    leg = db.session.get(CallLeg, leg_id, populate_existing=True)
    return leg, call


def _wanted(call: Call, leg: CallLeg) -> bool:
    """Whether this leg should still join: the call is live and, for a coach, still waiting for this one."""
    if leg.outcome is not None or leg.ended_at is not None or call.status not in OPEN_CALL_STATUSES:
        return False
    if leg.kind == LegKind.COACH and call.direction == CallDirection.INBOUND:
        return call.status == CallStatus.RINGING and current_coach_leg(call).id == leg.id
    return True


def screen_leg(leg_id: int, leg_sid: str | None) -> str:
    """The callee answered: whisper and ask for 1 (the patient and the crisis line join without a screen)."""
    found = _leg_and_call(leg_id)
    if found is None:
        return answers.gone()
    leg, call = found
    if leg_sid and leg.twilio_sid is None:
        leg.twilio_sid = leg_sid
    if not _wanted(call, leg):
        return answers.gone()
    leg.answered_at = leg.answered_at or utcnow()
    if leg.kind in (LegKind.PATIENT, LegKind.CRISIS):
        return _joined(call, leg)
    return answers.screen(call, leg)


def accept_leg(leg_id: int, digits: str) -> str:
    """The callee pressed a key: 1 takes the call if it is still theirs to take; anything else declines."""
    found = _leg_and_call(leg_id)
    if found is None:
        return answers.gone()
    leg, call = found
    if not _wanted(call, leg):
        return answers.gone()
    if digits != "1":
        leg.outcome = LegOutcome.DECLINED
        return answers.not_taken()
    return _joined(call, leg)


def _joined(call: Call, leg: CallLeg) -> str:
    now = utcnow()
    leg.outcome = LegOutcome.ACCEPTED
    leg.answered_at = leg.answered_at or now
    if leg.kind == LegKind.COACH and call.direction == CallDirection.INBOUND:
        call.status = CallStatus.IN_PROGRESS
        call.coach_id = leg.user_id
        call.answered_at = now
        audit.record("answer", "call", actor=db.session.get(User, leg.user_id), patient_id=call.patient_id,
                     resource_id=call.id)
    elif leg.kind == LegKind.COACH:  # the coach of a masked call accepted: now ring the patient
        ring_patient(call)
    elif leg.kind == LegKind.PATIENT:
        call.status = CallStatus.IN_PROGRESS
        call.answered_at = now
    elif leg.kind == LegKind.PARTNER and not ending.disclose_to_partner(call, leg):
        leg.outcome = LegOutcome.CANCELLED
        return answers.gone()
    return answers.join(call, leg)


def ring_patient(call: Call) -> CallLeg:
    """The masked call's second leg: the patient, from the programme's number (never the coach's)."""
    leg = CallLeg(call_id=call.id, kind=LegKind.PATIENT, position=2, number=call.external_number, rung_at=utcnow())
    db.session.add(leg)
    db.session.flush()
    commands.queue(commands.RingLeg(leg.id, call.external_number, call.program_number, leg_path(leg.id, "screen"),
                                    30))
    return leg


def leg_status(leg_id: int, status: str, sequence: int | None, leg_sid: str | None,
               duration: int | None = None) -> None:
    """A leg's status callback: signed, applied once, in Twilio's order (a late "ringing" changes nothing)."""
    found = _leg_and_call(leg_id)
    if found is None:
        return
    leg, call = found
    if sequence is not None:
        if sequence <= leg.last_sequence:
            return
        leg.last_sequence = sequence
    if leg_sid and leg.twilio_sid is None:
        leg.twilio_sid = leg_sid
    if status == "in-progress":
        leg.answered_at = leg.answered_at or utcnow()
    elif status in FINAL_LEG_STATUSES and leg.ended_at is None:
        leg_ended(call, leg, FINAL_LEG_STATUSES[status], duration)


def leg_ended(call: Call, leg: CallLeg, outcome: LegOutcome, duration: int | None = None) -> None:
    """A leg is over: free its coach; a coach who did not take a waiting call → the next coach or voicemail."""
    leg.ended_at = utcnow()
    if leg.outcome is None:
        leg.outcome = outcome
    if leg.user_id is not None:
        lines.release(leg.user_id, call.id)
    if call.status not in OPEN_CALL_STATUSES:
        return
    if call.direction == CallDirection.INBOUND:
        if leg.kind == LegKind.COACH and leg.outcome != LegOutcome.ACCEPTED:
            if call.status == CallStatus.RINGING and current_coach_leg(call).id == leg.id:
                _next_or_voicemail(call)
        elif leg.kind == LegKind.COACH:
            _caller_alone(call)
        return
    ending.outbound_leg_ended(call, leg, duration)


def _next_or_voicemail(call: Call) -> None:
    if ring_next(call) is None:
        call.status = CallStatus.VOICEMAIL
        commands.queue(commands.Redirect(call.twilio_sid, call_path(call.id, "voicemail")))


def _caller_alone(call: Call) -> None:
    """The coach hung up: the call ends, unless a partner is still talking with the caller (a warm handoff)."""
    others = db.session.scalar(sa.select(sa.func.count()).where(
        CallLeg.call_id == call.id, CallLeg.kind.in_((LegKind.PARTNER, LegKind.CRISIS)),
        CallLeg.outcome == LegOutcome.ACCEPTED, CallLeg.ended_at.is_(None)))
    if not others:
        commands.queue(commands.StopCall(call.twilio_sid, ringing=False))


def leg_failed(leg_id: int) -> None:
    """Twilio refused to place the leg (a bad number, an outage): treat it as failed, so the chain goes on."""
    found = _leg_and_call(leg_id)
    if found is not None and found[0].ended_at is None:
        leg_ended(found[1], found[0], LegOutcome.FAILED)


def leg_placed(leg_id: int, sid: str) -> None:
    """Twilio took the leg: keep its SID (to cancel it); if the call ended meanwhile, cancel it at once."""
    found = _leg_and_call(leg_id)
    if found is None:
        return
    leg, call = found
    if leg.twilio_sid is None:
        leg.twilio_sid = sid
    if call.status == CallStatus.COMPLETED and leg.ended_at is None:
        commands.queue(commands.StopCall(sid, ringing=leg.answered_at is None))


def voicemail_for(call_id: int) -> str:
    """The waiting caller moved to voicemail (nobody took the call)."""
    call = lock_call(call_id)
    if call is None or call.status == CallStatus.COMPLETED:
        return answers.goodbye("en" if call is None else call.language)
    call.status = CallStatus.VOICEMAIL
    return answers.voicemail(call, db.session.get(Program, call.program_id), why="missed")


def caller_status(call_sid: str, status: str, sequence: int | None, duration: int | None) -> None:
    """The caller's own leg changed (the number's status callback): a final status ends the call."""
    call_id = db.session.scalar(sa.select(Call.id).where(Call.twilio_sid == call_sid))
    if call_id is None:
        return
    call = lock_call(call_id)
    if sequence is not None:
        if sequence <= call.last_sequence:
            return
        call.last_sequence = sequence
    if status in FINAL_LEG_STATUSES:
        ending.finish_call(call, duration)


def conference_event(call_id: int, event: str, conference_sid: str | None, participant_sid: str | None) -> None:
    """Note the conference's SID (to hold a participant) and who joined when."""
    call = lock_call(call_id)
    if call is None:
        return
    if conference_sid and call.conference_sid is None:
        call.conference_sid = conference_sid
    if event == "participant-join" and participant_sid:
        leg = db.session.scalar(sa.select(CallLeg).where(CallLeg.twilio_sid == participant_sid))
        if leg is not None and leg.joined_at is None:
            leg.joined_at = utcnow()


def store_voicemail(call_sid: str, recording_sid: str | None, seconds: int | None, caller: str = "",
                    dialled: str = "") -> str:
    """A message was recorded: keep Twilio's SID and length only (the audio stays at Twilio, never here).

    A message taken after an error on our side may belong to a call never filed: it is filed now, with the
    programme that owns the dialled number, so that it still reaches a person.
    """
    call_id = db.session.scalar(sa.select(Call.id).where(Call.twilio_sid == call_sid))
    call = lock_call(call_id) if call_id is not None else _file_late(call_sid, caller, dialled)
    if call is not None and recording_sid and seconds and call.voicemail_sid is None:
        call.voicemail_sid = recording_sid
        call.voicemail_seconds = seconds
        audit.record("record", "voicemail", actor=None, program_id=call.program_id, patient_id=call.patient_id,
                     resource_id=call.id)
    return answers.goodbye(call.language if call else "en")


def _file_late(call_sid: str, caller: str, dialled: str) -> Call | None:
    program = owning_program(dialled) if call_sid and caller else None
    if program is None:
        return None
    patient = caller_patient(program.id, caller)
    call = Call(program_id=program.id, direction=CallDirection.INBOUND, twilio_sid=call_sid, program_number=dialled,
                external_number=caller, patient_id=patient.id if patient else None, status=CallStatus.VOICEMAIL,
                language="en", started_at=utcnow())
    db.session.add(call)
    db.session.flush()
    return call
