"""Caseload schemas."""

from marshmallow import Schema, fields, validate

from backend.common.schemas import ApiSchema, UtcDateTime, nullable
from backend.patients.models import Acuity, PatientStatus

OVERRIDE_REASON = fields.String(validate=validate.Length(min=1, max=2000))


class AssignmentRequestSchema(ApiSchema):
    coach_id = fields.Integer(required=True)
    override_reason = OVERRIDE_REASON


class BulkAssignmentRequestSchema(ApiSchema):
    coach_id = fields.Integer(required=True)
    patient_ids = fields.List(fields.Integer(), required=True, validate=validate.Length(min=1, max=500))
    override_reason = OVERRIDE_REASON


class BulkResultSchema(Schema):
    patient_id = fields.Integer()
    result = fields.String()
    error = fields.String()
    override = fields.Boolean()


class OverrideSchema(Schema):
    patient_id = fields.Integer()
    override_reason = fields.String()
    assigned_by_id = fields.Integer()
    created_at = UtcDateTime()


@nullable("preferred_name", "last_contact_at")
class CaseloadPatientSchema(Schema):
    id = fields.Integer(attribute="patient.id")
    first_name = fields.String(attribute="patient.first_name")
    last_name = fields.String(attribute="patient.last_name")
    preferred_name = fields.String(attribute="patient.preferred_name")
    status = fields.Enum(PatientStatus, by_value=True, attribute="patient.status")
    acuity = fields.Enum(Acuity, by_value=True, attribute="patient.acuity")
    weight = fields.Float()
    last_contact_at = UtcDateTime()
    days_since_last_contact = fields.Integer(allow_none=True)
    overdue_tasks = fields.Integer()
    # What the app's one-tap actions need; a call goes through the masked call (POST /patients/{id}/calls).
    can_text = fields.Method("_can_text", metadata={"type": "boolean", "description": "Consented, not opted out, "
                                                    "a working number on file"})
    can_call = fields.Method("_can_call", metadata={"type": "boolean", "description": "A working number on file"})
    phone_last4 = fields.Method("_last4", metadata={"type": "string", "nullable": True,
                                                    "description": "To recognise the number, never to dial it"})

    def _can_call(self, row) -> bool:
        patient = row["patient"]
        return bool(patient.phone) and patient.phone_flagged_at is None

    def _can_text(self, row) -> bool:
        patient = row["patient"]
        return self._can_call(row) and patient.sms_consent and not patient.sms_opted_out

    def _last4(self, row) -> str | None:
        phone = row["patient"].phone
        return phone[-4:] if phone else None


class CoachLoadSchema(Schema):
    """What every caseload view says of a coach's load."""

    coach_id = fields.Integer()
    coach_name = fields.String()
    on_shift = fields.Boolean()
    cap = fields.Integer()
    load = fields.Float()
    utilisation = fields.Float()
    active_patients = fields.Integer()


class CaseloadSchema(CoachLoadSchema):
    counts_by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    overrides = fields.List(fields.Nested(OverrideSchema))
    patients = fields.List(fields.Nested(CaseloadPatientSchema))


class ReasonSchema(Schema):
    code = fields.String()
    severity = fields.String()
    message = fields.String()


class CheckInSummarySchema(Schema):
    created_at = UtcDateTime()
    stress = fields.Integer()
    energy = fields.Integer()
    wants_supervisor_contact = fields.Boolean()


@nullable("last_check_in")
class TeamRowSchema(CoachLoadSchema):
    level = fields.String(metadata={"enum": ["ok", "watch", "high"]})
    reasons = fields.List(fields.Nested(ReasonSchema))
    last_check_in = fields.Nested(CheckInSummarySchema, allow_none=True)
    last_supervision_at = UtcDateTime(allow_none=True)


class HistoryPointSchema(Schema):
    day = fields.Date()
    load = fields.Float()
    cap = fields.Integer()
    utilisation = fields.Float()
    level = fields.String()


class HistorySeriesSchema(Schema):
    coach_id = fields.Integer()
    coach_name = fields.String()
    points = fields.List(fields.Nested(HistoryPointSchema))


class HistoryQuerySchema(ApiSchema):
    days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=366))


class CoachCapSchema(ApiSchema):
    cap = fields.Integer(required=True, allow_none=True, validate=validate.Range(min=1, max=200))


WEIGHT = validate.Range(min=0.1, max=5)


class CaseloadPolicySchema(ApiSchema):
    default_cap = fields.Integer(validate=validate.Range(min=1, max=200))
    weight_low = fields.Float(validate=WEIGHT)
    weight_standard = fields.Float(validate=WEIGHT)
    weight_high = fields.Float(validate=WEIGHT)
    max_shift_hours = fields.Integer(validate=validate.Range(min=1, max=24))
    watch_utilisation_pct = fields.Integer(validate=validate.Range(min=50, max=100))
    after_hours_contacts = fields.Integer(validate=validate.Range(min=1, max=100))
    crisis_contacts = fields.Integer(validate=validate.Range(min=1, max=100))
    consecutive_contact_days = fields.Integer(validate=validate.Range(min=2, max=14))
    supervision_gap_days = fields.Integer(validate=validate.Range(min=1, max=365))
    stress_threshold = fields.Integer(validate=validate.Range(min=1, max=5))
    after_hours_calls = fields.Integer(validate=validate.Range(min=1, max=100))
    phone_minutes_per_day = fields.Integer(validate=validate.Range(min=30, max=1440))
    escalate_overdue_after_hours = fields.Integer(validate=validate.Range(min=1, max=720))


class CaseloadPolicyOutSchema(CaseloadPolicySchema):
    weight_low = fields.Function(lambda p: p.weight_low / 100)
    weight_standard = fields.Function(lambda p: p.weight_standard / 100)
    weight_high = fields.Function(lambda p: p.weight_high / 100)
