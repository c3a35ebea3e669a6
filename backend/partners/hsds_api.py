"""Open Referral HSDS 3.0 interchange: export and import under /api/v1/hsds, the read-only HSDS API under /hsds."""

from flask import Response, current_app, request, stream_with_context
from flask_jwt_extended import current_user
from marshmallow import fields, validate
from werkzeug.exceptions import RequestEntityTooLarge

from backend.api.actions import api_action
from backend.common.schemas import ApiBlueprint, ApiSchema
from backend.errors import ApiError
from backend.partners import hsds, hsds_export, hsds_import

blp = ApiBlueprint("hsds", __name__, url_prefix="/api/v1/hsds", description="HSDS 3.0 export and import")
public_blp = ApiBlueprint("hsds_api", __name__, url_prefix="/hsds", description="HSDS 3.0 read-only API")

# This API follows core HSDS 3.0 with no profile, so the profile is Open Referral's own.
PROFILE_URL = "https://openreferral.org/"
# A whole catalogue is larger than an ordinary API body (the app's limit is 1 MiB).
IMPORT_MAX_BYTES = 8 * 1024 * 1024
IMPORT_BODY = {"required": True, "content": {"application/json": {"schema": {
    "description": "An HSDS 3.0 document: {organizations, services}, an organization, a service, a list of "
                   "them, or a list page with contents.",
    "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}}}}


class HsdsPageQuerySchema(ApiSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))


@blp.route("/export")
@blp.response(200)
def export_catalogue():
    """The programme's partner catalogue as HSDS 3.0 JSON (any staff).

    Shape: `{"organizations": [organization...], "services": [service...]}`. Each organization validates
    against HSDS `schema/compiled/organization.json` and nests its services; each entry of `services`
    validates against `schema/compiled/service.json` (service_full) and names its organization with its
    one-to-one fields. Service types, payers, MOUD and walk-in / same-day intake are `attributes` with
    taxonomy terms of the `bridgeline-*` taxonomies; languages, ages, eligibility, hours (a schedule
    description), phones, point people (`contacts`), `locations`, verification (`assured_date`; an
    organization `metadata` entry "verified") and the latest capacity (HSDS 3.1 `capacities`) are mapped.
    Fields an import brought that the product does not model are exported as imported.
    """
    # Streamed a batch at a time: a large catalogue neither waits to be built whole nor sits in memory.
    return Response(stream_with_context(hsds_export.export_catalogue(current_user)), mimetype="application/json")


@blp.route("/import", methods=["POST"])
@api_action("import", "hsds")
@blp.doc(requestBody=IMPORT_BODY)
@blp.response(200)
def import_catalogue():
    """Import an HSDS 3.0 document, all or nothing, idempotent by id (supervisors and admins).

    The body is the export's shape, one organization or service, a list of them, or a list page
    (`contents`). Every record is validated against the HSDS schemas; problems come back as 422
    `hsds_invalid` with `errors` keyed by JSON path (e.g. `organizations[2].services[0].name`), and a
    body that is not HSDS at all as 422 `not_hsds`. A service must name an organization in the document
    or of the programme. Answers `{"organizations": {"created", "updated", "unchanged"}, "services": {...}}`.
    """
    limit = current_app.config.get("HSDS_IMPORT_MAX_BYTES", IMPORT_MAX_BYTES)
    request.max_content_length = limit
    try:
        body = request.get_json()
    except RequestEntityTooLarge as exc:
        raise ApiError(413, "payload_too_large", f"An HSDS import is limited to {limit // 1048576} MiB.") from exc
    return hsds_import.import_document(current_user, body)


@public_blp.route("/", strict_slashes=False)
@public_blp.response(200)
def api_info():
    """HSDS API information: the HSDS version, the profile and this API's OpenAPI document."""
    config = current_app.config
    openapi = f"{config['PUBLIC_BASE_URL']}{config['OPENAPI_URL_PREFIX'].rstrip('/')}/{config['OPENAPI_JSON_PATH']}"
    return {"version": hsds.HSDS_VERSION, "profile": PROFILE_URL, "openapi_url": openapi}


@public_blp.route("/services")
@public_blp.arguments(HsdsPageQuerySchema, location="query")
@public_blp.response(200)
def list_services(query):
    """One page of the programme's services (HSDS Page fields; contents in service_list shape)."""
    return hsds_export.service_page(current_user, query["page"], query["per_page"])


@public_blp.route("/services/<service_id>")
@public_blp.response(200)
def get_service(service_id):
    """One service, fully nested (service_full); 404 when missing or outside the programme."""
    return hsds_export.service_full(current_user, service_id)
