"""One coach: caseload, load against cap over time, wellness, supervision, tasks; moving patients to another coach."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from admin.actions import panel_action
from admin.core import SUPERVISOR, blueprint, roles
from admin.forms import flat_errors, found_or_404, refused
from backend.caseload import assignment
from backend.caseload import service as caseload_service
from backend.caseload.schemas import BulkAssignmentRequestSchema
from backend.common.errors import DomainError, NotFoundError
from backend.common.pagination import page_of
from backend.database import utcnow
from backend.tasks import service as task_service
from backend.users.service import get_user_in_program
from backend.voice import service as voice
from backend.wellness import service as wellness
from backend.wellness.schemas import SupervisionSessionSchema

PERIODS = (30, 90)  # days of load-against-cap history a supervisor can look back over
SESSIONS_PER_PAGE = 5


def typed(*names: str) -> dict:
    """What the person typed in these fields, stripped; empty fields left out (the schema says if one is needed)."""
    values = {name: request.form.get(name, "").strip() for name in names}
    return {name: value for name, value in values.items() if value}


def coach_options(targets: list[dict]) -> list[tuple]:
    """A select's options for coaches, each saying shift, load against cap and room left."""
    options = [("", "Choose a coach")]
    for t in targets:
        room = f"room for {t['room']:g}" if t["room"] > 0 else "full"
        options.append((t["coach_id"], f"{t['coach_name']} · {'on shift' if t['on_shift'] else 'off shift'} · "
                                       f"{t['load']:g} of {t['cap']} · {room}"))
    return options


def local_time(tz_name: str):
    """A function showing a UTC moment in the programme's time zone."""
    zone = zoneinfo.ZoneInfo(tz_name)
    return lambda moment: moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""


def line_chart(days: list, series: dict[str, list], start, end, top: float, ticks: list[float]) -> dict:
    """Coordinates for a server-rendered SVG line chart: one polyline and its dots per series, axis labels."""
    width, height, left, right, upper, lower, inset = 640, 220, 44, 12, 12, 28, 10
    span = max((end - start).days, 1)

    def x(day) -> float:  # the first and last days sit `inset` inside the axis, clear of its labels
        return round(left + inset + (day - start).days / span * (width - left - right - 2 * inset), 1)

    def y(value: float) -> float:
        return round(upper + (1 - value / top) * (height - upper - lower), 1)

    lines = {}
    for name, values in series.items():
        dots = [(x(day), y(value)) for day, value in zip(days, values, strict=True) if value is not None]
        lines[name] = {"points": " ".join(f"{px},{py}" for px, py in dots), "dots": dots}
    return {"width": width, "height": height, "left": left, "right": width - right, "bottom": height - lower,
            "lines": lines, "ticks": [(y(t), f"{t:g}") for t in ticks],
            "x_labels": [(x(start), start.isoformat(), "start"), (x(end), end.isoformat(), "end")]}


def load_chart(points: list[dict], days: int) -> dict | None:
    """Load and cap by day over the period (None without snapshots)."""
    if not points:
        return None
    end = utcnow().date()
    top = max(max(p["cap"] for p in points), max(p["load"] for p in points), 1) * 1.1
    return line_chart([p["day"] for p in points], {"load": [p["load"] for p in points],
                                                   "cap": [p["cap"] for p in points]},
                      end - timedelta(days=days), end, top, sorted({0, points[-1]["cap"]}))


def wellness_chart(check_ins: list, tz) -> dict | None:
    """Stress and energy (1-5) at each check-in (None without check-ins)."""
    if not check_ins:
        return None
    days = [c.created_at.astimezone(tz).date() for c in check_ins]
    day = timedelta(days=1)
    start, end = (days[0], days[-1]) if days[-1] > days[0] else (days[0] - day, days[0] + day)
    return line_chart(days, {"stress": [c.stress for c in check_ins], "energy": [c.energy for c in check_ins]},
                      start, end, 5.5, [1, 3, 5])


