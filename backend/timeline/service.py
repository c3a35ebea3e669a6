"""Build a page of the timeline with one UNION query, then one load per kind."""

from __future__ import annotations

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.pagination import page_total, pagination_header
from backend.database import db
from backend.patients.access import get_patient_for
from backend.timeline.sources import SOURCES
from backend.users.models import User


def patient_timeline(actor: User, patient_id: int, page: int, page_size: int, kinds: list[str] | None = None,
                     when: str = "past", include_cancelled: bool = False) -> tuple[list[dict], dict]:
    """A page of the patient's timeline and the pagination header: what happened, newest first, or
    (`when="upcoming"`) the texts still to go out, soonest first."""
    patient = get_patient_for(actor, patient_id)
    wanted = [s for s in SOURCES if not kinds or s.kind in kinds]
    if when == "upcoming":
        parts = [(s, s.upcoming()) for s in wanted if s.upcoming is not None]
    else:
        parts = [(s, s.happened(include_cancelled)) for s in wanted]
    sources = [s for s, _ in parts]
    if not parts:
        return [], pagination_header(0, page, page_size)
    union = sa.union_all(*(
        sa.select(sa.literal(s.kind, sa.String).label("kind"), s.model.id.label("id"),
                  s.occurred_at.label("occurred_at"))
        .where(s.model.patient_id == patient.id, *conditions)
        for s, conditions in parts
    )).subquery()
    order = ((union.c.occurred_at.asc(), union.c.kind, union.c.id) if when == "upcoming"
             else (union.c.occurred_at.desc(), union.c.kind, union.c.id.desc()))
    rows = db.session.execute(
        sa.select(union.c.kind, union.c.id, union.c.occurred_at, sa.func.count().over())
        .order_by(*order).limit(page_size).offset((page - 1) * page_size)
    ).all()
    total = page_total(rows, page, lambda: sa.select(sa.func.count()).select_from(union))
    by_kind = {s.kind: s for s in sources}
    loaded: dict[tuple[str, int], object] = {}
    for kind in {row.kind for row in rows}:
        source = by_kind[kind]
        ids = [row.id for row in rows if row.kind == kind]
        for obj in db.session.scalars(sa.select(source.model).where(source.model.id.in_(ids))):
            loaded[(kind, obj.id)] = obj
    entries = [
        {"kind": row.kind, "id": row.id, "occurred_at": row.occurred_at,
         "data": by_kind[row.kind].schema.dump(loaded[(row.kind, row.id)])}
        for row in rows if (row.kind, row.id) in loaded
    ]
    audit.record("read", "timeline", actor=actor, patient_id=patient.id, resource_id=patient.id)
    return entries, pagination_header(total, page, page_size)
