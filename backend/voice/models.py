"""Warm-line settings, each coach's line state, calls and their legs."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TimestampMixin, db, str_enum, utcnow


class CallDirection(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallStatus(enum.StrEnum):
    RINGING = "ringing"          # looking for a coach (inbound) or ringing the coach / patient (outbound)
    IN_PROGRESS = "in_progress"
    VOICEMAIL = "voicemail"      # the caller is hearing the greeting or recording
    COMPLETED = "completed"


class CallOutcome(enum.StrEnum):
    ANSWERED = "answered"
    VOICEMAIL = "voicemail"
    MISSED = "missed"            # nobody answered and no voicemail was left
    ABANDONED = "abandoned"      # the caller hung up while a coach was being rung
    AFTER_HOURS = "after_hours"  # the line was closed and no voicemail was left
    NO_ANSWER = "no_answer"      # outbound: the patient (or the coach) did not answer
    FAILED = "failed"


class LegKind(enum.StrEnum):
    COACH = "coach"
    PATIENT = "patient"
    PARTNER = "partner"
    CRISIS = "crisis"


class LegOutcome(enum.StrEnum):
    ACCEPTED = "accepted"        # a person pressed 1 (or, for the patient and the crisis line, answered)
    DECLINED = "declined"        # answered without pressing 1 (a person who said no, or a voicemail machine)
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELLED = "cancelled"      # we stopped ringing (the caller hung up, someone else took the call)


OPEN_CALL_STATUSES = (CallStatus.RINGING, CallStatus.IN_PROGRESS, CallStatus.VOICEMAIL)


class LineState(db.Model):
    """Whether a coach takes calls now, and the call that holds them (ringing or connected).

    The conditional UPDATE on `busy_call_id` is what stops one coach being rung for two callers.
    """

    __tablename__ = "line_states"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"), index=True)
    taking_calls: Mapped[bool] = mapped_column(default=True)
    busy_call_id: Mapped[int | None] = mapped_column(sa.ForeignKey("calls.id"))
    busy_since: Mapped[datetime | None]


class Call(TimestampMixin, db.Model):
    """One warm-line call (inbound) or masked call (outbound), with its outcome."""

    __tablename__ = "calls"
    __table_args__ = (
        sa.Index("ix_calls_program_id_started_at", "program_id", "started_at"),
        sa.Index("ix_calls_patient_id_started_at", "patient_id", "started_at"),
        sa.Index("ix_calls_coach_id_started_at", "coach_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    direction: Mapped[CallDirection] = mapped_column(str_enum(CallDirection, "call_direction"))
    status: Mapped[CallStatus] = mapped_column(str_enum(CallStatus, "call_status"), default=CallStatus.RINGING)
    outcome: Mapped[CallOutcome | None] = mapped_column(str_enum(CallOutcome, "call_outcome"))
    # The caller's leg (inbound); outbound calls keep theirs on the legs.
    twilio_sid: Mapped[str | None] = mapped_column(sa.String(34), unique=True)
    program_number: Mapped[str] = mapped_column(sa.String(20))
    external_number: Mapped[str] = mapped_column(sa.String(20))
    patient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patients.id"))
    coach_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    after_hours: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_seconds: Mapped[int | None]
    last_sequence: Mapped[int] = mapped_column(default=-1)
    conference_sid: Mapped[str | None] = mapped_column(sa.String(34))
    voicemail_sid: Mapped[str | None] = mapped_column(sa.String(34))
    voicemail_seconds: Mapped[int | None]
    voicemail_deleted_at: Mapped[datetime | None]
    callback_task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tasks.id"))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id"))
    crisis_transfer_at: Mapped[datetime | None]
    confirmed_outside_hours: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(sa.Text)


class CallLeg(db.Model):
    """One person rung for a call: a coach tried in turn, the patient of a masked call, a partner, the crisis line."""

    __tablename__ = "call_legs"
    __table_args__ = (sa.Index("ix_call_legs_call_id_position", "call_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id"))
    kind: Mapped[LegKind] = mapped_column(str_enum(LegKind, "leg_kind"))
    position: Mapped[int] = mapped_column(default=1)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    partner_contact_id: Mapped[str | None] = mapped_column(sa.ForeignKey("partner_contacts.id"))
    handoff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("handoffs.id"))
    number: Mapped[str] = mapped_column(sa.String(20))
    twilio_sid: Mapped[str | None] = mapped_column(sa.String(34), unique=True)
    outcome: Mapped[LegOutcome | None] = mapped_column(str_enum(LegOutcome, "leg_outcome"))
    rung_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    joined_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    on_hold: Mapped[bool] = mapped_column(default=False)
    notice_given: Mapped[bool] = mapped_column(default=False)
    last_sequence: Mapped[int] = mapped_column(default=-1)
