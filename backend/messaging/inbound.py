"""What patients send us: keywords (STOP, START, HELP), replies for the coach, and delivery receipts."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from backend.audit import service as audit
from backend.database import db, utcnow
from backend.messaging import policy, service
from backend.messaging.models import PROGRESS, Message, MessageDirection, MessageStatus
from backend.messaging.templates import REPLIES, in_language, render
from backend.patients.models import CLOSED_STATUSES, Patient
from backend.programs import hours
from backend.programs.models import Program
from backend.tasks.models import TaskKind
from backend.tasks.service import least_busy_supervisor, open_system_task
from backend.twilio.gateway import TWILIO_API

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "PARAR", "ALTO", "BAJA"}
START_WORDS = {"START", "YES", "UNSTOP", "INICIAR", "COMENZAR", "ALTA"}
HELP_WORDS = {"HELP", "INFO", "AYUDA"}
REPLY_DUE = timedelta(hours=4)
MAX_MEDIA = 10  # Twilio's own limit per MMS
TWILIO_MEDIA_PREFIX = TWILIO_API + "/"  # media URLs on Twilio's own host only
CLOSED_ANSWER_EVERY = timedelta(hours=12)
CALLBACK_STATUSES = {s.value: s for s in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED,
                                          MessageStatus.FAILED)}


def _keyword(body: str) -> str:
    words = body.strip().split()
    return words[0].strip(".!¡?¿,").upper() if len(words) == 1 else ""


def media_of(form: dict[str, str]) -> list[dict]:
    """An MMS's media as Twilio sent them (MediaUrl{N}, MediaContentType{N}); only Twilio's own URLs are kept."""
    count = form.get("NumMedia", "0")
    count = min(int(count), MAX_MEDIA) if count.isascii() and count.isdigit() else 0
    media = [{"url": form.get(f"MediaUrl{n}", ""), "content_type": form.get(f"MediaContentType{n}", "")[:100]}
             for n in range(count)]
    return [m for m in media if m["url"].startswith(TWILIO_MEDIA_PREFIX) and len(m["url"]) <= 500]


def handle_inbound(program: Program, from_number: str, to_number: str, body: str, sid: str | None,
                   media: list[dict] | None = None) -> str | None:
    """Apply a keyword or store the reply for the coach; returns the text to answer with, if any.

    `program` owns the dialled number, and only its patients are looked up: the same
    phone may be a patient in two programmes, and neither may see the other's texts.
    """
    if sid and db.session.scalar(sa.select(Message.id).where(Message.twilio_sid == sid)):
        return None  # Twilio retried the webhook: already handled
    patients = list(db.session.scalars(
        sa.select(Patient).where(Patient.program_id == program.id, Patient.phone == from_number)
        .order_by(Patient.updated_at.desc())))
    keyword = _keyword(body)
    language = patients[0].language if patients else "en"
    # Twilio answers the keywords it handles itself (TWILIO_HANDLED_KEYWORDS); we answer only the others (ALTO,
    # INICIAR, AYUDA, ...), in the patient's language, so a patient never gets two confirmations.
    answered_by_twilio = keyword in current_app.config["TWILIO_HANDLED_KEYWORDS"]
    if keyword in STOP_WORDS:
        service.opt_out(patients, via="keyword")
        return None if answered_by_twilio else _confirmation("opted_out", program, language)
    if keyword in START_WORDS:
        service.opt_in(patients)
        return None if answered_by_twilio else _confirmation("opted_in", program, language)
    if keyword in HELP_WORDS:
        return None if answered_by_twilio else render(
            "help_reply", language, {"program_name": service.sender_name(program, language),
                                     "program_phone": service.display_phone(program.phone)})
    patient = next((p for p in patients if p.status not in CLOSED_STATUSES),
                   patients[0] if patients else None)
    now = utcnow()
    opens = now if hours.is_open(program, now) else hours.next_opening(program, now)
    _store_reply(patient, program, from_number, to_number, body, sid,
                 due_in=REPLY_DUE if opens is None or opens == now else opens - now, media=media)
    if opens is None or opens == now:
        return None
    return _closed_answer(patient, program, from_number, to_number, now)


def _confirmation(kind: str, program: Program, language: str) -> str:
    return in_language(REPLIES[kind], language).format(program_name=service.sender_name(program, language))


def _closed_answer(patient: Patient | None, program: Program, from_number: str, to_number: str,
                   now) -> str | None:
    """The line is closed: say when it opens and give the crisis number, once per 12 hours per sender."""
    if db.session.scalar(sa.select(Message.id).where(
            Message.program_id == program.id, Message.to_number == from_number,
            Message.template_key == "line_closed", Message.created_at >= now - CLOSED_ANSWER_EVERY).limit(1)):
        return None
    line = hours.line_for(program.id)
    language = patient.language if patient else "en"
    text = render("line_closed", language, {"program_name": service.sender_name(program, language),
                                             "hours": hours.spoken_hours(line, language),
                                             "crisis_number": line.crisis_number})
    db.session.add(Message(program_id=program.id, patient_id=patient.id if patient else None,
                           direction=MessageDirection.OUTBOUND, from_number=to_number, to_number=from_number,
                           body=text, template_key="line_closed", scheduled_for=now, sent_at=now,
                           status=MessageStatus.SENT))
    return text


def _store_reply(patient: Patient | None, program: Program, from_number: str, to_number: str, body: str,
                 sid: str | None, due_in: timedelta = timedelta(hours=4), media: list[dict] | None = None) -> None:
    now = utcnow()
    message = Message(program_id=program.id, patient_id=patient.id if patient else None,
                      direction=MessageDirection.INBOUND, from_number=from_number, to_number=to_number, body=body,
                      scheduled_for=now, sent_at=now, status=MessageStatus.RECEIVED, twilio_sid=sid,
                      media=media or None)
    db.session.add(message)
    db.session.flush()
    if patient and patient.coach_id:
        assignee = patient.coach_id
    else:
        supervisor = least_busy_supervisor(program.id)
        assignee = supervisor.id if supervisor else None
    what = ("Photo" if any(m["content_type"].startswith("image/") for m in media or []) else "Media") \
        if media and not body.strip() else "Text"
    title = ("Text reply from your patient" if what == "Text" else f"{what} from your patient") \
        if patient and patient.coach_id else (
        f"{what} from a patient without a coach" if patient else f"{what} from an unknown number")
    open_system_task(program.id, assignee, TaskKind.CALL_BACK, title, due_in,
                     patient_id=patient.id if patient else None)
    audit.record("receive", "message", actor=None, program_id=program.id, patient_id=patient.id if patient else None,
                 resource_id=message.id)


def apply_status_callback(sid: str, status: str, error_code: int | None, message_id: int | None = None,
                          attempt: int | None = None) -> bool:
    """Record Twilio's delivery news; idempotent, never backwards, unknown texts change nothing.

    Receipts name the message and attempt in their URL: one that beats the worker's batched write of the
    SID still lands (and stores the SID); one for an earlier attempt or another SID is ignored. Receipts
    without them (texts sent before this was added) are matched by SID.
    """
    new = CALLBACK_STATUSES.get(status)
    in_flight = False
    if message_id is None:
        message = db.session.scalar(sa.select(Message).where(Message.twilio_sid == sid).with_for_update())
    else:
        message = db.session.scalar(sa.select(Message).where(Message.id == message_id).with_for_update())
        in_flight = message is not None and message.twilio_sid is None and message.status == MessageStatus.SENDING
        if message is not None and (attempt != message.attempts or not (message.twilio_sid == sid or in_flight)):
            message = None
    if message is None:
        return False
    if in_flight:  # the receipt beat the worker's batched write: the text was accepted, keep its SID now
        message.twilio_sid, message.sent_at, message.lease_until = sid, utcnow(), None
    applied = new is not None and PROGRESS.get(new, 0) > PROGRESS.get(message.status, 0)
    if applied:
        message.status = new
        if error_code:
            message.error_code = error_code
            message.reason = f"carrier error {error_code}"
        retry = policy.retry_after_undelivered(message.attempts, error_code) if new == MessageStatus.UNDELIVERED \
            else None
        if retry is not None:
            message.status, message.reason = MessageStatus.QUEUED, retry.reason
            message.twilio_sid, message.scheduled_for = None, utcnow() + retry.delay
    return applied
