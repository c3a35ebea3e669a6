"""A programme's caseload policy and the weighted load of coaches."""

from __future__ import annotations

import sqlalchemy as sa

from backend.database import db
from backend.patients.models import OPEN_STATUSES, Acuity, Patient
from backend.programs.models import CaseloadPolicy


def weight_of(policy: CaseloadPolicy, acuity: Acuity) -> int:
    """A patient's weight in hundredths."""
    return {Acuity.LOW: policy.weight_low, Acuity.STANDARD: policy.weight_standard,
            Acuity.HIGH: policy.weight_high}[Acuity(acuity)]


def weight_expression(policy: CaseloadPolicy):
    """SQL for a patient's weight in hundredths."""
    return sa.case(
        (Patient.acuity == Acuity.LOW, policy.weight_low),
        (Patient.acuity == Acuity.HIGH, policy.weight_high),
        else_=policy.weight_standard,
    )


def loads_for(coach_ids: list[int], policy: CaseloadPolicy) -> dict[int, tuple[int, int]]:
    """Weighted load (hundredths) and count of active patients per coach, in one query."""
    if not coach_ids:
        return {}
    rows = db.session.execute(
        sa.select(Patient.coach_id, sa.func.coalesce(sa.func.sum(weight_expression(policy)), 0), sa.func.count())
        .where(Patient.coach_id.in_(coach_ids), Patient.status.in_(OPEN_STATUSES))
        .group_by(Patient.coach_id)
    ).all()
    found = {coach_id: (int(load), count) for coach_id, load, count in rows}
    return {coach_id: found.get(coach_id, (0, 0)) for coach_id in coach_ids}
