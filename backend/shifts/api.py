"""Shift endpoint."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.common.schemas import ApiBlueprint
from backend.shifts import service
from backend.shifts.schemas import ShiftRequestSchema, ShiftStateSchema

blp = ApiBlueprint("shifts", __name__, url_prefix="/api/v1", description="Shifts")


@blp.route("/me/shift")
class MyShift(MethodView):
    @blp.response(200, ShiftStateSchema)
    def get(self):
        """Whether you are on shift, since when, and the programme's maximum shift length."""
        return service.current_shift(current_user)

    @api_action("update", "shift")
    @blp.arguments(ShiftRequestSchema)
    @blp.response(200, ShiftStateSchema)
    def put(self, data):
        """Go on or off shift. Only on-shift coaches receive automatic assignments."""
        return service.set_shift(current_user, data["on_shift"])
