"""Patient endpoints: list with delta sync, create (idempotent), read, edit with If-Match."""

from flask import request
from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.caseload import intake
from backend.caseload import service as caseload
from backend.common.pagination import filters, paginate
from backend.common.schemas import ApiBlueprint
from backend.patients import service
from backend.patients.schemas import (
    PatientListQuerySchema,
    PatientSchema,
    PatientUpdateSchema,
    RemovedPatientSchema,
    RemovedQuerySchema,
)

blp = ApiBlueprint("patients", __name__, url_prefix="/api/v1/patients", description="Patients")


@blp.route("")
class Patients(MethodView):
    @api_action("list", "patient")
    @blp.arguments(PatientListQuerySchema, location="query")
    @blp.response(200, PatientSchema(many=True))
    def get(self, query):
        """Your patients. `updated_since` returns changes in update order, for offline sync."""
        items, headers = paginate(service.list_patients(current_user, **filters(query)), query)
        service.audit_list(current_user, items, filters(query))
        return items, 200, headers

    @api_action("create", "patient", idempotent=True)
    @blp.arguments(PatientSchema)
    @blp.response(201, PatientSchema)
    @blp.alt_response(422, description="Invalid field, or Idempotency-Key reused with another body")
    def post(self, data):
        """Create a patient. Send an Idempotency-Key header so a retry creates nothing new."""
        patient = intake.create_patient(current_user, data)
        return patient, 201, {"ETag": patient.etag, "Location": f"/api/v1/patients/{patient.id}"}


@blp.route("/removed")
class RemovedPatients(MethodView):
    @api_action("list", "removed_patient")
    @blp.arguments(RemovedQuerySchema, location="query")
    @blp.response(200, RemovedPatientSchema(many=True))
    def get(self, query):
        """Patients that left your caseload since `since` (reassigned): delete them from the device.

        Pair it with `GET /patients?updated_since=`: that one brings what changed in your caseload,
        this one what left it, so a phone never keeps a patient it may no longer see.
        """
        return caseload.removed_since(current_user, query["since"])


@blp.route("/<int:patient_id>")
class PatientItem(MethodView):
    @api_action("read", "patient")
    @blp.response(200, PatientSchema)
    def get(self, patient_id):
        """One patient, with its ETag."""
        patient = service.read_patient(current_user, patient_id)
        return patient, 200, {"ETag": patient.etag}

    @api_action("update", "patient")
    @blp.arguments(PatientUpdateSchema)
    @blp.response(200, PatientSchema)
    @blp.alt_response(412, description="If-Match does not match the current ETag")
    def patch(self, changes, patient_id):
        """Edit a patient. Send If-Match with the ETag you read; a stale one answers 412."""
        patient = service.update_patient(current_user, patient_id, changes, request.headers.get("If-Match"))
        return patient, 200, {"ETag": patient.etag}
