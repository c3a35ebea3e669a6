"""Warm-line figures for supervisors: the live board without an audit row per refresh, the last days answered
against missed, each coach's rings, and the missed calls with the state of their callback tasks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend.common.pagination import page_of
from backend.database import db, utcnow
from backend.programs.models import Program
from backend.tasks import service as tasks_service
from backend.tasks.models import Task
from backend.users.models import Role, User
from backend.users.service import require_role
from backend.voice import service as voice
from backend.voice.choice import on_shift_coaches
from backend.voice.models import (
    OPEN_CALL_STATUSES,
    Call,
    CallDirection,
    CallLeg,
    CallOutcome,
    LegKind,
    LegOutcome,
    LineState,
)

# Inbound calls nobody took in person (the set the app lists as missed calls to call back).
UNANSWERED = (CallOutcome.MISSED, CallOutcome.ABANDONED, CallOutcome.VOICEMAIL, CallOutcome.AFTER_HOURS)


def live_board(actor: User) -> dict:
    """`service.live` without its audit row or any write (it names no patient): for a refresh every few seconds."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    now = utcnow()
    calls = list(db.session.scalars(sa.select(Call).where(
        Call.program_id == actor.program_id, Call.status.in_(OPEN_CALL_STATUSES)).order_by(Call.started_at)))
    coaches = on_shift_coaches(actor.program_id)
    states = {s.user_id: s for s in db.session.scalars(sa.select(LineState).where(
        LineState.user_id.in_([c.id for c in coaches])))}
    ringing = set(db.session.scalars(sa.select(CallLeg.user_id).where(
        CallLeg.call_id.in_([c.id for c in calls]), CallLeg.ended_at.is_(None), CallLeg.answered_at.is_(None))))
    board = []
    for coach in coaches:
        # A coach with no line row yet takes calls and is on none (the row service.live would create).
        state = states.get(coach.id)
        taking, busy = (state.taking_calls, state.busy_call_id) if state else (True, None)
        board.append({"coach_id": coach.id, "name": coach.full_name, "call_id": busy,
                      "state": ("away" if not taking and busy is None else "ringing" if coach.id in ringing
                                else "on_call" if busy else "free")})
    return {
        "calls": [{"id": c.id, "direction": c.direction, "status": c.status, "coach_id": c.coach_id,
                   "known_caller": c.patient_id is not None, "started_at": c.started_at,
                   "seconds": int((now - c.started_at).total_seconds())} for c in calls],
        "coaches": board,
    }


def _first_day(actor: User, days: int) -> tuple[ZoneInfo, date, datetime]:
    """The programme's zone, the first local day of the last `days` days (today the last) and its start in UTC."""
    tz = ZoneInfo(db.session.get(Program, actor.program_id).timezone)
    first = utcnow().astimezone(tz).date() - timedelta(days=days - 1)
    return tz, first, datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)


def last_days(actor: User, days: int = 7) -> dict:
    """Inbound calls per programme day over the last `days` days, by outcome, and each coach's rings (counts only)."""
    # "missed": nobody answered and no message was left, or the caller hung up while coaches were rung.
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    tz, first, since = _first_day(actor, days)
    rows = {first + timedelta(days=n): {"day": first + timedelta(days=n), "calls": 0, "answered": 0, "missed": 0,
                                        "voicemails": 0, "after_hours": 0} for n in range(days)}
    for started_at, outcome in db.session.execute(sa.select(Call.started_at, Call.outcome).where(
            Call.program_id == actor.program_id, Call.direction == CallDirection.INBOUND, Call.started_at >= since)):
        row = rows.get(started_at.astimezone(tz).date())
        if row is None:  # a call dated after today (a clock moved back): not in these days
            continue
        row["calls"] += 1
        key = {CallOutcome.ANSWERED: "answered", CallOutcome.MISSED: "missed", CallOutcome.ABANDONED: "missed",
               CallOutcome.VOICEMAIL: "voicemails", CallOutcome.AFTER_HOURS: "after_hours"}.get(outcome)
        if key:
            row[key] += 1
    return {"since": since, "days": list(rows.values()), "per_coach": _per_coach(actor, since)}


def _per_coach(actor: User, since: datetime) -> list[dict]:
    """Each coach's rings since `since`: answered (pressed 1) or missed; stopped rings do not count (as `today`)."""
    legs = db.session.execute(
        sa.select(CallLeg.user_id, CallLeg.outcome).join(Call, Call.id == CallLeg.call_id).where(
            Call.program_id == actor.program_id, Call.direction == CallDirection.INBOUND, Call.started_at >= since,
            CallLeg.kind == LegKind.COACH, CallLeg.user_id.is_not(None), CallLeg.outcome.is_not(None),
            CallLeg.outcome != LegOutcome.CANCELLED)).all()
    names = dict(db.session.execute(sa.select(User.id, User.full_name).where(
        User.id.in_({user_id for user_id, _ in legs}))).all())
    rows: dict[int, dict] = {}
    for user_id, outcome in legs:
        row = rows.setdefault(user_id, {"coach_id": user_id, "name": names.get(user_id), "answered": 0,
                                        "missed": 0})
        row["answered" if outcome == LegOutcome.ACCEPTED else "missed"] += 1
    return sorted(rows.values(), key=lambda r: (-r["answered"], r["missed"], (r["name"] or "").lower()))


def missed_calls(actor: User, page: int, page_size: int = 20, days: int = 7) -> tuple[list[dict], int]:
    """A page of the last days' calls nobody took, newest first, with their callbacks, and the total (audited)."""
    # Only the last four digits of a caller's number leave this function.
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    _, _, since = _first_day(actor, days)
    calls, total = page_of(sa.select(Call).where(
        Call.program_id == actor.program_id, Call.direction == CallDirection.INBOUND,
        Call.outcome.in_(UNANSWERED), Call.started_at >= since).order_by(Call.started_at.desc(), Call.id.desc()),
        page, page_size)
    voice.audit_calls(actor, calls)
    task_ids = [c.callback_task_id for c in calls if c.callback_task_id]
    tasks = {t.id: t for t in db.session.scalars(sa.select(Task).where(Task.id.in_(task_ids)))} if task_ids else {}
    if tasks:
        tasks_service.audit_task_list(actor, list(tasks.values()))  # flags the overdue ones
    names = dict(db.session.execute(sa.select(User.id, User.full_name).where(
        User.id.in_({t.assignee_id for t in tasks.values()}))).all()) if tasks else {}
    rows = []
    for call in calls:
        task = tasks.get(call.callback_task_id)
        rows.append({
            "id": call.id, "started_at": call.started_at, "outcome": call.outcome, "known_caller": call.caller["known"],
            "number_end": call.external_number[-4:], "voicemail": call.has_voicemail,
            "callback": None if task is None else {
                "task_id": task.id, "state": "overdue" if task.overdue else str(task.status), "due_at": task.due_at,
                "completed_at": task.completed_at, "assignee": names.get(task.assignee_id)},
        })
    return rows, total
