"""Messaging rules: who may be texted, scheduling, follow-up plans, cancelling, opting out and in."""

from __future__ import annotations

from datetime import datetime, timedelta

import phonenumbers
import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.errors import ConflictError, InvalidError, field_error, not_found
from backend.database import db, utcnow
from backend.messaging import library
from backend.messaging.models import PENDING, Message, MessageDirection, MessageStatus, MessagingPolicy
from backend.messaging.templates import NEUTRAL_SENDER, NO_COACH, TEMPLATES, in_language, sensitive_terms_in
from backend.patients.access import get_patient_for
from backend.patients.events import patient_changed
from backend.patients.models import CLOSED_STATUSES, Patient, PatientEventKind
from backend.patients.service import record_event
from backend.programs import numbers
from backend.programs.models import Program
from backend.programs.policies import stored_or_default
from backend.twilio.gateway import Sender, default_sender
from backend.users.models import Role, User, name_for_texts
from backend.users.service import require_role


def messaging_policy(program_id: int) -> MessagingPolicy:
    """The programme's messaging policy, or the defaults."""
    return stored_or_default(MessagingPolicy, program_id)


def display_phone(number: str | None) -> str:
    if not number:
        return ""
    return phonenumbers.format_number(phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.NATIONAL)


def sender_name(program: Program, language: str | None = "en") -> str:
    """The programme's name in texts, unless it would reveal treatment on a lock screen (then a neutral one)."""
    policy = messaging_policy(program.id)
    if policy.sms_display_name:
        return policy.sms_display_name
    return in_language(NEUTRAL_SENDER, language) if sensitive_terms_in(program.name) else program.name


def sender_for(program_id: int) -> Sender:
    """Who the programme's texts come from: its Messaging Service, its own number, else the deployment default.

    A programme's own sender matters: replies and STOPs come back to it, and only
    the programme that owns the number sees them.
    """
    program = db.session.get(Program, program_id)
    number = numbers.sms_number(program_id)
    if program.messaging_service_sid or number:
        return Sender(number, program.messaging_service_sid)
    return default_sender()


def template_variables(patient: Patient) -> dict[str, str]:
    """What templates fill in, in the patient's language (the coach by the name they chose for texts)."""
    program = db.session.get(Program, patient.program_id)
    coach = db.session.get(User, patient.coach_id) if patient.coach_id else None
    return {"first_name": patient.preferred_name or patient.first_name,
            "coach_name": name_for_texts(coach) if coach else in_language(NO_COACH, patient.language),
            "program_phone": display_phone(program.phone), "program_name": sender_name(program, patient.language)}


def text_refusal(patient: Patient) -> tuple[str, str] | None:
    """Why the patient must not be texted now (machine code, message), or None: one rule for API, jobs, worker."""
    if patient.sms_opted_out:
        return "sms_opted_out", "The patient opted out of text messages (STOP)."
    if patient.status in CLOSED_STATUSES:
        return "patient_closed", "The patient's record is closed."
    if not patient.sms_consent:
        return "sms_consent_missing", "The patient has not agreed to text messages."
    if not patient.phone:
        return "phone_missing", "The patient has no phone number."
    if patient.phone_flagged_at is not None:
        return "phone_flagged", "Texts to this number failed; check the number first."
    return None


def check_can_text(patient: Patient) -> None:
    """409 with a machine code when the patient must not be texted."""
    refusal = text_refusal(patient)
    if refusal is not None:
        raise ConflictError(*refusal)


def schedule_message(actor: User, patient_id: int, data: dict) -> Message:
    """Queue a text (free text or a template) for now or later, after consent and privacy checks."""
    patient = get_patient_for(actor, patient_id)
    check_can_text(patient)
    key = data.get("template_key")
    version = None
    if key:
        text, version = library.template_text(patient.program_id, key, patient.language)
        body = library.fill(text, template_variables(patient))
    else:
        body = data["body"].strip()
        terms = sensitive_terms_in(body)
        if terms and not data.get("confirm_sensitive"):
            raise InvalidError("sensitive_content",
                           "This text could reveal treatment on a lock screen. Rephrase it, or confirm to send.",
                           errors={"body": [f"Contains: {', '.join(terms)}"]})
    now = utcnow()
    send_at = data.get("send_at") or now
    expires_at = data.get("expires_at")
    if expires_at is not None and expires_at <= send_at:
        raise field_error("expires_at", "Must be after the time the message is sent.")
    message = Message(program_id=patient.program_id, patient_id=patient.id, direction=MessageDirection.OUTBOUND,
                      body=body, template_key=key, template_version=version, scheduled_for=max(send_at, now),
                      expires_at=expires_at,
                      status=MessageStatus.SCHEDULED if send_at > now else MessageStatus.QUEUED,
                      created_by_id=actor.id)
    db.session.add(message)
    db.session.flush()
    audit.record("create", "message", actor=actor, patient_id=patient.id, resource_id=message.id)
    return message


def list_messages(actor: User, patient_id: int) -> sa.Select:
    """The patient's texts in and out, newest first; the read is audited."""
    patient = get_patient_for(actor, patient_id)
    audit.record("list", "message", actor=actor, patient_id=patient.id)
    return (sa.select(Message).where(Message.patient_id == patient.id)
            .order_by(Message.scheduled_for.desc(), Message.id.desc()))


