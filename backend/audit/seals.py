"""Tamper evidence for the audit trail, off the request path: a job seals closed blocks of events.

Each seal is an HMAC-SHA256, keyed with AUDIT_SEAL_KEY (held outside the database), over the previous seal's
digest and every event of the block in id order. Inserting an audit row takes no lock and reads no chain head:
only the job does. A block closes BLOCK_LAG after its newest event, so a transaction still open then (none
should be) cannot commit a row into a block already sealed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from backend.audit.models import AuditEvent, AuditSeal
from backend.database import db, utcnow

BLOCK_LAG = timedelta(minutes=5)
BLOCK_SIZE = 10_000
GENESIS = "0" * 64
COLUMNS = [c for c in AuditEvent.__table__.columns]


def _key() -> bytes:
    key = current_app.config.get("AUDIT_SEAL_KEY") or "derived:" + current_app.config["SECRET_KEY"]
    return hashlib.sha256(key.encode()).digest()


def _line(row) -> str:
    values = [value.isoformat() if hasattr(value, "isoformat") else value for value in row]
    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)


def _digest(previous: str, rows) -> tuple[str, int]:
    mac = hmac.new(_key(), previous.encode(), hashlib.sha256)
    count = 0
    for row in rows:
        mac.update(b"\n" + _line(row).encode())
        count += 1
    return mac.hexdigest(), count


def _rows(first: int, last: int):
    return db.session.execute(sa.select(*COLUMNS).where(AuditEvent.id.between(first, last))
                              .order_by(AuditEvent.id)).all()


def seal_closed_blocks() -> int:
    """Seal every closed block not sealed yet; returns how many seals were written (a job)."""
    written = 0
    while True:
        last_seal = db.session.scalar(sa.select(AuditSeal).order_by(AuditSeal.id.desc()).limit(1))
        after = last_seal.last_event_id if last_seal else 0
        ids = list(db.session.scalars(
            sa.select(AuditEvent.id).where(AuditEvent.id > after, AuditEvent.occurred_at <= utcnow() - BLOCK_LAG)
            .order_by(AuditEvent.id).limit(BLOCK_SIZE)))
        if not ids:
            return written
        previous = last_seal.digest if last_seal else GENESIS
        digest, count = _digest(previous, _rows(after + 1, ids[-1]))
        db.session.add(AuditSeal(first_event_id=after + 1, last_event_id=ids[-1], event_count=count,
                                 previous_digest=previous, digest=digest))
        db.session.flush()
        written += 1


@dataclass(frozen=True)
class Verdict:
    sealed_blocks: int
    sealed_events: int
    unsealed_events: int
    first_bad_seal: int | None = None
    first_bad_events: tuple[int, int] | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify() -> Verdict:
    """Recompute every seal; the first block whose events or seal were edited, deleted or inserted since."""
    previous, blocks, events = GENESIS, 0, 0
    for seal in db.session.scalars(sa.select(AuditSeal).order_by(AuditSeal.id)):
        bad = None
        if seal.previous_digest != previous:
            bad = "the chain of seals is broken here (a seal was removed, edited or inserted)"
        else:
            digest, count = _digest(previous, _rows(seal.first_event_id, seal.last_event_id))
            if count != seal.event_count:
                bad = f"{seal.event_count} events were sealed, {count} are there now (deleted or inserted)"
            elif not hmac.compare_digest(digest, seal.digest):
                bad = "an event was changed after sealing"
        if bad:
            return Verdict(blocks, events, 0, seal.id, (seal.first_event_id, seal.last_event_id), bad)
        previous, blocks, events = seal.digest, blocks + 1, events + seal.event_count
    last = db.session.scalar(sa.select(sa.func.max(AuditSeal.last_event_id))) or 0
    unsealed = db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.id > last))
    return Verdict(blocks, events, unsealed)
