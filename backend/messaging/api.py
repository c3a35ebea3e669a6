"""Messaging endpoints: text a patient, list texts, cancel one, schedule a follow-up plan."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.common.pagination import paginate
from backend.common.schemas import ApiBlueprint
from backend.messaging import service
from backend.messaging.schemas import (
    FollowUpRequestSchema,
    MessageListQuerySchema,
    MessageSchema,
    MessagingPolicySchema,
)

blp = ApiBlueprint("messaging", __name__, url_prefix="/api/v1", description="SMS follow-ups")


@blp.route("/patients/<int:patient_id>/messages")
class PatientMessages(MethodView):
    @api_action("list", "message")
    @blp.arguments(MessageListQuerySchema, location="query")
    @blp.response(200, MessageSchema(many=True))
    def get(self, query, patient_id):
        """The patient's texts in and out, newest first."""
        items, headers = paginate(service.list_messages(current_user, patient_id), query)
        return items, 200, headers

    @api_action("create", "message", idempotent=True)
    @blp.arguments(MessageSchema)
    @blp.response(202, MessageSchema)
    @blp.alt_response(409, description="sms_consent_missing, sms_opted_out or phone_missing")
    @blp.alt_response(422, description="sensitive_content: confirm with confirm_sensitive")
    def post(self, data, patient_id):
        """Text the patient now or at `send_at` (a body, or a template in the patient's language)."""
        return service.schedule_message(current_user, patient_id, data), 202


@blp.route("/messages/<int:message_id>")
class MessageItem(MethodView):
    @api_action("cancel", "message")
    @blp.response(200, MessageSchema)
    def delete(self, message_id):
        """Cancel a text that has not gone out yet."""
        return service.cancel_message(current_user, message_id)


@blp.route("/patients/<int:patient_id>/follow-ups")
class FollowUps(MethodView):
    @api_action("schedule", "follow_up_plan")
    @blp.arguments(FollowUpRequestSchema)
    @blp.response(201, MessageSchema(many=True))
    def post(self, data, patient_id):
        """Schedule a follow-up plan from an anchor (e.g. discharge); a new anchor replaces the pending texts."""
        return service.schedule_follow_ups(current_user, patient_id, data["plan_key"], data["anchor_at"]), 201


@blp.route("/program/messaging-policy")
class MessagingPolicyView(MethodView):
    @blp.response(200, MessagingPolicySchema)
    def get(self):
        """Quiet hours (patient's local time), follow-up expiry and the SMS display name."""
        return service.messaging_policy(current_user.program_id)

    @api_action("update", "messaging_policy")
    @blp.arguments(MessagingPolicySchema)
    @blp.response(200, MessagingPolicySchema)
    def patch(self, changes):
        """Change them (admins)."""
        return service.update_policy(current_user, changes)
