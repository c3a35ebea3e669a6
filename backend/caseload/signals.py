"""Burnout signals: a level per coach and the reasons that raised it.

Computed for a whole team in a fixed number of queries, whatever its size.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from backend.caseload.caps import utilisation
from backend.contacts.models import Contact, ContactKind, ContactOutcome
from backend.database import db, utcnow
from backend.programs.models import CaseloadPolicy
from backend.shifts.models import Shift
from backend.wellness.models import SupervisionSession, WellnessCheckIn

WINDOW = timedelta(days=7)
STREAK_LOOKBACK_DAYS = 14


def reason(code: str, severity: str, message: str) -> dict:
    return {"code": code, "severity": severity, "message": message}


def level_of(reasons: list[dict]) -> str:
    """high with any high reason or three watch reasons; watch with one; ok otherwise."""
    watch = sum(1 for r in reasons if r["severity"] == "watch")
    if any(r["severity"] == "high" for r in reasons) or watch >= 3:
        return "high"
    return "watch" if watch else "ok"


def _after_hours_and_crisis(coach_ids: list[int], since: datetime,
                            max_shift: timedelta) -> dict[int, tuple[int, int, int]]:
    # A shift covering a contact of the window started at most one (auto-closed) shift length before
    # the window: the lower bound keeps the lookup on the index however long the shift history grows.
    during_shift = sa.exists().where(
        Shift.coach_id == Contact.coach_id, Shift.started_at <= Contact.occurred_at,
        Shift.started_at >= since - max_shift,
        sa.or_(Shift.ended_at.is_(None), Shift.ended_at >= Contact.occurred_at))
    rows = db.session.execute(
        sa.select(Contact.coach_id,
                  sa.func.count().filter(~during_shift),
                  sa.func.count().filter(Contact.outcome == ContactOutcome.CRISIS),
                  sa.func.count().filter(~during_shift, Contact.kind == ContactKind.PHONE,
                                         Contact.outcome == ContactOutcome.REACHED))
        .where(Contact.coach_id.in_(coach_ids), Contact.occurred_at >= since)
        .group_by(Contact.coach_id)).all()
    return {coach_id: (after, crisis, calls) for coach_id, after, crisis, calls in rows}


def _busiest_phone_day(coach_ids: list[int], since: datetime, tz_name: str) -> dict[int, int]:
    """The most phone minutes each coach spent on one day of the window (calls log their length)."""
    day = _local_day(Contact.occurred_at, tz_name)
    per_day = (sa.select(Contact.coach_id.label("coach_id"),
                         sa.func.sum(sa.func.coalesce(Contact.duration_minutes, 0)).label("minutes"))
               .where(Contact.coach_id.in_(coach_ids), Contact.occurred_at >= since,
                      Contact.kind == ContactKind.PHONE)
               .group_by(Contact.coach_id, day).subquery())
    return dict(db.session.execute(sa.select(per_day.c.coach_id, sa.func.max(per_day.c.minutes))
                                   .group_by(per_day.c.coach_id)).all())


def _local_day(column, tz_name: str):
    """SQL for the calendar day of a timestamp in the programme's time zone."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.date(sa.func.timezone(tz_name, column))
    offset = int(utcnow().astimezone(zoneinfo.ZoneInfo(tz_name)).utcoffset().total_seconds() // 60)
    return sa.func.date(column, f"{offset:+d} minutes")


def _longest_streaks(coach_ids: list[int], tz_name: str) -> dict[int, int]:
    since = utcnow() - timedelta(days=STREAK_LOOKBACK_DAYS)
    day = _local_day(Contact.occurred_at, tz_name)
    rows = db.session.execute(
        sa.select(Contact.coach_id, day).where(Contact.coach_id.in_(coach_ids), Contact.occurred_at >= since)
        .group_by(Contact.coach_id, day)).all()
    days: dict[int, set[date]] = {}
    for coach_id, value in rows:
        days.setdefault(coach_id, set()).add(value if isinstance(value, date) else date.fromisoformat(value))
    streaks = {}
    for coach_id, worked in days.items():
        best = 0
        for d in worked:
            if d - timedelta(days=1) not in worked:
                length = 1
                while d + timedelta(days=length) in worked:
                    length += 1
                best = max(best, length)
        streaks[coach_id] = best
    return streaks


def last_supervision(coach_ids: list[int]) -> dict[int, datetime]:
    return dict(db.session.execute(
        sa.select(SupervisionSession.coach_id, sa.func.max(SupervisionSession.held_at))
        .where(SupervisionSession.coach_id.in_(coach_ids)).group_by(SupervisionSession.coach_id)).all())


def last_check_ins(coach_ids: list[int]) -> dict[int, WellnessCheckIn]:
    latest = (sa.select(sa.func.max(WellnessCheckIn.id)).where(WellnessCheckIn.coach_id.in_(coach_ids))
              .group_by(WellnessCheckIn.coach_id))
    return {c.coach_id: c for c in db.session.scalars(sa.select(WellnessCheckIn).where(WellnessCheckIn.id.in_(latest)))}


def team_signals(coaches: list, loads: dict[int, tuple[int, int]], caps: dict[int, int],
                 policy: CaseloadPolicy, tz_name: str) -> dict[int, dict]:
    """Level, reasons, last check-in and last supervision for each coach."""
    ids = [c.id for c in coaches]
    if not ids:
        return {}
    now = utcnow()
    activity = _after_hours_and_crisis(ids, now - WINDOW, timedelta(hours=policy.max_shift_hours + 1))
    streaks = _longest_streaks(ids, tz_name)
    phone_days = _busiest_phone_day(ids, now - WINDOW, tz_name)
    supervision = last_supervision(ids)
    check_ins = last_check_ins(ids)
    result = {}
    for coach in coaches:
        reasons = []
        load, cap = loads[coach.id][0], caps[coach.id]
        pct = 100 * utilisation(load, cap)
        if pct > 100:
            reasons.append(reason("over_cap", "high", f"Caseload at {pct:.0f}% of the cap, through overrides."))
        elif pct >= policy.watch_utilisation_pct:
            reasons.append(reason("near_cap", "watch", f"Caseload at {pct:.0f}% of the cap."))
        after_hours, crisis, after_hours_calls = activity.get(coach.id, (0, 0, 0))
        if after_hours >= policy.after_hours_contacts:
            reasons.append(reason("after_hours_contacts", "watch",
                                  f"{after_hours} contacts outside their shifts in the last 7 days."))
        if after_hours_calls >= policy.after_hours_calls:
            reasons.append(reason("after_hours_calls", "watch",
                                  f"{after_hours_calls} calls outside their shifts in the last 7 days."))
        minutes = phone_days.get(coach.id) or 0
        if minutes >= policy.phone_minutes_per_day:
            reasons.append(reason("phone_minutes", "watch",
                                  f"{minutes} minutes on the phone in one day this week."))
        if crisis >= policy.crisis_contacts:
            reasons.append(reason("crisis_contacts", "watch", f"{crisis} crisis contacts in the last 7 days."))
        streak = streaks.get(coach.id, 0)
        if streak >= policy.consecutive_contact_days:
            reasons.append(reason("no_days_off", "watch", f"Contacts on {streak} consecutive days without a break."))
        held = supervision.get(coach.id)
        if held is None or held < now - timedelta(days=policy.supervision_gap_days):
            since = "ever" if held is None else f"in {(now - held).days} days"
            reasons.append(reason("no_supervision", "watch", f"No supervision session {since}."))
        check_in = check_ins.get(coach.id)
        if check_in is not None and check_in.stress >= policy.stress_threshold:
            reasons.append(reason("high_stress", "watch",
                                  f"Reported stress {check_in.stress} of 5 at the last check-in."))
        if check_in is not None and check_in.wants_supervisor_contact:
            reasons.append(reason("asked_for_support", "watch", "Asked a supervisor to get in touch."))
        result[coach.id] = {"level": level_of(reasons), "reasons": reasons,
                            "last_check_in": check_in, "last_supervision_at": held}
    return result
