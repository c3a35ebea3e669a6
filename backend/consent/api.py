"""Consent endpoints and the accounting of disclosures."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.common.pagination import paginate
from backend.common.schemas import ApiBlueprint
from backend.consent import service
from backend.consent.schemas import ConsentSchema, DisclosureQuerySchema, DisclosureSchema

blp = ApiBlueprint("consent", __name__, url_prefix="/api/v1", description="42 CFR Part 2 consent")


@blp.route("/patients/<int:patient_id>/consents")
class PatientConsents(MethodView):
    @api_action("list", "consent")
    @blp.response(200, ConsentSchema(many=True))
    def get(self, patient_id):
        """The patient's consents, newest first, with whether each is active."""
        return service.list_consents(current_user, patient_id)

    @api_action("create", "consent", idempotent=True)
    @blp.arguments(ConsentSchema)
    @blp.response(201, ConsentSchema)
    def post(self, data, patient_id):
        """Record a consent with every §2.31 element; missing ones are named in the 422."""
        return service.record_consent(current_user, patient_id, data), 201


@blp.route("/consents/<int:consent_id>/revoke")
class RevokeConsent(MethodView):
    @api_action("revoke", "consent")
    @blp.response(200, ConsentSchema)
    def post(self, consent_id):
        """The patient revoked the consent."""
        return service.revoke_consent(current_user, consent_id)


@blp.route("/patients/<int:patient_id>/disclosures")
class PatientDisclosures(MethodView):
    @api_action("list", "disclosure")
    @blp.arguments(DisclosureQuerySchema, location="query")
    @blp.response(200, DisclosureSchema(many=True))
    def get(self, query, patient_id):
        """Accounting of disclosures: every release to a partner in the last three years."""
        items, headers = paginate(service.accounting_of_disclosures(current_user, patient_id), query)
        return items, 200, headers