def cancel_message(actor: User, message_id: int) -> Message:
    """Cancel a text that has not gone out yet."""
    message = db.session.get(Message, message_id)
    if message is None or message.patient_id is None:
        raise not_found("message")
    get_patient_for(actor, message.patient_id)  # 404 outside the caller's scope
    if message.status not in PENDING:
        raise ConflictError("not_cancellable", f"The message is already {message.status}.")
    message.status = MessageStatus.CANCELLED
    message.reason = "cancelled_by_staff"
    audit.record("cancel", "message", actor=actor, patient_id=message.patient_id, resource_id=message.id)
    return message


def schedule_follow_ups(actor: User, patient_id: int, plan_key: str, anchor_at: datetime) -> list[Message]:
    """Schedule a plan's texts from the anchor; a new anchor cancels the plan's pending texts first."""
    found = library.plan_for(actor.program_id, plan_key)
    if found is None:
        raise field_error("plan_key", "Unknown follow-up plan.")
    plan = found[0]
    patient = get_patient_for(actor, patient_id, for_update=True)
    check_can_text(patient)
    cancel_pending(patient.id, "rescheduled", plan_key=plan_key)
    expiry = timedelta(hours=messaging_policy(patient.program_id).follow_up_expiry_hours)
    variables = template_variables(patient)
    now = utcnow()
    texts = {key: library.template_text(patient.program_id, key, patient.language)
             for key in {step.template_key for step in plan.steps}}
    messages = [
        Message(program_id=patient.program_id, patient_id=patient.id, direction=MessageDirection.OUTBOUND,
                body=library.fill(texts[step.template_key][0], variables), template_key=step.template_key,
                template_version=texts[step.template_key][1], plan_key=plan.key, plan_anchor_at=anchor_at,
                scheduled_for=due, expires_at=due + expiry, status=MessageStatus.SCHEDULED, created_by_id=actor.id)
        for step, due in plan.schedule(anchor_at, patient.timezone) if due + expiry > now
    ]
    db.session.add_all(messages)
    db.session.flush()
    audit.record("schedule", "follow_up_plan", actor=actor, patient_id=patient.id,
                 details={"plan_key": plan.key, "messages": len(messages)})
    return messages


def cancel_pending(patient_id: int, reason: str, plan_key: str | None = None) -> int:
    """Cancel the patient's texts that have not gone out; the reason is shown on each."""
    stmt = (sa.update(Message).where(Message.patient_id == patient_id, Message.status.in_(PENDING))
            .values(status=MessageStatus.CANCELLED, reason=reason, updated_at=utcnow()))
    if plan_key is not None:
        stmt = stmt.where(Message.plan_key == plan_key)
    return db.session.execute(stmt.execution_options(synchronize_session=False)).rowcount


@patient_changed.connect
def _cancel_texts_on_change(patient: Patient, before: dict) -> None:
    if "sms_consent" in before and not patient.sms_consent:
        cancel_pending(patient.id, "sms_consent_withdrawn")
    if "status" in before and patient.status in CLOSED_STATUSES:
        cancel_pending(patient.id, "patient_closed")


def opt_out(patients: list[Patient], via: str) -> None:
    """STOP (or Twilio's 21610): no more texts, and nothing pending goes out."""
    now = utcnow()
    for patient in patients:
        if not patient.sms_opted_out:
            patient.sms_opted_out = True
            patient.sms_opted_out_at = now
            record_event(patient, None, PatientEventKind.SMS_OPTED_OUT, {"via": via})
        cancel_pending(patient.id, "sms_opted_out")
        audit.record("opt_out", "sms", actor=None, program_id=patient.program_id, patient_id=patient.id,
                     details={"via": via})


def opt_in(patients: list[Patient]) -> None:
    """START / UNSTOP / YES: texts may go out again."""
    for patient in patients:
        if patient.sms_opted_out:
            record_event(patient, None, PatientEventKind.SMS_OPTED_IN, {})
        patient.sms_opted_out = False
        patient.sms_opted_out_at = None
        audit.record("opt_in", "sms", actor=None, program_id=patient.program_id, patient_id=patient.id)


def template_catalogue() -> dict:
    return {key: sorted(texts) for key, texts in TEMPLATES.items()}


def update_policy(actor: User, changes: dict) -> MessagingPolicy:
    """Admins set quiet hours, follow-up expiry and the name HELP replies use."""
    require_role(actor, Role.ADMIN)
    name = changes.get("sms_display_name")
    if name and sensitive_terms_in(name):
        raise field_error("sms_display_name", "This name would reveal treatment on a lock screen.")
    policy = messaging_policy(actor.program_id)
    # Compared with what is stored too: changing one hour to equal the other would switch quiet hours off.
    if (changes.get("quiet_start_hour", policy.quiet_start_hour)
            == changes.get("quiet_end_hour", policy.quiet_end_hour)):
        field = "quiet_end_hour" if "quiet_end_hour" in changes else "quiet_start_hour"
        raise field_error(field, "Quiet hours must start and end at different hours.")
    if policy not in db.session:
        db.session.add(policy)
    for field, value in changes.items():
        setattr(policy, field, value)
    db.session.flush()
    audit.record("update", "messaging_policy", actor=actor, resource_id=actor.program_id,
                 details={"fields": sorted(changes)})
    return policy
