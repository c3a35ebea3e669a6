"""The one place that decides which patients a caller may see.

Every patient-scoped endpoint loads its patient through `get_patient_for`,
so a patient outside the caller's scope is indistinguishable from a missing one.
"""

from __future__ import annotations

import sqlalchemy as sa

from backend.common.errors import not_found
from backend.database import db
from backend.patients.models import Patient
from backend.users.models import Role, User


def scope_patients(actor: User, stmt: sa.Select | None = None) -> sa.Select:
    """Restrict a patient select to what the actor may see."""
    stmt = sa.select(Patient) if stmt is None else stmt
    stmt = stmt.where(Patient.program_id == actor.program_id)
    if actor.role == Role.COACH:
        stmt = stmt.where(Patient.coach_id == actor.id)
    return stmt


def get_patient_for(actor: User, patient_id: int, *, for_update: bool = False) -> Patient:
    """The patient if the actor may see it; otherwise 404, exactly as for a missing one."""
    stmt = scope_patients(actor).where(Patient.id == patient_id)
    if for_update:
        # Re-read under the row lock even if the session already holds the patient.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    patient = db.session.scalar(stmt)
    if patient is None:
        raise not_found("patient")
    return patient
