"""Partner catalogue schemas."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.common.schemas import ApiSchema, PageQuerySchema, PhoneNumber, UtcDateTime, nullable
from backend.partners.vocabulary import CAPACITY_UNITS, MOUD, PAYERS, SERVICE_TYPES

LANGUAGE = fields.String(validate=validate.Regexp(r"^[a-z]{2,3}$", error="Use an ISO 639 code such as en or es."))

# HSDS names have no maximum: they are stored as text, bounded only as any text the API takes.
NAME_MAX = 10_000


def codes(vocabulary: dict) -> fields.List:
    return fields.List(fields.String(validate=validate.OneOf(list(vocabulary))))


class LocationSchema(ApiSchema):
    id = fields.String(dump_only=True)
    name = fields.String(allow_none=True, validate=validate.Length(max=NAME_MAX))
    address_1 = fields.String(allow_none=True, validate=validate.Length(max=200))
    city = fields.String(allow_none=True, validate=validate.Length(max=100))
    state_province = fields.String(allow_none=True, validate=validate.Length(max=100))
    postal_code = fields.String(allow_none=True, validate=validate.Length(max=20))
    country = fields.String(load_default="US", validate=validate.Length(equal=2))


@nullable("name")
class PartnerContactSchema(ApiSchema):
    id = fields.String(dump_only=True)
    service_id = fields.String(allow_none=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX))
    title = fields.String(allow_none=True, validate=validate.Length(max=200))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = PhoneNumber(allow_none=True)
    best_hours = fields.String(allow_none=True, validate=validate.Length(max=200))


@nullable("reported_by_id")
class CapacitySchema(ApiSchema):
    available = fields.Integer(required=True, validate=validate.Range(min=0, max=10000))
    maximum = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=10000))
    unit = fields.String(load_default="bed", validate=validate.OneOf(list(CAPACITY_UNITS)))
    note = fields.String(allow_none=True, validate=validate.Length(max=500))
    reported_at = UtcDateTime(dump_only=True)
    reported_by_id = fields.Integer(dump_only=True)
    stale = fields.Boolean(dump_only=True)


class ServiceInSchema(ApiSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX))
    description = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(["active", "inactive", "defunct", "temporarily closed"]))
    service_types = codes(SERVICE_TYPES)
    payers = codes(PAYERS)
    moud = codes(MOUD)
    languages = fields.List(LANGUAGE)
    minimum_age = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=120))
    maximum_age = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=120))
    eligibility_description = fields.String(allow_none=True)
    walk_in = fields.Boolean()
    same_day_intake = fields.Boolean()
    hours = fields.String(allow_none=True, validate=validate.Length(max=500))
    phone = PhoneNumber(allow_none=True)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    url = fields.Url(allow_none=True, validate=validate.Length(max=500))
    location = fields.Nested(LocationSchema, load_only=True)


class ServiceUpdateSchema(ServiceInSchema):
    class Meta:
        exclude = ("location",)

    name = fields.String(validate=validate.Length(min=1, max=NAME_MAX))


class PointPersonSchema(Schema):
    name = fields.String()
    title = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    best_hours = fields.String(allow_none=True)


@nullable("capacity")
class ServiceOutSchema(Schema):
    """A service card (backend/partners/search.py): what a coach needs to pick and call a partner."""

    id = fields.String()
    organization_id = fields.String()
    organization_name = fields.String()
    name = fields.String()
    description = fields.String(allow_none=True)
    status = fields.String()
    service_types = fields.List(fields.String())
    payers = fields.List(fields.String())
    moud = fields.List(fields.String())
    languages = fields.List(fields.String())
    minimum_age = fields.Integer(allow_none=True)
    maximum_age = fields.Integer(allow_none=True)
    eligibility_description = fields.String(allow_none=True)
    walk_in = fields.Boolean()
    same_day_intake = fields.Boolean()
    hours = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    address = fields.String(allow_none=True, metadata={"description": "Street, city, state and postal code"})
    point_person = fields.Nested(PointPersonSchema, allow_none=True, metadata={
        "description": "The person to ask for: the service's own contact, else the partner's"})
    last_verified_at = UtcDateTime(allow_none=True)
    verification_overdue = fields.Boolean()
    capacity = fields.Nested(CapacitySchema, allow_none=True)


@nullable("description", "last_verified_at")
class OrganizationSchema(ApiSchema):
    id = fields.String(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX))
    alternate_name = fields.String(allow_none=True, validate=validate.Length(max=NAME_MAX))
    description = fields.String(load_default="")
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    website = fields.Url(allow_none=True, validate=validate.Length(max=500))
    phone = PhoneNumber(allow_none=True)
    last_verified_at = UtcDateTime(dump_only=True)
    contacts = fields.List(fields.Nested(PartnerContactSchema), dump_only=True)
    locations = fields.List(fields.Nested(LocationSchema), dump_only=True)
    service_ids = fields.Function(lambda org: [s.id for s in org.services], dump_only=True)


class OrganizationUpdateSchema(OrganizationSchema):
    name = fields.String(validate=validate.Length(min=1, max=NAME_MAX))
    description = fields.String()


class ServiceQuerySchema(PageQuerySchema):
    service_type = codes(SERVICE_TYPES)
    payer = codes(PAYERS)
    moud = codes(MOUD)
    language = fields.List(LANGUAGE)
    age = fields.Integer(validate=validate.Range(min=0, max=120))
    walk_in = fields.Boolean()
    has_capacity = fields.Boolean()
    q = fields.String(validate=validate.Length(min=1, max=100))


class PartnerQuerySchema(ServiceQuerySchema):
    """The service filters apply to partners too: a partner matches when one of its services does."""
