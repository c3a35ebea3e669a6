"""Messaging endpoints: text a patient, list texts, cancel one, schedule a follow-up plan."""

from flask import Response
from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.common.pagination import paginate
from backend.common.schemas import ApiBlueprint
from backend.messaging import library, received, service
from backend.messaging.schemas import (
    AssignTextSchema,
    FollowUpPlanSchema,
    FollowUpRequestSchema,
    MessageListQuerySchema,
    MessageSchema,
    MessagingPolicySchema,
    TemplateSchema,
    TemplateVersionSchema,
    UnknownTextSchema,
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


@blp.route("/messages/<int:message_id>/media/<int:index>")
class MessageMedia(MethodView):
    @api_action("view", "message_media")
    @blp.doc(responses={"200": {"description": "The photo or file, as Twilio keeps it",
                                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}})
    def get(self, message_id, index):
        """A photo (or other media) a patient sent: fetched from Twilio for you, scoped like the patient."""
        content, mimetype = received.media_content(current_user, message_id, index)
        return Response(content, mimetype=mimetype, headers={"Cache-Control": "no-store",
                                                             "Content-Disposition": "inline"})


@blp.route("/messages/unknown")
class UnknownTexts(MethodView):
    @api_action("list", "unknown_text")
    @blp.arguments(MessageListQuerySchema, location="query")
    @blp.response(200, UnknownTextSchema(many=True))
    def get(self, query):
        """Texts from numbers that match no patient, newest first (supervisors): assign them or put them aside."""
        items, headers = paginate(received.unknown_texts(current_user), query)
        return received.audit_unknown(current_user, items), 200, headers


@blp.route("/messages/<int:message_id>/assign")
class AssignText(MethodView):
    @api_action("assign", "unknown_text")
    @blp.arguments(AssignTextSchema)
    @blp.response(200, MessageSchema)
    def post(self, data, message_id):
        """File an unknown number's text with the patient who sent it; their coach gets a task."""
        return received.assign_text(current_user, message_id, data["patient_id"])


@blp.route("/messages/<int:message_id>/dismiss")
class DismissText(MethodView):
    @api_action("dismiss", "unknown_text")
    @blp.response(200, UnknownTextSchema)
    def post(self, message_id):
        """Put an unknown number's text aside (wrong number, spam); it stays on record."""
        return received.dismiss_text(current_user, message_id)


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


@blp.route("/program/templates")
class Templates(MethodView):
    @api_action("list", "template")
    @blp.response(200, TemplateSchema(many=True))
    def get(self):
        """Every editable template in English and Spanish as in use now, with a preview from sample values."""
        return library.catalogue(current_user)


@blp.route("/program/templates/<key>/<language>")
class TemplateItem(MethodView):
    @api_action("update", "template")
    @blp.arguments(TemplateSchema)
    @blp.response(200, TemplateSchema)
    def put(self, data, key, language):
        """Save a new version (admins); refused when it would reveal treatment or names an unknown placeholder."""
        return library.save_template(current_user, key, language, data["body"])


@blp.route("/program/templates/<key>/<language>/versions")
class TemplateVersions(MethodView):
    @api_action("list", "template_version")
    @blp.response(200, TemplateVersionSchema(many=True))
    def get(self, key, language):
        """The saved versions of one template, newest first; each text records the version it was built from."""
        return library.template_versions(current_user, key, language)


@blp.route("/program/follow-up-plans")
class FollowUpPlans(MethodView):
    @api_action("list", "follow_up_plan")
    @blp.response(200, FollowUpPlanSchema(many=True))
    def get(self):
        """The programme's follow-up plans as in use now."""
        return library.plans(current_user)


@blp.route("/program/follow-up-plans/<key>")
class FollowUpPlanItem(MethodView):
    @api_action("update", "follow_up_plan")
    @blp.arguments(FollowUpPlanSchema)
    @blp.response(200, FollowUpPlanSchema)
    def put(self, data, key):
        """Save a new version of a plan (admins): days after the anchor, each with a template."""
        return library.save_plan(current_user, key, data)
