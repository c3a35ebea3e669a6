"""Audit event schemas."""

from marshmallow import Schema, fields

from backend.common.schemas import PageQuerySchema, UtcDateTime


class AuditEventSchema(Schema):  # answers only: never loaded
    id = fields.Integer()
    occurred_at = UtcDateTime()
    user_id = fields.Integer(allow_none=True)
    role = fields.String(allow_none=True)
    action = fields.String()
    resource = fields.String()
    resource_id = fields.String(allow_none=True)
    patient_id = fields.Integer(allow_none=True)
    outcome = fields.String()
    remote_addr = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)


class AuditQuerySchema(PageQuerySchema):
    patient_id = fields.Integer()
    user_id = fields.Integer()
    since = UtcDateTime()
