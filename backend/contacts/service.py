"""Contact rules: log a touch with a patient, list a patient's contacts."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.errors import field_error
from backend.contacts.models import Contact, ContactKind
from backend.database import db, utcnow
from backend.patients.access import get_patient_for
from backend.users.models import User

CLOCK_SKEW = timedelta(minutes=5)


def log_contact(actor: User, patient_id: int, data: dict) -> Contact:
    """Record a contact by the actor with a patient they may see."""
    patient = get_patient_for(actor, patient_id)
    occurred_at = data.get("occurred_at") or utcnow()
    if occurred_at > utcnow() + CLOCK_SKEW:
        raise field_error("occurred_at", "A contact cannot be in the future.")
    contact = Contact(program_id=patient.program_id, patient_id=patient.id, coach_id=actor.id,
                      **{**data, "occurred_at": occurred_at})
    db.session.add(contact)
    db.session.flush()
    audit.record("create", "contact", actor=actor, patient_id=patient.id, resource_id=contact.id)
    return contact


def list_contacts(actor: User, patient_id: int, kind: ContactKind | None = None) -> sa.Select:
    """A patient's contacts, newest first (a select to paginate); the read is audited."""
    patient = get_patient_for(actor, patient_id)
    audit.record("list", "contact", actor=actor, patient_id=patient.id)
    stmt = sa.select(Contact).where(Contact.patient_id == patient.id)
    if kind is not None:
        stmt = stmt.where(Contact.kind == kind)
    return stmt.order_by(Contact.occurred_at.desc(), Contact.id.desc())
