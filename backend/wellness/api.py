"""Wellness endpoints: the coach's check-ins, supervision sessions."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.common.pagination import paginate
from backend.common.schemas import ApiBlueprint, PageQuerySchema
from backend.wellness import service
from backend.wellness.schemas import CheckInSchema, SupervisionSessionSchema

blp = ApiBlueprint("wellness", __name__, url_prefix="/api/v1", description="Coach wellness and supervision")


@blp.route("/me/wellness")
class MyWellness(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, CheckInSchema(many=True))
    def get(self, query):
        """Your check-ins, newest first."""
        items, headers = paginate(service.my_check_ins(current_user), query)
        return items, 200, headers

    @api_action("create", "wellness_check_in")
    @blp.arguments(CheckInSchema)
    @blp.response(201, CheckInSchema)
    def post(self, data):
        """Check in: stress and energy 1-5, optional ProQOL 5 subscale scores (10-50) and a private note."""
        return service.submit_check_in(current_user, data), 201


@blp.route("/coaches/<int:coach_id>/wellness")
class CoachWellness(MethodView):
    @api_action("list", "wellness_check_in")
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, CheckInSchema(many=True))
    def get(self, query, coach_id):
        """A coach's check-ins, for their own supervisor only."""
        items, headers = paginate(service.coach_check_ins(current_user, coach_id), query)
        return items, 200, headers


@blp.route("/coaches/<int:coach_id>/supervision-sessions")
class SupervisionSessions(MethodView):
    @api_action("list", "supervision_session")
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, SupervisionSessionSchema(many=True))
    def get(self, query, coach_id):
        """Supervision sessions with the coach, newest first (supervisors)."""
        items, headers = paginate(service.supervision_sessions(current_user, coach_id), query)
        return items, 200, headers

    @api_action("create", "supervision_session")
    @blp.arguments(SupervisionSessionSchema)
    @blp.response(201, SupervisionSessionSchema)
    def post(self, data, coach_id):
        """Record a supervision session: when, how long, notes and follow-ups."""
        return service.record_supervision(current_user, coach_id, data), 201