def _held_at(value: str, tz_name: str) -> str:
    """A datetime-local field is the programme's local time: give the schema an ISO moment with its offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value  # the schema names the field
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(tz_name))
    return moment.isoformat()


def render_coach(coach_id: int, status: int = 200, **form) -> tuple[str, int]:
    """The coach page; a refused form is shown again with what was typed (`form`) and its errors."""
    days = request.args.get("days", type=int)
    days = days if days in PERIODS else 30
    page = max(request.args.get("sessions", type=int) or 1, 1)
    tz_name = current_user.program.timezone
    caseload = caseload_service.coach_caseload(current_user, coach_id)  # audited: the view commits the event
    history = next((s["points"] for s in caseload_service.caseload_history(current_user, days, coach_id)
                    if s["coach_id"] == coach_id), [])
    check_ins = wellness.recent_check_ins(current_user, coach_id)
    sessions, total = page_of(wellness.supervision_sessions(current_user, coach_id), page, SESSIONS_PER_PAGE)
    tasks = task_service.coach_open_tasks(current_user, coach_id)
    targets = [row for row in caseload_service.coach_headroom(current_user) if row["coach_id"] != coach_id]
    now_local = utcnow().astimezone(zoneinfo.ZoneInfo(tz_name)).strftime("%Y-%m-%dT%H:%M")
    return render_template(
        "admin/coach.html", caseload=caseload, days=days, periods=PERIODS, history=history,
        chart=load_chart(history, days), check_ins=check_ins,
        wellness_chart=wellness_chart(check_ins or [], zoneinfo.ZoneInfo(tz_name)),
        sessions=sessions, sessions_page=page, sessions_pages=max(-(-total // SESSIONS_PER_PAGE), 1),
        tasks=tasks, overdue=sum(1 for row in tasks if row["task"].overdue), targets=targets,
        calls=voice.coach_call_counts(current_user, coach_id, days),
        target_options=coach_options(targets),
        local=local_time(tz_name), move=form.get("move", {}), move_errors=form.get("move_errors", {}),
        session_form=form.get("session", {"held_at": now_local, "duration_minutes": "60"}),
        session_errors=form.get("session_errors", {})), status


@blueprint.get("/coaches/<int:coach_id>")
@roles(*SUPERVISOR)
@panel_action(on_error="admin.team")
@found_or_404
def coach(coach_id):
    """A coach's caseload, load against cap over 30 or 90 days, wellness, supervision and open tasks."""
    return render_coach(coach_id)


@blueprint.post("/coaches/<int:coach_id>/reassign")
@roles(*SUPERVISOR)
@panel_action(on_error="admin.team")
@found_or_404
def reassign_patients(coach_id):
    """Move the chosen patients to another coach, all or nothing; over the cap only with a written reason."""
    get_user_in_program(current_user, coach_id)  # another programme's coach: the 404 page, nothing moved
    move = {"patient_ids": request.form.getlist("patient_ids"), **typed("coach_id", "override_reason")}
    try:
        data = BulkAssignmentRequestSchema().load(move)
    except ValidationError as exc:
        return render_coach(coach_id, 422, move=move, move_errors=flat_errors(exc.messages))
    try:
        report = assignment.bulk_assign(current_user, data["patient_ids"], data["coach_id"],
                                        data.get("override_reason"))
    except NotFoundError:
        raise
    except DomainError as exc:
        errors, status = refused(exc, "assign", "patient")
        if "results" in exc.extra:
            errors = {"patient_ids": [_why_refused(exc.extra)]}
        return render_coach(coach_id, status, move=move, move_errors=errors)
    moved = [row for row in report if row["result"] == "assigned"]
    overridden = sum(1 for row in moved if row.get("override"))
    flash(f"Moved {len(moved)} patient{'s' if len(moved) != 1 else ''}."
          + (f" {overridden} over the cap, with your reason on record." if overridden else ""), "info")
    return redirect(url_for("admin.coach", coach_id=coach_id))


def _why_refused(extra: dict) -> str:
    over = sum(1 for row in extra["results"] if row.get("error") == "caseload_cap_reached")
    other = sum(1 for row in extra["results"] if row["result"] == "refused") - over
    parts = []
    if over:
        parts.append(f"The coach carries {extra['load']:g} of a cap of {extra['cap']}: {over} of these patients "
                     "would take them over it. Give a reason (10 characters or more) to override the cap.")
    if other:
        parts.append(f"{other} cannot be moved (closed, or no longer in your programme).")
    return " ".join(parts)


@blueprint.post("/coaches/<int:coach_id>/supervision")
@roles(*SUPERVISOR)
@panel_action(on_error="admin.team")
@found_or_404
def record_supervision(coach_id):
    """Record a supervision session with the coach: when, how long, notes, one follow-up per line."""
    get_user_in_program(current_user, coach_id)
    session = {name: request.form.get(name, "") for name in ("held_at", "duration_minutes", "notes", "follow_ups")}
    follow_ups = [line.strip() for line in session["follow_ups"].splitlines() if line.strip()]
    raw = {"held_at": _held_at(session["held_at"].strip(), current_user.program.timezone),
           "duration_minutes": session["duration_minutes"].strip(),
           "notes": session["notes"].strip() or None, "follow_ups": follow_ups}
    try:
        data = SupervisionSessionSchema().load(raw)
        wellness.record_supervision(current_user, coach_id, data)
    except ValidationError as exc:
        return render_coach(coach_id, 422, session=session, session_errors=flat_errors(exc.messages))
    except NotFoundError:
        raise
    except DomainError as exc:
        errors, status = refused(exc, "create", "supervision_session", resource_id=coach_id)
        return render_coach(coach_id, status, session=session, session_errors=errors)
    flash("Supervision session recorded.", "info")
    return redirect(url_for("admin.coach", coach_id=coach_id, _anchor="supervision"))
