"""Patient schemas (field names are the mobile app's contract, see DESIGN.md)."""

from marshmallow import Schema, fields, validate

from backend.common.schemas import ApiSchema, PageQuerySchema, PhoneNumber, TimeZoneName, UtcDateTime, nullable
from backend.patients.models import Acuity, PatientSource, PatientStatus

LANGUAGE = validate.Regexp(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", error="Use an ISO 639-1 code such as en or es.")
NAME = validate.Length(min=1, max=100)


@nullable("closed_at")
class PatientSchema(ApiSchema):
    id = fields.Integer(dump_only=True)
    first_name = fields.String(required=True, validate=NAME, metadata={"example": "Lucía"})
    last_name = fields.String(required=True, validate=NAME, metadata={"example": "García"})
    preferred_name = fields.String(allow_none=True, validate=validate.Length(max=100), metadata={"example": "Lucy"})
    phone = PhoneNumber(allow_none=True, metadata={"example": "+17735550142"})
    language = fields.String(validate=[LANGUAGE, validate.Length(max=8)])
    timezone = TimeZoneName()
    sms_consent = fields.Boolean()
    sms_opted_out = fields.Boolean(dump_only=True)
    status = fields.Enum(PatientStatus, by_value=True)
    source = fields.Enum(PatientSource, by_value=True, required=True)
    acuity = fields.Enum(Acuity, by_value=True)
    coach_id = fields.Integer(allow_none=True)
    declined_peer_support = fields.Boolean()
    referring_organization_id = fields.String(allow_none=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)
    closed_at = UtcDateTime(dump_only=True)


class PatientUpdateSchema(PatientSchema):
    """Every field optional; the coach changes through the assignment endpoint."""

    class Meta:
        exclude = ("coach_id",)

    first_name = fields.String(validate=NAME)
    last_name = fields.String(validate=NAME)
    source = fields.Enum(PatientSource, by_value=True)


class PatientListQuerySchema(PageQuerySchema):
    status = fields.List(fields.Enum(PatientStatus, by_value=True))
    q = fields.String(validate=validate.Length(min=1, max=100))
    updated_since = UtcDateTime()
    coach_id = fields.Integer()


class RemovedQuerySchema(ApiSchema):
    since = UtcDateTime(required=True)


class RemovedPatientSchema(Schema):
    id = fields.Integer()
    removed_at = UtcDateTime()


patient_schema = PatientSchema()
