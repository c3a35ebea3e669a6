"""Contact endpoints under a patient."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.common.pagination import paginate
from backend.common.schemas import ApiBlueprint
from backend.contacts import service
from backend.contacts.schemas import ContactListQuerySchema, ContactSchema

blp = ApiBlueprint("contacts", __name__, url_prefix="/api/v1", description="Contacts with patients")


@blp.route("/patients/<int:patient_id>/contacts")
class PatientContacts(MethodView):
    @api_action("list", "contact")
    @blp.arguments(ContactListQuerySchema, location="query")
    @blp.response(200, ContactSchema(many=True))
    def get(self, query, patient_id):
        """The patient's contacts, newest first."""
        stmt = service.list_contacts(current_user, patient_id, kind=query.get("kind"))
        items, headers = paginate(stmt, query)
        return items, 200, headers

    @api_action("create", "contact", idempotent=True)
    @blp.arguments(ContactSchema)
    @blp.response(201, ContactSchema)
    def post(self, data, patient_id):
        """Log a contact (defaults: now, outbound, reached). Idempotency-Key makes retries safe."""
        return service.log_contact(current_user, patient_id, data), 201
