"""Tamper evidence: sealed blocks of audit events show any later edit, deletion or insertion."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import time_machine

from backend.audit.models import AuditEvent, AuditSeal
from backend.database import db, utcnow
from tests.conftest import run_named_job


def audit_some(coach_api, factory, coach, reads: int = 3) -> None:
    patient = factory.patient(coach)
    for _ in range(reads):
        assert coach_api.get(f"/api/v1/patients/{patient.id}").status_code == 200


def seal(app) -> int:
    with time_machine.travel(utcnow() + timedelta(minutes=6)):  # the block has closed
        return run_named_job(app, "seal_audit_events")


def verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def tamper(app, statement: str) -> None:
    """What a database superuser could do: the append-only guards switched off for one transaction."""
    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
            connection.execute(sa.text(statement))
        else:
            triggers = list(connection.execute(sa.text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'")))
            for name, _sql in triggers:
                connection.execute(sa.text(f"DROP TRIGGER {name}"))
            connection.execute(sa.text(statement))
            for _name, sql in triggers:
                connection.execute(sa.text(sql))
        db.session.commit()


def test_closed_blocks_are_sealed_and_verify(app, coach_api, factory, coach):
    audit_some(coach_api, factory, coach)
    assert seal(app) == 1 and seal(app) == 0  # nothing new to seal
    result = verify(app)
    assert result.exit_code == 0 and "Audit trail intact: 1 sealed blocks" in result.output
    audit_some(coach_api, factory, coach)
    assert "newer events not sealed yet" in verify(app).output
    assert seal(app) == 1
    with app.app_context():
        seals = list(db.session.scalars(sa.select(AuditSeal).order_by(AuditSeal.id)))
    assert seals[1].previous_digest == seals[0].digest and seals[1].first_event_id == seals[0].last_event_id + 1


def test_an_edited_event_is_found_in_its_block(app, coach_api, factory, coach):
    audit_some(coach_api, factory, coach)
    seal(app)
    audit_some(coach_api, factory, coach)
    seal(app)
    with app.app_context():
        second = db.session.scalars(sa.select(AuditSeal).order_by(AuditSeal.id)).all()[1]
    tamper(app, f"UPDATE audit_events SET outcome = 'denied' WHERE id = {second.first_event_id}")
    result = verify(app)
    assert result.exit_code != 0 and f"seal {second.id}" in result.output and "changed after sealing" in result.output
    assert "1 earlier blocks are intact" in result.output


def test_a_deleted_or_inserted_event_is_found(app, coach_api, factory, coach):
    audit_some(coach_api, factory, coach)
    seal(app)
    with app.app_context():
        first_id = db.session.scalar(sa.select(sa.func.min(AuditEvent.id)))
    tamper(app, f"DELETE FROM audit_events WHERE id = {first_id}")
    result = verify(app)
    assert result.exit_code != 0 and "deleted or inserted" in result.output


def test_a_forged_seal_breaks_the_chain(app, coach_api, factory, coach):
    audit_some(coach_api, factory, coach)
    seal(app)
    tamper(app, "UPDATE audit_seals SET digest = '" + "f" * 64 + "'")
    assert verify(app).exit_code != 0
