"""Audit log endpoint (programme admins)."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.audit import service
from backend.audit.schemas import AuditEventSchema, AuditQuerySchema
from backend.common.pagination import filters, paginate
from backend.common.schemas import ApiBlueprint
from backend.users.models import Role
from backend.users.service import require_role

blp = ApiBlueprint("audit", __name__, url_prefix="/api/v1", description="Audit trail")


@blp.route("/audit-events")
class AuditEvents(MethodView):
    @api_action("list", "audit_event")
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    def get(self, query):
        """Who read or changed what in your programme, newest first (admins)."""
        require_role(current_user, Role.ADMIN)
        items, headers = paginate(service.list_events(current_user, **filters(query)), query)
        service.record("list", "audit_event", actor=current_user, details={"count": len(items)})
        return items, 200, headers
