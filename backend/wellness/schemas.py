"""Wellness schemas."""

from marshmallow import fields, validate

from backend.common.schemas import ApiSchema, UtcDateTime, nullable

SCALE = validate.Range(min=1, max=5)
PROQOL = validate.Range(min=10, max=50)


class CheckInSchema(ApiSchema):
    id = fields.Integer(dump_only=True)
    stress = fields.Integer(required=True, validate=SCALE)
    energy = fields.Integer(required=True, validate=SCALE)
    wants_supervisor_contact = fields.Boolean(load_default=False)
    note = fields.String(allow_none=True, validate=validate.Length(max=4000))
    proqol_compassion_satisfaction = fields.Integer(allow_none=True, validate=PROQOL)
    proqol_burnout = fields.Integer(allow_none=True, validate=PROQOL)
    proqol_secondary_traumatic_stress = fields.Integer(allow_none=True, validate=PROQOL)
    created_at = UtcDateTime(dump_only=True)


@nullable("duration_minutes")
class SupervisionSessionSchema(ApiSchema):
    id = fields.Integer(dump_only=True)
    coach_id = fields.Integer(dump_only=True)
    supervisor_id = fields.Integer(dump_only=True)
    held_at = UtcDateTime(required=True)
    duration_minutes = fields.Integer(required=True, validate=validate.Range(min=1, max=480))
    notes = fields.String(allow_none=True, validate=validate.Length(max=10000))
    follow_ups = fields.List(fields.String(validate=validate.Length(min=1, max=500)),
                             load_default=list, validate=validate.Length(max=20))
    created_at = UtcDateTime(dump_only=True)


