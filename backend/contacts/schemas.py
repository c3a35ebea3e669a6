"""Contact schemas."""

from marshmallow import fields, validate

from backend.common.schemas import ApiSchema, PageQuerySchema, UtcDateTime
from backend.contacts.models import ContactDirection, ContactKind, ContactOutcome


class ContactSchema(ApiSchema):
    id = fields.Integer(dump_only=True)
    patient_id = fields.Integer(dump_only=True)
    coach_id = fields.Integer(dump_only=True)
    kind = fields.Enum(ContactKind, by_value=True, required=True)
    direction = fields.Enum(ContactDirection, by_value=True, load_default=ContactDirection.OUTBOUND)
    occurred_at = UtcDateTime()
    duration_minutes = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=1440),
                                      metadata={"example": 15})
    outcome = fields.Enum(ContactOutcome, by_value=True, load_default=ContactOutcome.REACHED)
    note = fields.String(allow_none=True, validate=validate.Length(max=4000),
                         metadata={"example": "Met in the ED; agreed to a call on Friday."})
    created_at = UtcDateTime(dump_only=True)


class ContactListQuerySchema(PageQuerySchema):
    kind = fields.Enum(ContactKind, by_value=True)
