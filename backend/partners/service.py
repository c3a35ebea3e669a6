"""Partner catalogue rules: who edits partners and services, capacity reports, the partner list."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from backend.audit import service as audit
from backend.common.errors import field_error, not_found
from backend.common.pagination import page_of
from backend.database import db, utcnow
from backend.partners import search
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

ATTRIBUTE_FIELDS = {"service_types": "service_type", "payers": "payer", "moud": "moud", "languages": "language"}


def _lead(actor: User) -> None:
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)


def get_organization(actor: User, organization_id: str) -> Organization:
    """A partner of the caller's programme; 404 outside it."""
    org = db.session.get(Organization, organization_id)
    if org is None or org.program_id != actor.program_id:
        raise not_found("partner")
    return org


def search_partners(actor: User, page: int, page_size: int, **filters) -> tuple[list[Organization], int]:
    """One page of partners (see list_organizations) and the total."""
    return page_of(list_organizations(actor, **filters), page, page_size)


def list_organizations(actor: User, q: str | None = None, **service_filters) -> sa.Select:
    """Partners, optionally only those with a service matching every service filter (fresh capacity first)."""
    now = utcnow()
    stmt = sa.select(Organization).where(Organization.program_id == actor.program_id)
    if q:  # the partner's own names, or any of its services (names, descriptions, types): "detox" finds them
        services = search.filter_services(search.catalogue_select(actor.program_id, Service.organization_id), now,
                                          q=q)
        stmt = stmt.where(sa.or_(Organization.name.icontains(q, autoescape=True),
                                 Organization.alternate_name.icontains(q, autoescape=True),
                                 Organization.id.in_(services)))
    filters = {k: v for k, v in service_filters.items() if v is not None}
    if filters:
        matching = search.filter_services(search.catalogue_select(actor.program_id, Service.organization_id),
                                          now, **filters)
        stmt = stmt.where(Organization.id.in_(matching))
    # Correlated on the outer partner (catalogue_select would join its own organizations and never correlate).
    fresh = (sa.select(Service.id)
             .join(search.LatestCapacity, search.LatestCapacity.id == Service.latest_capacity_id)
             .where(Service.organization_id == Organization.id, search.has_fresh_capacity(now)).exists())
    return stmt.options(selectinload(Organization.services), selectinload(Organization.contacts),
                        selectinload(Organization.locations)).order_by(
        sa.case((fresh, 0), else_=1), Organization.name, Organization.id)


def create_organization(actor: User, data: dict) -> Organization:
    """Add a partner (supervisors and admins); it counts as verified today."""
    _lead(actor)
    org = Organization(program_id=actor.program_id, last_verified_at=utcnow(), **data)
    db.session.add(org)
    db.session.flush()
    audit.record("create", "partner", actor=actor, resource_id=org.id)
    return org


def update_organization(actor: User, organization_id: str, changes: dict) -> Organization:
    """Edit a partner (supervisors and admins); saving marks it verified today."""
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
    if not (data.get("name") or "").strip():
        raise field_error("name", "Who to ask for: a name or a desk (e.g. \"Intake desk\").")
    contact = PartnerContact(organization_id=org.id, **data)
    db.session.add(contact)
    db.session.flush()
    audit.record("create", "partner_contact", actor=actor, resource_id=contact.id)
    return contact


def add_location(org: Organization, data: dict, actor: User | None = None) -> Location:
    """Add a site (address) to a partner (a lead, or a service created with its site)."""
    if actor is not None:
        _lead(actor)
        if org.program_id != actor.program_id:
            raise not_found("partner")
    location = Location(organization_id=org.id, **data)
    db.session.add(location)
    db.session.flush()
    if actor is not None:
        audit.record("create", "location", actor=actor, resource_id=location.id)
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


def create_service(actor: User, organization_id: str, data: dict) -> dict:
    """Add a service to a partner (supervisors and admins): its card, with no capacity yet."""
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
    return search.service_card(actor, service.id)


def get_service(actor: User, service_id: str) -> Service:
    """A service of the caller's programme; 404 outside it."""
    service = db.session.get(Service, service_id)
    if service is None or service.program_id != actor.program_id:
        raise not_found("service")
    return service


def update_service(actor: User, service_id: str, changes: dict) -> dict:
    """Edit a service (supervisors and admins); saving marks it verified today. Returns its card."""
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
    return search.service_card(actor, service.id)


def report_capacity(actor: User, service_id: str, data: dict) -> dict:
    """Any staff member records what they learned about free capacity; who and when are kept."""
    service = get_service(actor, service_id)
    maximum = data.get("maximum")
    if maximum is not None and data["available"] > maximum:
        raise field_error("available", "Must not exceed maximum.")
    report = CapacityReport(service_id=service.id, reported_by_id=actor.id, **data)
    db.session.add(report)
    db.session.flush()
    service.latest_capacity_id = report.id
    db.session.flush()
    audit.record("report", "capacity", actor=actor, resource_id=service.id)
    return search.service_card(actor, service.id)


def services_to_verify(actor: User, limit: int = 200) -> list[dict]:
    """Cards of services not verified in 90 days, never-verified first then the oldest (supervisors call them)."""
    _lead(actor)
    now = utcnow()
    stmt = (search.catalogue_select(actor.program_id, *search.CARD_COLUMNS, *search.CAPACITY_COLUMNS)
            .where(sa.or_(Service.last_verified_at.is_(None), Service.last_verified_at < now - search.VERIFY_EVERY))
            .order_by(Service.last_verified_at.is_not(None), Service.last_verified_at, Service.name, Service.id))
    return search.service_cards(db.session.execute(stmt.limit(limit)).all(), now)


def confirm_service(actor: User, service_id: str) -> dict:
    """A lead confirmed a service's details with the partner: it counts as verified today."""
    return update_service(actor, service_id, {})
