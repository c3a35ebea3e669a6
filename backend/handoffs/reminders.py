"""Appointment reminders for a handoff: the day before at 17:00 and 2 h before, never after it starts."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta

from backend.database import db, utcnow
from backend.handoffs.models import OPEN_STATUSES, Handoff
from backend.messaging import library
from backend.messaging import service as messaging
from backend.messaging.models import Message, MessageDirection, MessageStatus
from backend.messaging.templates import local_time
from backend.patients.models import Patient


def plan_key(handoff: Handoff) -> str:
    return f"handoff:{handoff.id}"


def reminder_times(appointment_at: datetime, timezone: str, now: datetime) -> list[datetime]:
    """17:00 local on the day before, and two hours before; only those still ahead and before the start."""
    zone = zoneinfo.ZoneInfo(timezone)
    local = appointment_at.astimezone(zone)
    day_before = datetime.combine(local.date() - timedelta(days=1), time(17), tzinfo=zone)
    return [t for t in (day_before, appointment_at - timedelta(hours=2)) if now < t < appointment_at]


def reschedule(handoff: Handoff, patient: Patient) -> int:
    """Replace the handoff's pending reminders to match its appointment and status; returns how many."""
    messaging.cancel_pending(patient.id, "appointment_changed", plan_key=plan_key(handoff))
    if handoff.appointment_at is None or handoff.status not in OPEN_STATUSES:
        return 0
    if messaging.text_refusal(patient) is not None:
        return 0
    when = local_time(handoff.appointment_at, patient.timezone, patient.language)
    # The partner's name is left out: the text lands on a lock screen.
    text, version = library.template_text(patient.program_id, "appointment_reminder", patient.language)
    body = library.fill(text, {**messaging.template_variables(patient), "appointment_time": when})
    times = reminder_times(handoff.appointment_at, patient.timezone, utcnow())
    db.session.add_all([
        Message(program_id=patient.program_id, patient_id=patient.id, direction=MessageDirection.OUTBOUND,
                body=body, template_key="appointment_reminder", template_version=version, plan_key=plan_key(handoff),
                scheduled_for=due,
                expires_at=handoff.appointment_at, status=MessageStatus.SCHEDULED)
        for due in times])
    return len(times)


def cancel(handoff: Handoff, patient: Patient) -> None:
    """The handoff closed: its pending reminders will not go out."""
    messaging.cancel_pending(patient.id, "handoff_closed", plan_key=plan_key(handoff))
