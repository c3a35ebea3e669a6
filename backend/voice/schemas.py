"""Warm-line schemas: settings and hours, a coach's line, calls with their legs, figures."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from backend.common.schemas import ApiSchema, PageQuerySchema, PhoneNumber, UtcDateTime
from backend.patients.schemas import PatientSchema
from backend.voice.models import CallDirection, CallOutcome, CallStatus, LegKind, LegOutcome

CLOCK = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$", error="Use HH:MM (24-hour), or 24:00 for midnight.")


class OpeningSchema(ApiSchema):
    weekday = fields.Integer(required=True, validate=validate.Range(min=0, max=6),
                             metadata={"description": "0 Monday … 6 Sunday, in the programme's time zone"})
    opens = fields.String(required=True, validate=CLOCK)
    closes = fields.String(required=True, validate=CLOCK)

    @validates_schema
    def _not_empty(self, data, **kwargs):
        if data.get("opens") == data.get("closes"):
            raise ValidationError("Opens and closes at the same time.", "closes")


class WarmLineSettingsSchema(ApiSchema):
    hours = fields.List(fields.Nested(OpeningSchema), validate=validate.Length(max=28))
    override = fields.String(dump_only=True, allow_none=True)
    override_until = UtcDateTime(dump_only=True, allow_none=True)
    crisis_number = fields.String(validate=validate.Regexp(r"^\+?\d{3,15}$", error="Digits only, e.g. 988."))
    crisis_transfer_number = PhoneNumber()
    ring_timeout_seconds = fields.Integer(validate=validate.Range(min=5, max=60))
    max_coaches = fields.Integer(validate=validate.Range(min=1, max=10))
    max_wait_seconds = fields.Integer(validate=validate.Range(min=15, max=600))
    transcribe_voicemail = fields.Boolean(metadata={"description": "Sends callers' words to Twilio's transcriber"})
    recording_retention_days = fields.Integer(validate=validate.Range(min=1, max=365))
    callback_due_minutes = fields.Integer(validate=validate.Range(min=5, max=1440))
    callbacks_for_voicemail_only = fields.Boolean()


class WarmLineStateSchema(ApiSchema):
    open_now = fields.Boolean()
    next_opening = UtcDateTime(allow_none=True)
    timezone = fields.String()
    settings = fields.Nested(WarmLineSettingsSchema)


class LineOverrideSchema(ApiSchema):
    state = fields.String(required=True, allow_none=True, validate=validate.OneOf(["open", "closed"]),
                          metadata={"description": "open now, closed now, or null to follow the hours"})
    until = UtcDateTime(allow_none=True, load_default=None)


class MyLineSchema(ApiSchema):
    on_shift = fields.Boolean(dump_only=True)
    taking_calls = fields.Boolean(required=True)
    call_id = fields.Integer(dump_only=True, allow_none=True)
    has_phone = fields.Boolean(dump_only=True)


class CallLegSchema(ApiSchema):
    id = fields.Integer()
    kind = fields.Enum(LegKind, by_value=True)
    position = fields.Integer()
    user_id = fields.Integer(allow_none=True)
    partner_contact_id = fields.String(allow_none=True)
    handoff_id = fields.Integer(allow_none=True)
    outcome = fields.Enum(LegOutcome, by_value=True, allow_none=True)
    rung_at = UtcDateTime()
    answered_at = UtcDateTime(allow_none=True)
    joined_at = UtcDateTime(allow_none=True)
    ended_at = UtcDateTime(allow_none=True)
    notice_given = fields.Boolean()


class CallerSchema(ApiSchema):
    known = fields.Boolean()
    initials = fields.String(allow_none=True)
    reminder = fields.String()


class CallSchema(ApiSchema):
    id = fields.Integer(dump_only=True)
    direction = fields.Enum(CallDirection, by_value=True, dump_only=True)
    status = fields.Enum(CallStatus, by_value=True, dump_only=True)
    outcome = fields.Enum(CallOutcome, by_value=True, dump_only=True, allow_none=True)
    patient_id = fields.Integer(dump_only=True, allow_none=True)
    coach_id = fields.Integer(dump_only=True, allow_none=True)
    external_number = fields.String(dump_only=True, metadata={"description": "The caller's (or patient's) number"})
    program_number = fields.String(dump_only=True)
    caller = fields.Nested(CallerSchema, dump_only=True)
    after_hours = fields.Boolean(dump_only=True)
    started_at = UtcDateTime(dump_only=True)
    answered_at = UtcDateTime(dump_only=True, allow_none=True)
    ended_at = UtcDateTime(dump_only=True, allow_none=True)
    duration_seconds = fields.Integer(dump_only=True, allow_none=True)
    has_voicemail = fields.Boolean(dump_only=True)
    voicemail_seconds = fields.Integer(dump_only=True, allow_none=True)
    callback_task_id = fields.Integer(dump_only=True, allow_none=True)
    contact_id = fields.Integer(dump_only=True, allow_none=True)
    crisis_transfer_at = UtcDateTime(dump_only=True, allow_none=True)
    confirmed_outside_hours = fields.Boolean(dump_only=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=4000))
    legs = fields.List(fields.Nested(CallLegSchema), dump_only=True)


class CallNoteSchema(ApiSchema):
    note = fields.String(required=True, allow_none=True, validate=validate.Length(max=4000))


class CallListQuerySchema(PageQuerySchema):
    missed = fields.Boolean(load_default=False, metadata={"description": "Only missed calls whose callback is mine"})


class PlaceCallSchema(ApiSchema):
    confirm_outside_hours = fields.Boolean(load_default=False)


class AddPartnerSchema(ApiSchema):
    partner_contact_id = fields.String(required=True, validate=validate.Length(max=36))
    service_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=36))


class HoldSchema(ApiSchema):
    on_hold = fields.Boolean(required=True)


class CallerToPatientSchema(PatientSchema):
    """A new patient from the caller: the number and source come from the call."""

    class Meta:
        exclude = ("phone", "source")


class LiveCallSchema(ApiSchema):
    id = fields.Integer()
    direction = fields.Enum(CallDirection, by_value=True)
    status = fields.Enum(CallStatus, by_value=True)
    coach_id = fields.Integer(allow_none=True)
    known_caller = fields.Boolean()
    started_at = UtcDateTime()
    seconds = fields.Integer()


class CoachLineSchema(ApiSchema):
    coach_id = fields.Integer()
    name = fields.String()
    state = fields.String(metadata={"description": "free | ringing | on_call | away"})
    call_id = fields.Integer(allow_none=True)


class LiveSchema(ApiSchema):
    calls = fields.List(fields.Nested(LiveCallSchema))
    coaches = fields.List(fields.Nested(CoachLineSchema))


class CoachFiguresSchema(ApiSchema):
    coach_id = fields.Integer()
    name = fields.String(allow_none=True)
    answered = fields.Integer()
    missed = fields.Integer()


class TodaySchema(ApiSchema):
    since = UtcDateTime()
    calls = fields.Integer()
    in_progress = fields.Integer()
    answered = fields.Integer()
    missed = fields.Integer()
    abandoned = fields.Integer()
    voicemails = fields.Integer()
    after_hours = fields.Integer()
    answer_rate = fields.Float(allow_none=True)
    mean_seconds_to_answer = fields.Float(allow_none=True)
    per_coach = fields.List(fields.Nested(CoachFiguresSchema))
