"""Write and read audit events."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from flask import g, has_request_context, request

from backend.audit.models import AuditEvent
from backend.database import db, utcnow


class Actor(Protocol):
    """Who acted, as the audit trail records it: any staff account (audit sits below users)."""

    id: int
    program_id: int
    role: object


def _request_meta() -> dict:
    if not has_request_context():
        return {}
    return {
        "remote_addr": (request.remote_addr or "")[:64] or None,
        "user_agent": (request.user_agent.string or "")[:300] or None,
        "request_id": getattr(g, "request_id", None),
    }


def record(action: str, resource: str, *, actor: Actor | None, patient_id: int | None = None,
           resource_id: int | str | None = None, outcome: str = "success", details: dict | None = None,
           program_id: int | None = None) -> None:
    """Insert an audit event in the current transaction (committed with the work it describes).

    A Core INSERT, not an ORM object: one is written on every request that
    touches patient data, so it skips the unit-of-work bookkeeping. Events
    with no actor (a patient's STOP, a partner's answer, a job) name their
    programme with `program_id`, so the programme's audit list shows them.
    """
    db.session.execute(sa.insert(AuditEvent).values(
        occurred_at=utcnow(),
        program_id=actor.program_id if actor else program_id,
        user_id=actor.id if actor else None,
        role=str(actor.role) if actor else None,
        action=action,
        resource=resource,
        resource_id=None if resource_id is None else str(resource_id),
        patient_id=patient_id,
        outcome=outcome,
        details=details,
        **_request_meta(),
    ))


def record_refusal(action: str, resource: str, *, actor: Actor | None, outcome: str,
                   patient_id: int | None = None, resource_id: int | str | None = None) -> None:
    """Record a refused attempt (the entry point writes it in its own transaction, after the rollback)."""
    record(action, resource, actor=actor, patient_id=patient_id, resource_id=resource_id, outcome=outcome)


def list_events(actor: Actor, *, patient_id: int | None = None, user_id: int | None = None,
                since: datetime | None = None, until: datetime | None = None, action: str | None = None,
                succeeded: bool | None = None):
    """Audit events of the caller's programme, newest first (a select to paginate).

    `until` is exclusive; `succeeded` False keeps the refused and failed attempts (any outcome but success).
    """
    stmt = db.select(AuditEvent).where(AuditEvent.program_id == actor.program_id)
    if patient_id is not None:
        stmt = stmt.where(AuditEvent.patient_id == patient_id)
    if user_id is not None:
        stmt = stmt.where(AuditEvent.user_id == user_id)
    if since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if succeeded is not None:
        stmt = stmt.where((AuditEvent.outcome == "success") if succeeded else (AuditEvent.outcome != "success"))
    return stmt.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


def record_read(actor: Actor, *, count: int, filters: dict, export: bool = False) -> None:
    """One row per reading of the audit log: how many events were shown (or exported) and which filters held."""
    record("export" if export else "list", "audit_event", actor=actor, patient_id=filters.get("patient_id"),
           details={"count": count, "filters": sorted(filters)})
