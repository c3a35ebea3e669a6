"""Partner catalogue endpoints: partners, services, point people, capacity."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.common.schemas import ApiBlueprint
from backend.partners import search, service
from backend.partners.catalogue_cache import cached_page
from backend.partners.schemas import (
    CapacitySchema,
    OrganizationSchema,
    OrganizationUpdateSchema,
    PartnerContactSchema,
    PartnerQuerySchema,
    ServiceInSchema,
    ServiceOutSchema,
    ServiceQuerySchema,
    ServiceUpdateSchema,
)

blp = ApiBlueprint("partners", __name__, url_prefix="/api/v1", description="Partner catalogue (HSDS-shaped)")
SERVICE_CARDS = ServiceOutSchema(many=True)
PARTNERS = OrganizationSchema(many=True)
NOT_MODIFIED = "Not modified: the ETag sent in If-None-Match is still current (no body)."


@blp.route("/partners")
class Partners(MethodView):
    @blp.arguments(PartnerQuerySchema, location="query")
    @blp.response(200, OrganizationSchema(many=True))
    @blp.alt_response(304, description=NOT_MODIFIED, success=True)
    def get(self, query):
        """Partners with their point people; service filters keep partners with a matching service."""
        return cached_page(current_user, "partners", query, service.search_partners, PARTNERS)

    @api_action("create", "partner")
    @blp.arguments(OrganizationSchema)
    @blp.response(201, OrganizationSchema)
    def post(self, data):
        """Add a partner organisation (supervisors and admins)."""
        return service.create_organization(current_user, data), 201


@blp.route("/partners/<organization_id>")
class PartnerItem(MethodView):
    @blp.response(200, OrganizationSchema)
    def get(self, organization_id):
        """One partner."""
        return service.get_organization(current_user, organization_id)

    @api_action("update", "partner")
    @blp.arguments(OrganizationUpdateSchema)
    @blp.response(200, OrganizationSchema)
    def patch(self, changes, organization_id):
        """Edit a partner; saving marks it verified today."""
        return service.update_organization(current_user, organization_id, changes)


@blp.route("/partners/<organization_id>/contacts")
class PartnerContacts(MethodView):
    @api_action("create", "partner_contact")
    @blp.arguments(PartnerContactSchema)
    @blp.response(201, PartnerContactSchema)
    def post(self, data, organization_id):
        """Add the point person for a partner or one of its services."""
        return service.add_contact(current_user, organization_id, data), 201


@blp.route("/partners/<organization_id>/services")
class PartnerServices(MethodView):
    @api_action("create", "service")
    @blp.arguments(ServiceInSchema)
    @blp.response(201, ServiceOutSchema)
    def post(self, data, organization_id):
        """Add a service: types, payers, ages, MOUD, languages, walk-in, hours."""
        return service.create_service(current_user, organization_id, data), 201


@blp.route("/services")
class Services(MethodView):
    @blp.arguments(ServiceQuerySchema, location="query")
    @blp.response(200, ServiceOutSchema(many=True))
    @blp.alt_response(304, description=NOT_MODIFIED, success=True)
    def get(self, query):
        """Find a service: every filter must match; fresh free capacity first."""
        return cached_page(current_user, "services", query, search.search_services, SERVICE_CARDS)


@blp.route("/services/<service_id>")
class ServiceItem(MethodView):
    @blp.response(200, ServiceOutSchema)
    def get(self, service_id):
        """One service with its latest capacity."""
        return search.service_card(current_user, service_id)

    @api_action("update", "service")
    @blp.arguments(ServiceUpdateSchema)
    @blp.response(200, ServiceOutSchema)
    def patch(self, changes, service_id):
        """Edit a service; saving marks it verified today."""
        return service.update_service(current_user, service_id, changes)


@blp.route("/services/<service_id>/capacity")
class ServiceCapacity(MethodView):
    @api_action("report", "capacity")
    @blp.arguments(CapacitySchema)
    @blp.response(201, ServiceOutSchema)
    def post(self, data, service_id):
        """Report free capacity learned on the phone (any staff); older than 24 h it shows as stale."""
        return service.report_capacity(current_user, service_id, data), 201
