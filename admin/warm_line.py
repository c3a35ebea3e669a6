"""The warm line for supervisors and admins: who takes calls and the calls now (refreshed in place), today's and
the last 7 days' figures with a chart, each coach's rings, missed calls and their callbacks, the hours and the
open/closed override."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from admin.actions import panel_action
from admin.core import LEADS, blueprint, roles
from admin.patients import field_messages, in_programme_time, page_number
from backend.common.errors import InvalidError
from backend.programs.hours import WEEKDAYS
from backend.voice import figures
from backend.voice import service as voice
from backend.voice.schemas import LineOverrideSchema

MISSED_PAGE_SIZE = 20
STATE_TEXT = {"free": "Free", "ringing": "Ringing", "on_call": "On a call", "away": "Away"}
# The chart's geometry (SVG user units): one group of two bars per day.
CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM, GROUP, BAR = 560, 220, 24, 40, 80, 26


def _live(board: dict) -> dict:
    """Name the coach on each live call (from the on-shift board; a coach off shift is just 'a coach')."""
    names = {row["coach_id"]: row["name"] for row in board["coaches"]}
    calls = [{**call, "coach_name": names.get(call["coach_id"], "a coach") if call["coach_id"] else None}
             for call in board["calls"]]
    return {"calls": calls, "coaches": board["coaches"]}


def chart(days: list[dict]) -> dict:
    """Bars for answered and missed calls per day, scaled to the busiest bar, with their labels."""
    peak = max([1] + [max(d["answered"], d["missed"]) for d in days])
    room = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    base = CHART_HEIGHT - CHART_BOTTOM
    groups = []
    for index, day in enumerate(days):
        left = 20 + index * GROUP
        bars = []
        for offset, key in ((0, "answered"), (BAR + 4, "missed")):
            height = round(room * day[key] / peak)
            bars.append({"key": key, "value": day[key], "x": left + offset, "y": base - height, "height": height,
                         "label_x": left + offset + BAR // 2, "label_y": base - height - 5})
        groups.append({"bars": bars, "label": day["day"].strftime("%a %d"), "label_x": left + BAR + 2})
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "base": base, "bar": BAR, "groups": groups}


def _coach_rows(today: list[dict], week: list[dict]) -> list[dict]:
    """Each coach's rings answered and missed today and over the last 7 days (which include today)."""
    by_id = {row["coach_id"]: row for row in today}
    return [{"coach_id": row["coach_id"], "name": row["name"], "week_answered": row["answered"],
             "week_missed": row["missed"], "today_answered": by_id.get(row["coach_id"], {}).get("answered", 0),
             "today_missed": by_id.get(row["coach_id"], {}).get("missed", 0)} for row in week]


def _form_of(state: dict) -> dict:
    """The override form as the line stands: its state and, in the programme's time, until when."""
    settings = state["settings"]
    until = settings.override_until if settings.override else None
    return {"state": settings.override or "", "until": in_programme_time(until, "%Y-%m-%dT%H:%M") if until else ""}


def _page(form: dict | None = None, errors: dict | None = None, status: int = 200):
    page = page_number()
    state = voice.warm_line_state(current_user)
    week = figures.last_days(current_user)
    today = voice.today(current_user)
    missed, total = figures.missed_calls(current_user, page, MISSED_PAGE_SIZE)
    return render_template(
        "admin/warm_line.html", live=_live(voice.live(current_user)), today=today, week=week,
        chart=chart(week["days"]), coaches=_coach_rows(today["per_coach"], week["per_coach"]), missed=missed,
        missed_total=total, page=page, pages=max(1, -(-total // MISSED_PAGE_SIZE)), state=state, line=state["settings"],
        weekdays=WEEKDAYS["en"], form=form or _form_of(state), errors=errors or {}, local=in_programme_time,
        state_text=STATE_TEXT), status


@blueprint.get("/warm-line")
@roles(*LEADS)
@panel_action()
def warm_line():
    """The warm line now, today and over the last 7 days, missed calls and their callbacks, hours and override."""
    return _page()


@blueprint.get("/warm-line/live")
@roles(*LEADS)
@panel_action()
def warm_line_live():
    """The live section alone, refreshed every 5 seconds: no patient in it, so no audit row per refresh."""
    return render_template("admin/_warm_line_live.html", live=_live(figures.live_board(current_user)),
                           state_text=STATE_TEXT)


def _until_in_utc_text(typed: str) -> str | None:
    """The form's local date and time (the programme's clock) as an ISO time with its offset; text that is not
    a date and time goes to the schema as typed, which says what is wrong with it."""
    if not typed:
        return None
    try:
        moment = datetime.fromisoformat(typed)
    except ValueError:
        return typed
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(current_user.program.timezone))
    return moment.isoformat()


@blueprint.post("/warm-line/override")
@roles(*LEADS)
@panel_action(on_error="admin.warm_line")
def warm_line_override():
    """Open the line now, close it now (until a time or until cleared), or follow the hours again."""
    form = {"state": request.form.get("state", "").strip(), "until": request.form.get("until", "").strip()}
    try:
        data = LineOverrideSchema().load({"state": form["state"] or None, "until": _until_in_utc_text(form["until"])})
        state = voice.set_override(current_user, data["state"], data["until"])
    except ValidationError as exc:
        return _page(form, field_messages(exc.messages), 422)
    except InvalidError as exc:  # a rule about one field (the end time has passed): shown by that field
        if not exc.errors:
            raise
        return _page(form, field_messages(exc.errors), 422)
    flash(_said(state), "info")
    return redirect(url_for("admin.warm_line"))


def _said(state: dict) -> str:
    line = state["settings"]
    if not line.override:
        return "The line follows its hours again: " + ("open now." if state["open_now"] else "closed now.")
    until = f" until {in_programme_time(line.override_until)}" if line.override_until else " until you clear it"
    return f"The line is {line.override} now{until}."
