"""The daily caseload snapshot job (idempotent per coach and day)."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime

import sqlalchemy as sa

from backend.caseload.models import CaseloadSnapshot
from backend.caseload.service import programme_rows
from backend.database import db, utcnow
from backend.programs.models import Program


def write_daily_snapshots(now: datetime | None = None) -> int:
    """Write today's snapshot (programme-local day) for every coach that has none yet; returns rows written."""
    now = now or utcnow()
    written = 0
    for program in db.session.scalars(sa.select(Program)):
        day: date = now.astimezone(zoneinfo.ZoneInfo(program.timezone)).date()
        done = set(db.session.scalars(sa.select(CaseloadSnapshot.coach_id).where(
            CaseloadSnapshot.program_id == program.id, CaseloadSnapshot.day == day)))
        for row in programme_rows(program.id):
            if row["coach_id"] in done:
                continue
            db.session.add(CaseloadSnapshot(
                program_id=program.id, coach_id=row["coach_id"], day=day, load=round(row["load"] * 100),
                cap=row["cap"], active_patients=row["active_patients"], level=row["level"],
                reasons=[r["code"] for r in row["reasons"]]))
            written += 1
    return written
