"""Timeline endpoint."""

from flask.views import MethodView
from flask_jwt_extended import current_user
from marshmallow import fields, validate

from backend.api.actions import api_action
from backend.common.schemas import ApiBlueprint, ApiSchema, PageQuerySchema, UtcDateTime
from backend.timeline import service
from backend.timeline.sources import SOURCES

blp = ApiBlueprint("timeline", __name__, url_prefix="/api/v1", description="Patient timeline")


class TimelineQuerySchema(PageQuerySchema):
    kind = fields.List(fields.String(validate=validate.OneOf([s.kind for s in SOURCES])))
    when = fields.String(load_default="past", validate=validate.OneOf(["past", "upcoming"]), metadata={
        "description": "past (default): what happened, newest first; upcoming: texts still to go out, soonest first"})
    include_cancelled = fields.Boolean(load_default=False, metadata={
        "description": "Also show cancelled texts (superseded reminders, texts cancelled by STOP or closing)"})


class TimelineEntrySchema(ApiSchema):
    kind = fields.String(metadata={"enum": [s.kind for s in SOURCES]})
    id = fields.Integer()
    occurred_at = UtcDateTime()
    data = fields.Dict(metadata={"description": "The record, shaped as its own endpoint shows it"})


@blp.route("/patients/<int:patient_id>/timeline")
class PatientTimeline(MethodView):
    @api_action("read", "timeline")
    @blp.arguments(TimelineQuerySchema, location="query")
    @blp.response(200, TimelineEntrySchema(many=True))
    def get(self, query, patient_id):
        """Everything that happened to the patient, newest first; `when=upcoming` for the texts still to go out."""
        entries, headers = service.patient_timeline(
            current_user, patient_id, query["page"], query["page_size"], query.get("kind"), query["when"],
            query["include_cancelled"])
        return entries, 200, headers
