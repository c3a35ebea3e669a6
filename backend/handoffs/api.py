"""Handoff endpoints."""

from flask import jsonify
from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.common.schemas import ApiBlueprint
from backend.handoffs import confirmation, fhir, service
from backend.handoffs.schemas import ConfirmationLinkSchema, HandoffSchema, HandoffUpdateSchema

blp = ApiBlueprint("handoffs", __name__, url_prefix="/api/v1", description="Warm handoffs and referrals")


@blp.route("/handoffs")
class Handoffs(MethodView):
    @api_action("create", "handoff", idempotent=True)
    @blp.arguments(HandoffSchema)
    @blp.response(201, HandoffSchema)
    @blp.alt_response(409, description="consent_required: no active consent names this partner")
    def post(self, data):
        """Hand a patient to a partner service; records the disclosure and schedules appointment reminders."""
        return service.create_handoff(current_user, data), 201


@blp.route("/handoffs/<int:handoff_id>")
class HandoffItem(MethodView):
    @api_action("read", "handoff")
    @blp.response(200, HandoffSchema)
    def get(self, handoff_id):
        """One handoff."""
        return service.read_handoff(current_user, handoff_id)

    @api_action("update", "handoff")
    @blp.arguments(HandoffUpdateSchema)
    @blp.response(200, HandoffSchema)
    @blp.alt_response(409, description="illegal_transition")
    def patch(self, changes, handoff_id):
        """Move the handoff (FHIR Task codes; rejected, cancelled, on-hold and failed need a reason)."""
        return service.update_handoff(current_user, handoff_id, changes)


@blp.route("/patients/<int:patient_id>/handoffs")
class PatientHandoffs(MethodView):
    @api_action("list", "handoff")
    @blp.response(200, HandoffSchema(many=True))
    def get(self, patient_id):
        """The patient's handoffs, newest first."""
        return service.list_handoffs(current_user, patient_id)


@blp.route("/handoffs/<int:handoff_id>/confirmation-link")
class HandoffConfirmationLink(MethodView):
    @api_action("create", "confirmation_link")
    @blp.response(201, ConfirmationLinkSchema)
    def post(self, handoff_id):
        """A single-use link (14 days) for the partner's point person to say whether the patient arrived."""
        return confirmation.issue_link(current_user, handoff_id), 201


@blp.route("/handoffs/<int:handoff_id>/fhir")
class HandoffFhir(MethodView):
    @api_action("export", "handoff")
    @blp.response(200)
    @blp.doc(responses={"200": {
        "description": "A FHIR R4 Bundle: Task, ServiceRequest, Consent (IDSCL), Patient, Organizations",
        "content": {"application/fhir+json": {"schema": {"type": "object", "description": "FHIR R4 Bundle"}}}}})
    def get(self, handoff_id):
        """The handoff as FHIR R4 (recorded as a disclosure; carries the §2.32 notice)."""
        response = jsonify(fhir.export_handoff(current_user, handoff_id))
        response.mimetype = "application/fhir+json"
        return response
