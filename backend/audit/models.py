"""AuditEvent model (append-only)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import db, utcnow


class AuditEvent(db.Model):
    """One read or write of patient data, or a refused attempt. Never updated or deleted."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_patient_id_occurred_at", "patient_id", "occurred_at"),
        sa.Index("ix_audit_events_user_id_occurred_at", "user_id", "occurred_at"),
        sa.Index("ix_audit_events_program_id_occurred_at", "program_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    program_id: Mapped[int | None] = mapped_column(sa.ForeignKey("programs.id"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    role: Mapped[str | None] = mapped_column(sa.String(20))
    action: Mapped[str] = mapped_column(sa.String(40))
    resource: Mapped[str] = mapped_column(sa.String(40))
    resource_id: Mapped[str | None] = mapped_column(sa.String(64))
    patient_id: Mapped[int | None]
    outcome: Mapped[str] = mapped_column(sa.String(40))
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    # Ids, counts and field names only: never names, phone numbers or notes.
    details: Mapped[dict | None] = mapped_column(sa.JSON)


class AuditSeal(db.Model):
    """A closed block of audit events, sealed with a keyed hash chained to the seal before it.

    The key lives outside the database (AUDIT_SEAL_KEY), so an edit, deletion or insertion in a sealed block,
    or in the seals themselves, shows in `flask audit verify` even when made by a database superuser.
    """

    __tablename__ = "audit_seals"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_event_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"))
    last_event_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), unique=True)
    event_count: Mapped[int]
    previous_digest: Mapped[str] = mapped_column(sa.String(64))
    digest: Mapped[str] = mapped_column(sa.String(64))
    sealed_at: Mapped[datetime] = mapped_column(default=utcnow)
