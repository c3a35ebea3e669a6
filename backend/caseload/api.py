"""Caseload endpoints: views, assignment, the unassigned queue, the team view, the policy."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.caseload import assignment, service
from backend.caseload.schemas import (
    AssignmentRequestSchema,
    BulkAssignmentRequestSchema,
    BulkResultSchema,
    CaseloadPolicyOutSchema,
    CaseloadPolicySchema,
    CaseloadSchema,
    CoachCapSchema,
    HistoryQuerySchema,
    HistorySeriesSchema,
    TeamRowSchema,
)
from backend.common.pagination import paginate
from backend.common.schemas import ApiBlueprint, PageQuerySchema
from backend.patients.schemas import PatientSchema

blp = ApiBlueprint("caseload", __name__, url_prefix="/api/v1", description="Caseloads and assignment")


@blp.route("/me/caseload")
class MyCaseload(MethodView):
    @api_action("list", "caseload")
    @blp.response(200, CaseloadSchema)
    def get(self):
        """Your cap, weighted load, utilisation and active patients with their follow-up state."""
        return service.coach_caseload(current_user)


@blp.route("/coaches/<int:coach_id>/caseload")
class CoachCaseload(MethodView):
    @api_action("list", "caseload")
    @blp.response(200, CaseloadSchema)
    def get(self, coach_id):
        """A coach's caseload (supervisors and admins of the programme)."""
        return service.coach_caseload(current_user, coach_id)

    @api_action("update", "caseload_cap")
    @blp.arguments(CoachCapSchema)
    @blp.response(200, CaseloadSchema)
    def patch(self, data, coach_id):
        """Set the coach's own cap (1-200), or null for the programme default."""
        return service.set_coach_cap(current_user, coach_id, data["cap"])


@blp.route("/patients/<int:patient_id>/assignment")
class PatientAssignment(MethodView):
    @api_action("assign", "patient")
    @blp.arguments(AssignmentRequestSchema)
    @blp.response(200, PatientSchema)
    @blp.alt_response(409, description="caseload_cap_reached (with load and cap) or patient_closed")
    def post(self, data, patient_id):
        """Assign or reassign the patient; a lead may override a full cap with a reason (10+ characters)."""
        patient = assignment.assign_patient(current_user, patient_id, data["coach_id"], data.get("override_reason"))
        return patient, 200, {"ETag": patient.etag}


@blp.route("/assignments/bulk")
class BulkAssignment(MethodView):
    @api_action("assign", "patient")
    @blp.arguments(BulkAssignmentRequestSchema)
    @blp.response(200, BulkResultSchema(many=True))
    @blp.alt_response(409, description="bulk_assignment_refused, with a result per patient")
    def post(self, data):
        """Move patients to one coach, all or nothing (supervisors and admins)."""
        return assignment.bulk_assign(current_user, data["patient_ids"], data["coach_id"],
                                      data.get("override_reason"))


@blp.route("/team/unassigned")
class Unassigned(MethodView):
    @api_action("list", "patient")
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, PatientSchema(many=True))
    def get(self, query):
        """Open patients waiting for a coach, oldest first."""
        from backend.patients.service import audit_list

        items, headers = paginate(assignment.unassigned_queue(current_user), query)
        audit_list(current_user, items, {"unassigned": True})
        return items, 200, headers


@blp.route("/team/caseloads")
class TeamCaseloads(MethodView):
    @blp.response(200, TeamRowSchema(many=True))
    def get(self):
        """Every coach: load against cap, burnout level and the reasons behind it (supervisors)."""
        return service.team_caseloads(current_user)


@blp.route("/team/caseloads/history")
class TeamHistory(MethodView):
    @blp.arguments(HistoryQuerySchema, location="query")
    @blp.response(200, HistorySeriesSchema(many=True))
    def get(self, query):
        """Daily caseload snapshots per coach, for charts."""
        return service.caseload_history(current_user, query["days"])


@blp.route("/program/caseload-policy")
class Policy(MethodView):
    @blp.response(200, CaseloadPolicyOutSchema)
    def get(self):
        """The programme's default cap, acuity weights and burnout thresholds."""
        return service.read_policy(current_user)

    @api_action("update", "caseload_policy")
    @blp.arguments(CaseloadPolicySchema)
    @blp.response(200, CaseloadPolicyOutSchema)
    def patch(self, changes):
        """Change them (admins)."""
        return service.update_policy(current_user, changes)
