"""The outbox worker: claim due texts, send each exactly once, record what Twilio said.

A text is claimed (`sending`, with a lease) and committed before Twilio is
called, so two workers never send it twice and a crash leaves it `unknown`
for reconciliation (see reconcile.py), never for a blind resend.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from backend.common.steps import Steps
from backend.database import db, take_sqlite_write_lock, utcnow
from backend.messaging import policy, sender_rate, service
from backend.messaging.models import Message, MessageStatus
from backend.patients.models import Patient
from backend.tasks.models import TaskKind
from backend.tasks.service import open_system_task
from backend.twilio.gateway import GatewayError, Sender, gateway

LOOP_LIMIT = 3
LOOP_WINDOW = timedelta(hours=1)
STATUS_CALLBACK_PATH = "/webhooks/twilio/sms/status"
RECORD_BATCH = 25  # accepted texts recorded per transaction
RECORD_WITHIN = 0.2  # seconds


@dataclass(frozen=True)
class Claimed:
    id: int
    to: str
    body: str
    attempt: int
    sender: Sender


# Literal, not bound, statuses: the partial index ix_messages_due matches this predicate
# even in a generic (prepared) plan, so finding due texts stays flat as the future backlog grows.
DUE_STATUSES = sa.text("messages.status IN ('scheduled', 'queued')")


def _lock_for_claim(limit: int, now: datetime) -> list[Message]:
    stmt = (sa.select(Message).where(DUE_STATUSES, Message.scheduled_for <= now)
            .order_by(Message.scheduled_for, Message.id).limit(limit))
    if take_sqlite_write_lock():
        return list(db.session.scalars(stmt))
    return list(db.session.scalars(stmt.with_for_update(skip_locked=True, of=Message)))


def _recent_identical(messages: list[Message], now: datetime) -> dict[tuple[int, str], int]:
    """How many times each (patient, body) of the batch went out in the last hour, in one query."""
    if not messages:
        return {}
    rows = db.session.execute(
        sa.select(Message.patient_id, Message.body, sa.func.count()).where(
            Message.patient_id.in_({m.patient_id for m in messages}), Message.body.in_({m.body for m in messages}),
            Message.created_at >= now - LOOP_WINDOW,
            Message.status.in_((MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.DELIVERED,
                                MessageStatus.UNKNOWN)))
        .group_by(Message.patient_id, Message.body)).all()
    return {(patient_id, body): count for patient_id, body, count in rows}


def claim_due(limit: int, now: datetime | None = None) -> list[Claimed]:
    """Settle what must not go out, defer quiet hours, claim the rest (`sending`); the caller commits the claim."""
    now = now or utcnow()
    lease = current_app.config["SMS_SEND_LEASE"]
    messages = _lock_for_claim(limit, now)
    patients = {p.id: p for p in db.session.scalars(
        sa.select(Patient).where(Patient.id.in_({m.patient_id for m in messages if m.patient_id})))}
    recent = _recent_identical(messages, now)
    policies: dict[int, object] = {}
    senders: dict[int, Sender] = {}
    claimed = []
    for message in messages:
        patient = patients.get(message.patient_id)
        refusal = _refusal(message, patient, now)
        if refusal is not None:
            message.status, message.reason = refusal
            continue
        settings = policies.get(patient.program_id) or policies.setdefault(
            patient.program_id, service.messaging_policy(patient.program_id))
        opens = policy.quiet_until(now, patient.timezone, settings.quiet_start_hour, settings.quiet_end_hour)
        if opens is not None:
            message.scheduled_for, message.reason = opens, "quiet_hours"
            continue
        key = (patient.id, message.body)
        if recent.get(key, 0) >= LOOP_LIMIT:
            message.status, message.reason = MessageStatus.BLOCKED, "loop_guard: same text sent 3 times this hour"
            continue
        recent[key] = recent.get(key, 0) + 1
        message.status, message.reason = MessageStatus.SENDING, None
        message.attempts += 1
        sender = senders.get(message.program_id) or senders.setdefault(
            message.program_id, service.sender_for(message.program_id))
        message.to_number, message.from_number = patient.phone, sender.number
        message.sending_started_at, message.lease_until = now, now + lease
        claimed.append(Claimed(message.id, patient.phone, message.body, message.attempts, sender))
    return claimed


def _refusal(message: Message, patient: Patient | None, now: datetime) -> tuple[MessageStatus, str] | None:
    if message.expires_at is not None and message.expires_at <= now:
        return MessageStatus.EXPIRED, "not sent before it expired"
    if patient is None:
        return MessageStatus.CANCELLED, "no patient"
    refusal = service.text_refusal(patient)
    if refusal is None:
        return None
    # Opted out or closed: the text is dropped; the rest may clear (consent given, number fixed).
    code = refusal[0]
    return (MessageStatus.CANCELLED if code in ("sms_opted_out", "patient_closed") else MessageStatus.BLOCKED), code


def send_claimed(item: Claimed) -> tuple[MessageStatus, str | None]:
    """Call Twilio for one claimed text; a refusal is recorded (for the caller to commit), a success returned."""
    # The receipt names our message and attempt (Twilio signs the query too), so it finds the text even when
    # it arrives before this worker's batched write of the SID.
    callback = (f"{current_app.config['PUBLIC_BASE_URL']}{STATUS_CALLBACK_PATH}"
                f"?message={item.id}&attempt={item.attempt}")
    try:
        result = gateway().send(item.to, item.body, item.sender, status_callback=callback)
    except GatewayError as exc:
        return _record_failure(item, exc), None
    return MessageStatus.SENT, result.sid


_MARK_SENT = (
    sa.update(Message.__table__)
    .where(Message.__table__.c.id == sa.bindparam("message_id"),
           Message.__table__.c.status == MessageStatus.SENDING.value)
    .values(status=MessageStatus.SENT.value, twilio_sid=sa.bindparam("sid"), sent_at=sa.bindparam("sent_at"),
            lease_until=None, updated_at=sa.bindparam("sent_at"))
)


def record_sent(sent: list[tuple[int, str]]) -> None:
    """Record several accepted texts with one executemany, each only if it is still `sending`.

    Until the caller commits they stay `sending`: a crash here leaves them to the
    reconcile job, which finds them in Twilio's list, so batching is safe.
    """
    if not sent:
        return
    now = utcnow()
    db.session.execute(_MARK_SENT, [{"message_id": mid, "sid": sid, "sent_at": now} for mid, sid in sent])


def _record_failure(item: Claimed, exc: GatewayError) -> MessageStatus:
    message = db.session.get(Message, item.id, with_for_update=True, populate_existing=True)
    if message.status != MessageStatus.SENDING or message.attempts != item.attempt:
        return message.status  # reconciled or re-claimed meanwhile: this worker's news is stale
    now = utcnow()
    message.error_code, message.lease_until = exc.code, None
    retry = policy.retry_after_send_failure(message.attempts, exc.status, exc.code, exc.retry_after)
    if retry is not None:
        message.status, message.scheduled_for, message.reason = MessageStatus.QUEUED, now + retry.delay, retry.reason
    else:
        message.status = MessageStatus.FAILED
        message.reason = _failure_reason(message, exc)
    return message.status


def _failure_reason(message: Message, exc: GatewayError) -> str:
    patient = db.session.get(Patient, message.patient_id)
    if exc.code == 21610 and patient is not None:
        service.opt_out([patient], via="twilio_21610")
        return "sms_opted_out"
    if exc.code in (21211, 21614) and patient is not None:
        flag_phone(patient)
        return "invalid_phone"
    if policy.is_transient(exc.status):
        return "gave up after retries"
    return f"twilio error {exc.code}" if exc.code else f"http {exc.status}"


def flag_phone(patient: Patient) -> None:
    """Twilio says the number cannot get texts: mark it and ask the coach to check it."""
    patient.phone_flagged_at = utcnow()
    open_system_task(patient.program_id, patient.coach_id, TaskKind.CHECK_PHONE_NUMBER,
                     "Texts to this patient's number fail: check the number", timedelta(hours=24),
                     patient_id=patient.id, once=True)


def dispatch_due(steps: Steps, batch: int = 50, budget_seconds: float = 50.0) -> dict[str, int]:
    """Claim and send due texts until none are left or the time budget is spent, at SMS_RATE_PER_SECOND.

    Each claim is committed before Twilio is called (so no other worker sends the
    same text, and a crash leaves it `unknown`, never resent blindly); refusals and
    batches of accepted texts are committed as further steps.
    """
    rate = current_app.config["SMS_RATE_PER_SECOND"]
    interval = 1 / rate if rate and rate > 0 else 0.0
    shared = sender_rate.sender_limit(rate)
    size = batch if not interval else max(1, min(batch, int(rate * 10)))
    started = time.monotonic()
    counts: dict[str, int] = {}
    next_send = started
    while time.monotonic() - started < budget_seconds:
        claimed = claim_due(size)
        steps.commit()
        if not claimed:
            break
        sent: list[tuple[int, str]] = []
        recorded_at = time.monotonic()
        for item in claimed:
            wait = next_send - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sender_rate.wait_for_sender_slot(shared, item.sender.key)
            status, sid = send_claimed(item)
            if sid is None:
                steps.commit()  # the refusal, at once
            else:
                sent.append((item.id, sid))
                # Bounded in size and time (a receipt that comes first finds its text by the id in its URL).
                if len(sent) >= RECORD_BATCH or time.monotonic() - recorded_at > RECORD_WITHIN:
                    record_sent(sent)
                    steps.commit()
                    sent, recorded_at = [], time.monotonic()
            counts[str(status)] = counts.get(str(status), 0) + 1
            next_send = max(next_send + interval, time.monotonic()) if interval else next_send
        record_sent(sent)
        steps.commit()
    return counts
