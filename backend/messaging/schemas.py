"""Message schemas (field names per DESIGN.md)."""

from marshmallow import ValidationError, fields, validate, validates_schema

from backend.common.schemas import ApiSchema, PageQuerySchema, UtcDateTime, nullable
from backend.messaging.models import MessageDirection, MessageStatus
from backend.messaging.plans import PLANS
from backend.messaging.templates import TEMPLATES


@nullable("template_key", "expires_at", "reason", "twilio_sid", "error_code", "plan_key", "sent_at")
class MessageSchema(ApiSchema):
    id = fields.Integer(dump_only=True)
    patient_id = fields.Integer(dump_only=True)
    direction = fields.Enum(MessageDirection, by_value=True, dump_only=True)
    body = fields.String(validate=validate.Length(min=1, max=1600),
                         metadata={"example": "Hi Lucy, it's Robin. How are you doing today?"})
    template_key = fields.String(validate=validate.OneOf([k for k in TEMPLATES if k != "help_reply"]))
    send_at = UtcDateTime(load_only=True)
    expires_at = UtcDateTime()
    confirm_sensitive = fields.Boolean(load_only=True, load_default=False)
    scheduled_for = UtcDateTime(dump_only=True)
    status = fields.Enum(MessageStatus, by_value=True, dump_only=True)
    reason = fields.String(dump_only=True)
    twilio_sid = fields.String(dump_only=True)
    error_code = fields.Integer(dump_only=True)
    plan_key = fields.String(dump_only=True)
    attempts = fields.Integer(dump_only=True)
    sent_at = UtcDateTime(dump_only=True)
    created_at = UtcDateTime(dump_only=True)

    @validates_schema
    def one_source(self, data, **kwargs):
        if bool(data.get("body")) == bool(data.get("template_key")):
            raise ValidationError("Send either a body or a template_key.", field_name="body")


class FollowUpRequestSchema(ApiSchema):
    plan_key = fields.String(required=True, validate=validate.OneOf(list(PLANS)))
    anchor_at = UtcDateTime(required=True)


class MessageListQuerySchema(PageQuerySchema):
    pass


HOUR = validate.Range(min=0, max=23)


class MessagingPolicySchema(ApiSchema):
    quiet_start_hour = fields.Integer(validate=HOUR)
    quiet_end_hour = fields.Integer(validate=HOUR)
    follow_up_expiry_hours = fields.Integer(validate=validate.Range(min=1, max=72))
    sms_display_name = fields.String(allow_none=True, validate=validate.Length(min=1, max=80))
