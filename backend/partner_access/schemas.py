"""Partner key schemas: what an admin sends to issue a key, what is listed (never the secret), what a partner sees."""

from marshmallow import fields, validate

from backend.common.schemas import ApiSchema, PageQuerySchema, UtcDateTime, nullable
from backend.handoffs.models import FhirTaskStatus, HandoffKind
from backend.partner_access.service import SCOPES


class PartnerKeyCreateSchema(ApiSchema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=100), metadata={
        "description": "Whose system this is, for people: e.g. 'Harbor Recovery EHR'."})
    scopes = fields.List(fields.String(validate=validate.OneOf(tuple(SCOPES))), required=True,
                         validate=validate.Length(min=1, max=len(SCOPES)), metadata={
                             "description": "hsds:read and/or fhir:handoffs."})
    organization_id = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=36), metadata={
        "description": "The partner organisation the key speaks for (required with fhir:handoffs)."})


@nullable("organization_id", "last_used_at", "revoked_at", "created_by_id")
class PartnerKeySchema(ApiSchema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    prefix = fields.String(dump_only=True, metadata={"description": "What the key starts with (not secret)."})
    scopes = fields.List(fields.String(), dump_only=True)
    organization_id = fields.String(dump_only=True)
    active = fields.Boolean(dump_only=True)
    created_by_id = fields.Integer(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    last_used_at = UtcDateTime(dump_only=True)
    revoked_at = UtcDateTime(dump_only=True)


class IssuedPartnerKeySchema(PartnerKeySchema):
    key = fields.String(dump_only=True, metadata={
        "description": "The secret key, shown this once: only its digest is kept."})


@nullable("appointment_at")
class PartnerHandoffSchema(ApiSchema):
    """A handoff addressed to the partner, as listed: no patient identity (that is in the FHIR bundle)."""

    id = fields.Integer(dump_only=True)
    reference = fields.String(dump_only=True)
    kind = fields.Enum(HandoffKind, by_value=True, dump_only=True)
    status = fields.Enum(FhirTaskStatus, by_value=True, dump_only=True)
    service_id = fields.String(dump_only=True)
    appointment_at = UtcDateTime(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)
    fhir_url = fields.String(dump_only=True)


class PartnerHandoffQuerySchema(PageQuerySchema):
    pass
