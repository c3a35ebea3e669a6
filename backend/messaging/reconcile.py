"""Crash recovery: a send whose lease ran out is `unknown` until Twilio's own records say what happened.

Safe with several workers: the `unknown` texts are claimed with FOR UPDATE SKIP
LOCKED (SQLite: the write lock), and each is settled by a conditional update
from the state and attempt it was read in, so a stale worker changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from backend.common.steps import Steps
from backend.database import db, take_sqlite_write_lock, utcnow
from backend.messaging.models import Message, MessageStatus
from backend.twilio.gateway import GatewayError, SentRecord, gateway

MARGIN = timedelta(minutes=2)


def mark_expired_leases(now: datetime | None = None) -> int:
    """Texts stuck in `sending` past their lease (the worker died mid-send) become `unknown`."""
    now = now or utcnow()
    result = db.session.execute(
        sa.update(Message).where(Message.status == MessageStatus.SENDING, Message.lease_until < now)
        .values(status=MessageStatus.UNKNOWN, reason="worker stopped mid-send; checking with Twilio",
                updated_at=now).execution_options(synchronize_session=False))
    return result.rowcount


def _claim_unknown(limit: int) -> list[Message]:
    stmt = sa.select(Message).where(Message.status == MessageStatus.UNKNOWN).order_by(Message.id).limit(limit)
    if take_sqlite_write_lock():
        return list(db.session.scalars(stmt))
    return list(db.session.scalars(stmt.with_for_update(skip_locked=True).execution_options(
        populate_existing=True)))


def _settle(message: Message, **values) -> bool:
    """Move one text out of `unknown`, only if it is still in the state and attempt this worker read."""
    result = db.session.execute(
        sa.update(Message).where(Message.id == message.id, Message.status == MessageStatus.UNKNOWN,
                                 Message.attempts == message.attempts)
        .values(lease_until=None, updated_at=utcnow(), **values).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _match(message: Message, records: list[SentRecord]) -> SentRecord | None:
    """Twilio's record of this text: same body, and a SID no other text of ours holds."""
    candidates = [r for r in records if r.body == message.body]
    if not candidates:
        return None
    taken = set(db.session.scalars(sa.select(Message.twilio_sid).where(
        Message.twilio_sid.in_([r.sid for r in candidates]))))
    return next((r for r in candidates if r.sid not in taken), None)


def reconcile_unknown(steps: Steps, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Ask Twilio about each `unknown` text: sent if Twilio has it, queued again only if it has none."""
    now = now or utcnow()
    mark_expired_leases(now)
    steps.commit()
    counts = {"sent": 0, "requeued": 0, "still_unknown": 0}
    for message in _claim_unknown(limit):
        since = (message.sending_started_at or message.updated_at) - MARGIN
        until = (message.lease_until or now) + MARGIN
        try:
            records = gateway().find_sent(message.to_number, since, until)
        except GatewayError:
            counts["still_unknown"] += 1
            continue
        match = _match(message, records)
        if match is not None:
            settled = _settle(message, status=MessageStatus.SENT, twilio_sid=match.sid,
                              sent_at=match.sent_at or now, reason="confirmed with Twilio after a worker stopped")
            counts["sent" if settled else "still_unknown"] += 1
        else:
            settled = _settle(message, status=MessageStatus.QUEUED, scheduled_for=now,
                              reason="Twilio has no record of it; queued again")
            counts["requeued" if settled else "still_unknown"] += 1
    return counts
