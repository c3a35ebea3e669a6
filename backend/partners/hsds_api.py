"""Open Referral HSDS 3.0 interchange: export and import under /api/v1/hsds, the read-only HSDS API under /hsds."""

from flask import Response, current_app, g, request, stream_with_context
from flask_jwt_extended import current_user
from marshmallow import ValidationError, fields, post_load, validate, validates_schema
from werkzeug.exceptions import RequestEntityTooLarge

from backend.api.actions import api_action
from backend.common.schemas import ApiBlueprint, ApiSchema, UtcDateTime
from backend.errors import ApiError
from backend.partners import hsds, hsds_export, hsds_import, hsds_read

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
PER_PAGE, PER_PAGE_MAX = 25, 100
MINIMAL_PER_PAGE = 5000  # minimal=true: "aim to return all services within one page"
NDJSON = "application/x-ndjson"
# The list endpoints answer a Page as JSON, or with format=ndjson every matching record, one JSON object a line.
NDJSON_RESPONSE = {"responses": {"200": {"description": "An HSDS Page, or (format=ndjson) every match", "content": {
    "application/json": {"schema": {"type": "object", "description": "An HSDS Page: its fields and contents"}},
    NDJSON: {"schema": {"type": "string", "description": "format=ndjson: one HSDS object a line, every match"}}}}}}
ID = validate.Length(max=100)


class HsdsListQuerySchema(ApiSchema):
    """The query parameters the HSDS specification gives its list endpoints."""

    search = fields.String(validate=validate.Length(max=200), metadata={
        "description": "Full text search: every word must match (names, descriptions, codes such as detox)."})
    taxonomy_term_id = fields.String(validate=ID, metadata={
        "description": "Records carrying this taxonomy term (a bridgeline-* term maps to the service's code)."})
    taxonomy_id = fields.String(validate=ID, metadata={
        "description": "Records carrying any term of this taxonomy."})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(validate=validate.Range(min=1, max=MINIMAL_PER_PAGE), metadata={
        "description": f"Default {PER_PAGE}, at most {PER_PAGE_MAX} ({MINIMAL_PER_PAGE} with minimal=true)."})
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "ndjson")), metadata={
        "description": "json: one page; ndjson: every matching record, one JSON object a line, unpaged."})

    @validates_schema
    def _page_size(self, data, **_kwargs):
        if data.get("per_page", 0) > PER_PAGE_MAX and not data.get("minimal"):
            raise ValidationError(f"Must be between 1 and {PER_PAGE_MAX} (up to {MINIMAL_PER_PAGE} with "
                                  "minimal=true).", "per_page")

    @post_load
    def _default_page_size(self, data, **_kwargs):
        data.setdefault("per_page", MINIMAL_PER_PAGE if data.get("minimal") else PER_PAGE)
        return data


class HsdsServicesQuerySchema(HsdsListQuerySchema):
    organization_id = fields.String(validate=ID, metadata={"description": "That organization's services."})
    modified_after = UtcDateTime(metadata={
        "description": "Services changed (or whose organization changed) at or after this date-time."})
    minimal = fields.Boolean(load_default=False, metadata={
        "description": "Items of just id and modified_date (all services in one page where possible)."})
    full = fields.Boolean(load_default=False, metadata={"description": "Fully nested services (service_full)."})

    @validates_schema
    def _one_shape(self, data, **_kwargs):
        if data.get("minimal") and data.get("full"):
            raise ValidationError("Choose minimal or full, not both.", "minimal")


class HsdsOrganizationsQuerySchema(HsdsListQuerySchema):
    full = fields.Boolean(load_default=False, metadata={"description": "Fully nested organizations."})
    full_service = fields.Boolean(load_default=False, metadata={
        "description": "Nest each organization's services in full."})


class HsdsOrganizationQuerySchema(ApiSchema):
    full_service = fields.Boolean(load_default=False, metadata={
        "description": "Nest the services in full (else their one-to-one fields)."})


