"""Partner catalogue rules: who edits, how services are found, capacity freshness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased, selectinload

from backend.audit import service as audit
from backend.database import db, utcnow
from backend.errors import ApiError, field_error, not_found
from backend.partners.models import (
    CapacityReport,
    Location,
    Organization,
    PartnerContact,
    Service,
    ServiceAttribute,
)
from backend.users.models import Role, User
from backend.users.service import require_role

CAPACITY_FRESH_FOR = timedelta(hours=24)
VERIFY_EVERY = timedelta(days=90)
ATTRIBUTE_FIELDS = {"service_types": "service_type", "payers": "payer", "moud": "moud", "languages": "language"}


def _lead(actor: User) -> None:
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)


def get_organization(actor: User, organization_id: str) -> Organization:
    org = db.session.get(Organization, organization_id)
    if org is None or org.program_id != actor.program_id:
        raise not_found("partner")
    return org


def list_organizations(actor: User, q: str | None = None, **service_filters) -> sa.Select:
    """Partners, optionally only those with a service matching every service filter (fresh capacity first)."""
    stmt = sa.select(Organization).where(Organization.program_id == actor.program_id)
    if q:
        stmt = stmt.where(sa.or_(Organization.name.icontains(q, autoescape=True),
                                 Organization.alternate_name.icontains(q, autoescape=True)))
    filters = {k: v for k, v in service_filters.items() if v is not None}
    if filters:
        matching = search_services(actor, **filters).subquery()
        stmt = stmt.where(Organization.id.in_(sa.select(matching.c.organization_id)))
    now = utcnow()
    fresh = (sa.select(CapacityReport.id).join(Service, Service.id == CapacityReport.service_id)
             .where(Service.organization_id == Organization.id, CapacityReport.available > 0,
                    CapacityReport.reported_at >= now - CAPACITY_FRESH_FOR).exists())
    return stmt.options(selectinload(Organization.services), selectinload(Organization.contacts),
                        selectinload(Organization.locations)).order_by(
        sa.case((fresh, 0), else_=1), Organization.name, Organization.id)


def create_organization(actor: User, data: dict) -> Organization:
    _lead(actor)
    org = Organization(program_id=actor.program_id, last_verified_at=utcnow(), **data)
    db.session.add(org)
    db.session.flush()
    audit.record("create", "partner", actor=actor, resource_id=org.id)
    return org


def update_organization(actor: User, organization_id: str, changes: dict) -> Organization:
    _lead(actor)
    org = get_organization(actor, organization_id)
    for field, value in changes.items():
        setattr(org, field, value)
    org.hsds_extra = _without(org.hsds_extra, changes)
    org.last_verified_at = utcnow()
    audit.record("update", "partner", actor=actor, resource_id=org.id, details={"fields": sorted(changes)})
    return org


def add_contact(actor: User, organization_id: str, data: dict) -> PartnerContact:
    """The point person at a partner (name, role, direct line, best hours)."""
    _lead(actor)
    org = get_organization(actor, organization_id)
    if data.get("service_id") and not any(s.id == data["service_id"] for s in org.services):
        raise field_error("service_id", "Not a service of this partner.")
    contact = PartnerContact(organization_id=org.id, **data)
    db.session.add(contact)
    db.session.flush()
    return contact


def add_location(org: Organization, data: dict) -> Location:
    location = Location(organization_id=org.id, **data)
    db.session.add(location)
    db.session.flush()
    return location


def _without(extra: dict | None, changes: dict) -> dict:
    """An imported HSDS value the product kept aside stops counting once staff edit that field."""
    return {k: v for k, v in (extra or {}).items() if k not in changes}


def _set_attributes(service: Service, data: dict) -> None:
    for field, kind in ATTRIBUTE_FIELDS.items():
        if field in data:
            values = sorted(set(data.pop(field) or []))
            service.attributes = [a for a in service.attributes if a.kind != kind] + [
                ServiceAttribute(kind=kind, value=v) for v in values]


def _check_ages(minimum: int | None, maximum: int | None) -> None:
    if minimum is not None and maximum is not None and minimum > maximum:
        raise field_error("maximum_age", "Must not be below minimum_age.")


def create_service(actor: User, organization_id: str, data: dict) -> Service:
    _lead(actor)
    org = get_organization(actor, organization_id)
    _check_ages(data.get("minimum_age"), data.get("maximum_age"))
    location = data.pop("location", None)
    service = Service(program_id=actor.program_id, organization_id=org.id, last_verified_at=utcnow())
    _set_attributes(service, data)
    for field, value in data.items():
        setattr(service, field, value)
    if location:
        service.location_id = add_location(org, location).id
    db.session.add(service)
    db.session.flush()
    audit.record("create", "service", actor=actor, resource_id=service.id)
    return with_capacity(actor, service.id)


def get_service(actor: User, service_id: str) -> Service:
    service = db.session.get(Service, service_id)
    if service is None or service.program_id != actor.program_id:
        raise not_found("service")
    return service


def update_service(actor: User, service_id: str, changes: dict) -> Service:
    _lead(actor)
    service = get_service(actor, service_id)
    _check_ages(changes.get("minimum_age", service.minimum_age), changes.get("maximum_age", service.maximum_age))
    service.hsds_extra = _without(service.hsds_extra, changes)
    _set_attributes(service, changes)
    for field, value in changes.items():
        setattr(service, field, value)
    service.last_verified_at = utcnow()
    db.session.flush()
    audit.record("update", "service", actor=actor, resource_id=service.id)
    return with_capacity(actor, service.id)


def report_capacity(actor: User, service_id: str, data: dict) -> Service:
    """Any staff member records what they learned about free capacity; who and when are kept."""
    service = get_service(actor, service_id)
    maximum = data.get("maximum")
    if maximum is not None and data["available"] > maximum:
        raise ApiError(422, "validation_error", "Available cannot exceed the maximum.",
                       errors={"available": ["Must not exceed maximum."]})
    report = CapacityReport(service_id=service.id, reported_by_id=actor.id, **data)
    db.session.add(report)
    db.session.flush()
    service.latest_capacity_id = report.id
    db.session.flush()
    audit.record("report", "capacity", actor=actor, resource_id=service.id)
    return with_capacity(actor, service.id)


def _capacity_join(stmt: sa.Select):
    capacity = aliased(CapacityReport)
    return stmt.add_columns(capacity).outerjoin(capacity, capacity.id == Service.latest_capacity_id), capacity


def search_services(actor: User, *, service_type: list[str] | None = None, payer: list[str] | None = None,
                    moud: list[str] | None = None, language: list[str] | None = None, age: int | None = None,
                    walk_in: bool | None = None, has_capacity: bool | None = None, q: str | None = None,
                    now: datetime | None = None) -> sa.Select:
    """Services matching every filter given; fresh free capacity first."""
    now = now or utcnow()
    stmt, capacity = _capacity_join(sa.select(Service).join(Organization, Organization.id == Service.organization_id)
                                    .where(Service.program_id == actor.program_id))
    for kind, values in (("service_type", service_type), ("payer", payer), ("moud", moud), ("language", language)):
        if values:
            stmt = stmt.where(sa.exists().where(ServiceAttribute.service_id == Service.id,
                                                ServiceAttribute.kind == kind, ServiceAttribute.value.in_(values)))
    if age is not None:
        stmt = stmt.where(sa.or_(Service.minimum_age.is_(None), Service.minimum_age <= age),
                          sa.or_(Service.maximum_age.is_(None), Service.maximum_age >= age))
    if walk_in is not None:
        stmt = stmt.where(Service.walk_in.is_(walk_in))
    fresh = sa.and_(capacity.reported_at >= now - CAPACITY_FRESH_FOR, capacity.available > 0)
    if has_capacity:
        stmt = stmt.where(fresh)
    if q:
        stmt = stmt.where(sa.or_(Service.name.icontains(q, autoescape=True),
                                 Organization.name.icontains(q, autoescape=True),
                                 Service.description.icontains(q, autoescape=True)))
    return (stmt.options(selectinload(Service.attributes), selectinload(Service.organization))
            .order_by(sa.case((fresh, 0), else_=1), Service.name, Service.id))


@dataclass(frozen=True)
class ServiceWithCapacity:
    """A service and its latest capacity report (not a tuple: a view returning a tuple means status/headers)."""

    service: Service
    capacity: CapacityReport | None


def with_capacity(actor: User, service_id: str) -> ServiceWithCapacity:
    """One service and its latest capacity report."""
    stmt, _capacity = _capacity_join(sa.select(Service).where(Service.id == service_id,
                                                              Service.program_id == actor.program_id))
    row = db.session.execute(stmt.options(selectinload(Service.attributes), selectinload(Service.organization))).first()
    if row is None:
        raise not_found("service")
    return ServiceWithCapacity(row[0], row[1])
