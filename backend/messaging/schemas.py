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
    # Empty only for a received photo-only MMS (sending one needs a body or a template: see one_source).
    body = fields.String(validate=validate.Length(max=1600),
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
    media = fields.Method("media_list", dump_only=True, metadata={
        "description": "An MMS's photos or files: GET /api/v1/messages/{id}/media/{index} shows each",
        "type": "array", "items": {"type": "object", "properties": {
            "index": {"type": "integer"}, "content_type": {"type": "string"}}}})

    def media_list(self, message) -> list[dict]:
        return [{"index": n, "content_type": m.get("content_type", "")} for n, m in enumerate(message.media or [])]

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


class UnknownTextSchema(ApiSchema):
    """A text from a number that matches no patient (supervisors)."""

    id = fields.Integer()
    from_number = fields.String()
    body = fields.String()
    media = fields.Method("media_list", metadata={"type": "array", "items": {"type": "object"}})
    created_at = UtcDateTime()

    def media_list(self, message) -> list[dict]:
        return MessageSchema().media_list(message)


class AssignTextSchema(ApiSchema):
    patient_id = fields.Integer(required=True)


class TemplateSchema(ApiSchema):
    """One template in one language as in use now (version 0 is the built-in text)."""

    key = fields.String(dump_only=True)
    language = fields.String(dump_only=True)
    body = fields.String(required=True, validate=validate.Length(min=1, max=1000), metadata={
        "example": "Hi {first_name}, it's {coach_name}. How are you doing? Reply here or call {program_phone}."})
    version = fields.Integer(dump_only=True)
    preview = fields.String(dump_only=True, metadata={"description": "The text with sample values"})
    built_in = fields.String(dump_only=True, metadata={"description": "The product's own text (version 0)"})


class TemplateVersionSchema(ApiSchema):
    version = fields.Integer()
    body = fields.String()
    created_by_id = fields.Integer(allow_none=True)
    created_at = UtcDateTime()


class PlanStepSchema(ApiSchema):
    days = fields.Integer(required=True, validate=validate.Range(min=0, max=365))
    template_key = fields.String(required=True, validate=validate.Length(max=60))


class FollowUpPlanSchema(ApiSchema):
    key = fields.String(dump_only=True)
    name = fields.String(validate=validate.Length(min=1, max=200))
    delivery_hour = fields.Integer(validate=validate.Range(min=8, max=20), metadata={
        "description": "Local hour the texts go out (inside the usual quiet hours' bounds)"})
    steps = fields.List(fields.Nested(PlanStepSchema), required=True, validate=validate.Length(min=1, max=20))
    version = fields.Integer(dump_only=True)