class HsdsImportQuerySchema(ApiSchema):
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "Check and report (counts, warnings, errors) without writing anything."})


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
@blp.arguments(HsdsImportQuerySchema, location="query")
@blp.doc(requestBody=IMPORT_BODY)
@blp.response(200)
def import_catalogue(query):
    """Import an HSDS 3.0 document, idempotent by id (supervisors and admins); invalid HSDS is refused whole.

    The body is the export's shape, one organization or service, a list of them, or a list page
    (`contents`). Every record is validated against the official HSDS schemas with format checks (uri,
    date-time, email, uuid); an id may appear once per list and copies of a record must agree. Any problem
    refuses the whole document: 422 `hsds_invalid` with every problem in `errors` keyed by JSON path (e.g.
    `organizations[2].services[0].url`, the first 100; `error_count` counts them). A body that is not HSDS, or
    is another HSDS type (`hsds_type`, e.g. taxonomy_term, location), is 422 `not_hsds`. Valid HSDS always
    imports: what the catalogue cannot hold as given (empty or very long names, ages it cannot use, a service
    without a known organization, a point person or location under two organizations, over-long text) is
    kept as imported and exported again, and listed in `warnings` by JSON path (`warning_count`). Answers
    `{"organizations": {"created", "updated", "unchanged"}, "services": {...}, "warnings": {...},
    "warning_count": n}`; `dry_run=true` answers the same (with `"dry_run": true`) and writes nothing.
    """
    limit = current_app.config.get("HSDS_IMPORT_MAX_BYTES", IMPORT_MAX_BYTES)
    request.max_content_length = limit
    try:
        body = request.get_json()
    except RequestEntityTooLarge as exc:
        raise ApiError(413, "payload_too_large", f"An HSDS import is limited to {limit // 1048576} MiB.") from exc
    return hsds_import.import_document(current_user, body, dry_run=query["dry_run"])


@public_blp.route("/", strict_slashes=False)
@public_blp.response(200)
def api_info():
    """HSDS API information: the HSDS version, the profile and this API's OpenAPI document."""
    config = current_app.config
    openapi = f"{config['PUBLIC_BASE_URL']}{config['OPENAPI_URL_PREFIX'].rstrip('/')}/{config['OPENAPI_JSON_PATH']}"
    return {"version": hsds.HSDS_VERSION, "profile": PROFILE_URL, "openapi_url": openapi}


def _reader():
    """Who reads the HSDS API: a partner system's key (hsds:read, its programme), else the staff member."""
    return g.get("partner_key") or current_user


def _ndjson(kind: str, query: dict) -> Response:
    return Response(stream_with_context(hsds_read.stream(kind, _reader(), query)), mimetype=NDJSON)


@public_blp.route("/services")
@public_blp.arguments(HsdsServicesQuerySchema, location="query")
@public_blp.doc(**NDJSON_RESPONSE)
@public_blp.response(200)
def list_services(query):
    """One page of the programme's services (HSDS Page fields; contents in service_list shape).

    The specification's parameters: `search`, `taxonomy_term_id`, `taxonomy_id`, `organization_id`,
    `modified_after`, `minimal` (items of `id` and `modified_date`), `full` (service_full items), `page`,
    `per_page`, `format` (`ndjson`: every match, one a line). The product's `bridgeline-*` taxonomy terms
    map to its codes (service types, payers, MOUD, walk-in / same-day intake); other ids match the attributes
    an import brought. Sorted by name, then id.
    """
    if query["format"] == "ndjson":
        return _ndjson("services", query)
    return hsds_read.service_page(_reader(), query)


@public_blp.route("/services/<service_id>")
@public_blp.response(200)
def get_service(service_id):
    """One service, fully nested (service_full); 404 when missing or outside the programme."""
    return hsds_read.service_full(_reader(), service_id)


@public_blp.route("/organizations")
@public_blp.arguments(HsdsOrganizationsQuerySchema, location="query")
@public_blp.doc(**NDJSON_RESPONSE)
@public_blp.response(200)
def list_organizations(query):
    """One page of the programme's organizations (HSDS Page fields; contents in organization_list shape).

    `search` (name, alternate name, description), `taxonomy_term_id` / `taxonomy_id` (an organization one of
    whose services carries it, or that carries it itself), `full` (fully nested organizations, services with
    their one-to-one fields), `full_service` (services nested in full), `page`, `per_page`, `format`.
    """
    if query["format"] == "ndjson":
        return _ndjson("organizations", query)
    return hsds_read.organization_page(_reader(), query)


@public_blp.route("/organizations/<organization_id>")
@public_blp.arguments(HsdsOrganizationQuerySchema, location="query")
@public_blp.response(200)
def get_organization(query, organization_id):
    """One organization, fully nested (organization.json), its services with their one-to-one fields
    (`full_service=true`: in full); 404 when missing or outside the programme."""
    return hsds_read.organization_full(_reader(), organization_id, query["full_service"])
