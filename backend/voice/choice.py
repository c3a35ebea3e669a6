"""Who is rung first, and who gets a callback: the patient's own coach, then the least utilised."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend.caseload.caps import cap_of, utilisation
from backend.caseload.policy import loads_for
from backend.database import db, utcnow
from backend.patients.models import Patient
from backend.programs.models import Program
from backend.programs.policies import policy_for
from backend.users.models import Role, User
from backend.voice import lines


def start_of_today(program_id: int) -> datetime:
    """Midnight today in the programme's time zone, in UTC."""
    tz = db.session.get(Program, program_id).timezone
    local = utcnow().astimezone(ZoneInfo(tz))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def coach_order(program_id: int, patient_id: int | None, coaches: list[User]) -> list[User]:
    """The patient's own coach first (continuity), then the least utilised; ties: fewest calls taken today."""
    policy = policy_for(program_id)
    loads = loads_for([c.id for c in coaches], policy)
    taken = lines.answered_today([c.id for c in coaches], start_of_today(program_id))
    own = db.session.scalar(sa.select(Patient.coach_id).where(Patient.id == patient_id)) if patient_id else None
    return sorted(coaches, key=lambda c: (c.id != own, utilisation(loads[c.id][0], cap_of(c, policy)),
                                          taken.get(c.id, 0), c.id))


def on_shift_coaches(program_id: int) -> list[User]:
    """Every active coach on shift now (busy or not)."""
    return list(db.session.scalars(sa.select(User).where(
        User.program_id == program_id, User.role == Role.COACH, User.active.is_(True), User.on_shift.is_(True))
        .order_by(User.id)))
