"""Partner outcomes ("outcomes bring trust"): what happened to the patients we handed to each partner."""

from __future__ import annotations

import bisect
import statistics
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.spreadsheet import csv_text
from backend.database import db, utcnow
from backend.handoffs.models import FhirTaskStatus, Handoff
from backend.handoffs.transitions import NO_SHOW
from backend.partners.models import Organization
from backend.patients.models import Patient, PatientSource
from backend.users.models import Role, User
from backend.users.service import require_role

ACCEPTED = (FhirTaskStatus.ACCEPTED, FhirTaskStatus.IN_PROGRESS, FhirTaskStatus.COMPLETED)
COLUMNS = ("organization_id", "organization_name", "handoffs", "accepted", "completed", "no_shows", "show_rate",
           "median_days_to_attendance", "inbound_referrals")


def partner_outcomes(actor: User, days: int) -> list[dict]:
    """Per partner, over the last `days`: handoffs, accepted, attended, no-shows, show rate, speed, inbound."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    since = utcnow() - timedelta(days=days)
    orgs = list(db.session.scalars(sa.select(Organization).where(Organization.program_id == actor.program_id)
                                   .order_by(Organization.name, Organization.id)))
    rows = {o.id: {"organization_id": o.id, "organization_name": o.name, "handoffs": 0, "accepted": 0,
                   "completed": 0, "no_shows": 0, "_days": []} for o in orgs}
    for org_id, status, reason, created, completed in db.session.execute(
            sa.select(Handoff.organization_id, Handoff.status, Handoff.status_reason, Handoff.created_at,
                      Handoff.completed_at)
            .where(Handoff.program_id == actor.program_id, Handoff.created_at >= since,
                   Handoff.status != FhirTaskStatus.ENTERED_IN_ERROR)):
        row = rows[org_id]
        row["handoffs"] += 1
        no_show = status == FhirTaskStatus.FAILED and reason == NO_SHOW
        row["accepted"] += status in ACCEPTED or no_show
        row["no_shows"] += no_show
        if status == FhirTaskStatus.COMPLETED:
            row["completed"] += 1
            row["_days"].append((completed - created).total_seconds() / 86400)
    inbound = dict(db.session.execute(
        sa.select(Patient.referring_organization_id, sa.func.count()).where(
            Patient.program_id == actor.program_id, Patient.source == PatientSource.PARTNER,
            Patient.referring_organization_id.is_not(None), Patient.created_at >= since)
        .group_by(Patient.referring_organization_id)).all())
    report = []
    for row in rows.values():
        days_to = row.pop("_days")
        decided = row["completed"] + row["no_shows"]
        row["show_rate"] = round(row["completed"] / decided, 3) if decided else None
        row["median_days_to_attendance"] = round(statistics.median(days_to), 1) if days_to else None
        row["inbound_referrals"] = inbound.get(row["organization_id"], 0)
        report.append(row)
    audit.record("report", "partner_outcomes", actor=actor, details={"days": days})
    return report


def as_csv(report: list[dict]) -> str:
    """The report as CSV (no patient names: there are none in it; partner names cannot act as formulas)."""
    return csv_text(report, COLUMNS)


def _month_starts(now, timezone: str, months: int) -> list:
    """The first moment (programme clock) of each of the last `months` months, oldest first."""
    local = now.astimezone(ZoneInfo(timezone))
    year, month = local.year, local.month
    starts = []
    for _ in range(months):
        starts.append(datetime(year, month, 1, tzinfo=local.tzinfo))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def show_rates_by_month(actor: User, months: int = 12) -> list[dict]:
    """Over the programme's last `months` calendar months (by handoff date, programme clock), oldest first: handoffs
    attended, no-shows and the show rate (attended of decided; None in a month with neither)."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    starts = _month_starts(utcnow(), actor.program.timezone, months)
    rows = [{"month": start.strftime("%Y-%m"), "label": start.strftime("%b %Y"), "completed": 0, "no_shows": 0}
            for start in starts]
    for status, reason, created in db.session.execute(
            sa.select(Handoff.status, Handoff.status_reason, Handoff.created_at)
            .where(Handoff.program_id == actor.program_id, Handoff.created_at >= starts[0],
                   Handoff.status.in_((FhirTaskStatus.COMPLETED, FhirTaskStatus.FAILED)))):
        index = bisect.bisect_right(starts, created.replace(tzinfo=created.tzinfo or UTC)) - 1
        if status == FhirTaskStatus.COMPLETED:
            rows[index]["completed"] += 1
        elif reason == NO_SHOW:
            rows[index]["no_shows"] += 1
    for row in rows:
        decided = row["completed"] + row["no_shows"]
        row["show_rate"] = round(row["completed"] / decided, 3) if decided else None
    return rows
