"""Report endpoints."""

from flask import Response, request
from flask.views import MethodView
from flask_jwt_extended import current_user
from marshmallow import Schema, fields, validate

from backend.api.actions import api_action
from backend.common.schemas import ApiBlueprint, ApiSchema
from backend.reports import partners

blp = ApiBlueprint("reports", __name__, url_prefix="/api/v1/reports", description="Reports for supervisors")


class DaysQuerySchema(ApiSchema):
    days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=730))


class PartnerOutcomeSchema(Schema):
    organization_id = fields.String()
    organization_name = fields.String()
    handoffs = fields.Integer()
    accepted = fields.Integer()
    completed = fields.Integer()
    no_shows = fields.Integer()
    show_rate = fields.Float(allow_none=True)
    median_days_to_attendance = fields.Float(allow_none=True)
    inbound_referrals = fields.Integer()


@blp.route("/partners")
class PartnerOutcomes(MethodView):
    @api_action("report", "partner_outcomes")
    @blp.arguments(DaysQuerySchema, location="query")
    @blp.response(200, PartnerOutcomeSchema(many=True))
    @blp.doc(responses={"200": {"description": "The report, as JSON or (Accept: text/csv) a spreadsheet",
                                "content": {"application/json": {"schema": PartnerOutcomeSchema(many=True)},
                                            "text/csv": {"schema": {"type": "string"}}}}})
    def get(self, query):
        """Per partner: handoffs, accepted, attended, no-shows, show rate, median days, inbound referrals.

        Send `Accept: text/csv` for a spreadsheet.
        """
        report = partners.partner_outcomes(current_user, query["days"])
        if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
            return Response(partners.as_csv(report), mimetype="text/csv",
                            headers={"Content-Disposition": "attachment; filename=partner-outcomes.csv"})
        return report
