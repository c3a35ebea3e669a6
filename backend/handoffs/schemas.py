"""Handoff schemas (FHIR Task status codes)."""

from marshmallow import Schema, fields, validate

from backend.common.schemas import ApiSchema, UtcDateTime, nullable
from backend.handoffs.models import FhirTaskStatus, HandoffKind


@nullable("status_reason", "completed_at", "outcome")
class HandoffSchema(ApiSchema):
    id = fields.Integer(dump_only=True)
    patient_id = fields.Integer(required=True)
    service_id = fields.String(required=True)
    organization_id = fields.String(dump_only=True)
    reference = fields.String(dump_only=True)
    kind = fields.Enum(HandoffKind, by_value=True, required=True)
    status = fields.Enum(FhirTaskStatus, by_value=True, dump_only=True)
    status_reason = fields.String(dump_only=True)
    appointment_at = UtcDateTime(allow_none=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=4000))
    consent_id = fields.Integer(dump_only=True)
    outcome = fields.Method("_outcome", dump_only=True)
    completed_at = UtcDateTime(dump_only=True)
    created_at = UtcDateTime(dump_only=True)

    def _outcome(self, handoff):
        if handoff.status == FhirTaskStatus.COMPLETED:
            return "attended"
        if handoff.status == FhirTaskStatus.FAILED and handoff.status_reason == "no_show":
            return "no_show"
        return None


class HandoffUpdateSchema(ApiSchema):
    status = fields.Enum(FhirTaskStatus, by_value=True)
    status_reason = fields.String(allow_none=True, validate=validate.Length(min=2, max=300))
    appointment_at = UtcDateTime(allow_none=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=4000))


class ConfirmationLinkSchema(Schema):
    url = fields.String()
    expires_at = UtcDateTime()
