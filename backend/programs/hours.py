"""When the warm line is open: hours per weekday in the programme's time zone, and a supervisor's override."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.database import db, utcnow
from backend.programs.models import Program, WarmLine

DEFAULT_HOURS = [{"weekday": day, "opens": "08:00", "closes": "22:00"} for day in range(7)]
WEEKDAYS = {"en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
            "es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"]}


DEFAULTS = {"override": None, "override_until": None, "crisis_number": "988",
            "crisis_transfer_number": "+18002738255", "ring_timeout_seconds": 15, "max_coaches": 3,
            "max_wait_seconds": 60, "transcribe_voicemail": False, "recording_retention_days": 30,
            "callback_due_minutes": 30, "callbacks_for_voicemail_only": False}


def line_for(program_id: int) -> WarmLine:
    """The programme's warm-line settings; the defaults (not stored) until a supervisor sets them."""
    return db.session.get(WarmLine, program_id) or WarmLine(
        program_id=program_id, hours=[dict(h) for h in DEFAULT_HOURS], **DEFAULTS)


def stored_line(program_id: int) -> WarmLine:
    """The programme's settings row, created with the defaults on the first change."""
    line = db.session.get(WarmLine, program_id)
    if line is None:
        line = line_for(program_id)
        db.session.add(line)
        db.session.flush()
    return line


def _parse(value: str) -> time | None:
    return None if value == "24:00" else time.fromisoformat(value)


def _windows(line: WarmLine, day: datetime) -> list[tuple[datetime, datetime]]:
    """The opening windows that start on `day`'s local date, as aware local datetimes."""
    result = []
    for slot in line.hours:
        if slot["weekday"] != day.weekday():
            continue
        opens = datetime.combine(day.date(), _parse(slot["opens"]) or time(0), tzinfo=day.tzinfo)
        closes_at = _parse(slot["closes"])
        closes = (datetime.combine(day.date(), closes_at, tzinfo=day.tzinfo) if closes_at
                  else datetime.combine(day.date() + timedelta(days=1), time(0), tzinfo=day.tzinfo))
        if closes <= opens:  # an overnight slot, e.g. 20:00-02:00
            closes += timedelta(days=1)
        result.append((opens, closes))
    return result


def scheduled_open(line: WarmLine, tz: str, now: datetime) -> bool:
    """Open by the hours alone (a slot that started yesterday and runs past midnight counts)."""
    local = now.astimezone(ZoneInfo(tz))
    return any(opens <= local < closes for day in (local - timedelta(days=1), local)
               for opens, closes in _windows(line, day))


def is_open(program: Program, now: datetime | None = None) -> bool:
    """Whether the line takes calls now: the override while it lasts, else the hours."""
    now = now or utcnow()
    line = line_for(program.id)
    if line.override and (line.override_until is None or line.override_until > now):
        return line.override == "open"
    return scheduled_open(line, program.timezone, now)


def next_opening(program: Program, now: datetime | None = None) -> datetime | None:
    """When the line next opens (now if it is open); None with no hours, or while closed until further notice."""
    now = now or utcnow()
    if is_open(program, now):
        return now
    line = line_for(program.id)
    if line.override == "closed" and line.override_until is None:
        return None  # closed until a supervisor opens it again
    local = now.astimezone(ZoneInfo(program.timezone))
    windows = sorted(window for offset in range(-1, 8) for window in _windows(line, local + timedelta(days=offset)))
    closed_until = (line.override_until.astimezone(local.tzinfo)
                    if line.override == "closed" and line.override_until and line.override_until > now else None)
    for opens, closes in windows:
        start = max(opens, closed_until) if closed_until else opens
        if start > local and start < closes:  # a "closed until" that ends inside a window reopens the line then
            return start.astimezone(now.tzinfo)
    return None


def spoken_hours(line: WarmLine, language: str) -> str:
    """The hours as a caller hears them ("Monday 8:00 to 22:00, ..."), grouped where days share hours."""
    names = WEEKDAYS.get(language, WEEKDAYS["en"])
    joiner = " a " if language == "es" else " to "
    if not line.hours:
        return ""
    same = {(s["opens"], s["closes"]) for s in line.hours}
    if len(same) == 1 and sorted(s["weekday"] for s in line.hours) == list(range(7)):
        opens, closes = same.pop()
        every = "todos los días, de " if language == "es" else "every day, "
        return f"{every}{opens}{joiner}{closes}"
    return ", ".join(f"{names[s['weekday']]} {s['opens']}{joiner}{s['closes']}"
                     for s in sorted(line.hours, key=lambda s: (s["weekday"], s["opens"])))

