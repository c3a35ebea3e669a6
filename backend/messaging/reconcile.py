"""Crash recovery: a send whose lease ran out is `unknown` until Twilio's own records say what happened."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.messaging.gateway import GatewayError, gateway
from backend.messaging.models import Message, MessageStatus

MARGIN = timedelta(minutes=2)


def mark_expired_leases(now: datetime | None = None) -> int:
    """Texts stuck in `sending` past their lease (the worker died mid-send) become `unknown`."""
    now = now or utcnow()
    result = db.session.execute(
        sa.update(Message).where(Message.status == MessageStatus.SENDING, Message.lease_until < now)
        .values(status=MessageStatus.UNKNOWN, reason="worker stopped mid-send; checking with Twilio",
                updated_at=now).execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount


def reconcile_unknown(now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Ask Twilio about each `unknown` text: sent if Twilio has it, queued again only if it has none."""
    now = now or utcnow()
    mark_expired_leases(now)
    counts = {"sent": 0, "requeued": 0, "still_unknown": 0}
    unknown = list(db.session.scalars(sa.select(Message).where(Message.status == MessageStatus.UNKNOWN)
                                      .order_by(Message.id).limit(limit)))
    known_sids = set()
    for message in unknown:
        since = (message.sending_started_at or message.updated_at) - MARGIN
        until = (message.lease_until or now) + MARGIN
        try:
            records = gateway().find_sent(message.to_number, since, until)
        except GatewayError:
            counts["still_unknown"] += 1
            continue
        match = next((r for r in records if r.body == message.body and r.sid not in known_sids
                      and not _sid_taken(r.sid)), None)
        if match is not None:
            known_sids.add(match.sid)
            message.status, message.twilio_sid, message.sent_at = MessageStatus.SENT, match.sid, match.sent_at or now
            message.reason = "confirmed with Twilio after a worker stopped"
            counts["sent"] += 1
        else:
            message.status, message.scheduled_for = MessageStatus.QUEUED, now
            message.reason = "Twilio has no record of it; queued again"
            counts["requeued"] += 1
        message.lease_until = None
    db.session.commit()
    return counts


def _sid_taken(sid: str) -> bool:
    return db.session.scalar(sa.select(Message.id).where(Message.twilio_sid == sid)) is not None
