"""A programme's policies as the rules read them: what it set, or the defaults."""

from __future__ import annotations

from backend.database import db
from backend.programs.models import CaseloadPolicy


def column_defaults(model: type) -> dict:
    """A policy model's defaults, read from its columns (the one place they are written)."""
    return {c.name: c.default.arg for c in model.__table__.columns
            if c.default is not None and not callable(c.default.arg)}


def stored_or_default(model: type, program_id: int):
    """The programme's row of a policy model, or an unsaved one holding the defaults."""
    return db.session.get(model, program_id) or model(program_id=program_id, **column_defaults(model))


def policy_for(program_id: int) -> CaseloadPolicy:
    """The programme's caseload and wellness policy, or the defaults when it never changed them."""
    return stored_or_default(CaseloadPolicy, program_id)
