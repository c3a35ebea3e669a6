"""Shift schemas."""

from marshmallow import Schema, fields

from backend.common.schemas import ApiSchema, UtcDateTime


class ShiftRequestSchema(ApiSchema):
    on_shift = fields.Boolean(required=True)


class ShiftStateSchema(Schema):
    on_shift = fields.Boolean()
    started_at = UtcDateTime(allow_none=True)
    max_hours = fields.Integer()
