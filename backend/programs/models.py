"""Programmes, the phone numbers each owns at Twilio, each one's caseload and wellness policy and warm-line hours."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TimestampMixin, db


class Program(TimestampMixin, db.Model):
    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="America/Chicago")
    # The number patients are told to call or text (templates, HELP replies).
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    # Texts go out through this Twilio Messaging Service when set, else from the programme's SMS number.
    messaging_service_sid: Mapped[str | None] = mapped_column(sa.String(34), unique=True)
    # Admins always sign in to the panel with a second factor; supervisors too when the programme says so.
    require_mfa_for_supervisors: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class ProgramNumber(TimestampMixin, db.Model):
    """A Twilio number that belongs to one programme: texts and calls to it are that programme's alone."""

    __tablename__ = "program_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    sms: Mapped[bool] = mapped_column(default=True)
    voice: Mapped[bool] = mapped_column(default=True)


class CaseloadPolicy(TimestampMixin, db.Model):
    """A programme's caps, acuity weights and burnout thresholds.

    Weights are kept in hundredths (50 = 0.5) so that loads add up exactly.
    """

    __tablename__ = "caseload_policies"

    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"), primary_key=True)
    default_cap: Mapped[int] = mapped_column(default=25)
    weight_low: Mapped[int] = mapped_column(default=50)
    weight_standard: Mapped[int] = mapped_column(default=100)
    weight_high: Mapped[int] = mapped_column(default=150)
    max_shift_hours: Mapped[int] = mapped_column(default=12)
    watch_utilisation_pct: Mapped[int] = mapped_column(default=90)
    after_hours_contacts: Mapped[int] = mapped_column(default=5)
    crisis_contacts: Mapped[int] = mapped_column(default=3)
    consecutive_contact_days: Mapped[int] = mapped_column(default=6)
    supervision_gap_days: Mapped[int] = mapped_column(default=30)
    stress_threshold: Mapped[int] = mapped_column(default=4)
    # Warm-line load: calls taken or placed outside the coach's shifts in 7 days, and phone minutes on one day.
    after_hours_calls: Mapped[int] = mapped_column(default=3, server_default="3")
    phone_minutes_per_day: Mapped[int] = mapped_column(default=240, server_default="240")
    # An open task this many hours past due escalates (once) to the coach's supervisor.
    escalate_overdue_after_hours: Mapped[int] = mapped_column(default=24, server_default="24")


class WarmLine(TimestampMixin, db.Model):
    """A programme's warm-line settings: hours per weekday in its time zone, override, ringing and voicemail rules."""

    __tablename__ = "warm_lines"

    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"), primary_key=True)
    # [{"weekday": 0-6 (Monday 0), "opens": "HH:MM", "closes": "HH:MM"}, ...]; closes "24:00" is midnight.
    hours: Mapped[list] = mapped_column(sa.JSON, default=list)
    override: Mapped[str | None] = mapped_column(sa.String(10))  # "open" | "closed" | None (follow the hours)
    override_until: Mapped[datetime | None]
    # Said to callers; the number a coach's crisis transfer dials (E.164) may differ: 988 routes from +1 800 273 8255.
    crisis_number: Mapped[str] = mapped_column(sa.String(20), default="988")
    crisis_transfer_number: Mapped[str] = mapped_column(sa.String(20), default="+18002738255")
    ring_timeout_seconds: Mapped[int] = mapped_column(default=15)
    max_coaches: Mapped[int] = mapped_column(default=3)
    max_wait_seconds: Mapped[int] = mapped_column(default=60)
    transcribe_voicemail: Mapped[bool] = mapped_column(default=False)
    recording_retention_days: Mapped[int] = mapped_column(default=30)
    callback_due_minutes: Mapped[int] = mapped_column(default=30)
    callbacks_for_voicemail_only: Mapped[bool] = mapped_column(default=False)
