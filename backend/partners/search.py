"""Finding a service: cumulative filters, fresh free capacity first, one plain card per service.

A search is one statement for the page (its total rides along as a window
count) and one for the page's coded attributes: plain rows, no ORM objects,
so a page of 25 costs the same whatever the catalogue's size.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from backend.common.errors import not_found
from backend.common.pagination import page_total
from backend.database import db, utcnow
from backend.partners.models import CapacityReport, Location, Organization, PartnerContact, Service, ServiceAttribute
from backend.users.models import User

CAPACITY_FRESH_FOR = timedelta(hours=24)
VERIFY_EVERY = timedelta(days=90)
# Attribute kind -> the card's list of codes (and the query parameter is the kind).
CODED = {"service_type": "service_types", "payer": "payers", "moud": "moud", "language": "languages"}

LatestCapacity = aliased(CapacityReport, name="latest_capacity")
CARD_COLUMNS = (
    Service.id, Service.organization_id, Organization.name.label("organization_name"), Service.name,
    Service.description, Service.status, Service.minimum_age, Service.maximum_age, Service.eligibility_description,
    Service.walk_in, Service.same_day_intake, Service.hours, Service.phone, Service.email, Service.url,
    Service.last_verified_at, Location.address_1, Location.city, Location.state_province, Location.postal_code,
)
ADDRESS_KEYS = ("address_1", "city", "state_province", "postal_code")
# Words a coach types that mean a kind of capacity rather than a name ("detox bed").
CAPACITY_WORDS = {"bed": "bed", "beds": "bed", "slot": "slot", "slots": "slot"}
CAPACITY_KEYS = ("available", "maximum", "unit", "note", "reported_at", "reported_by_id")
CAPACITY_COLUMNS = tuple(getattr(LatestCapacity, key).label(f"capacity_{key}") for key in CAPACITY_KEYS)
CARD_KEYS = tuple(column.key for column in CARD_COLUMNS)


def has_fresh_capacity(now: datetime) -> sa.ColumnElement[bool]:
    """The latest report is under a day old and has room."""
    return sa.and_(LatestCapacity.reported_at >= now - CAPACITY_FRESH_FOR, LatestCapacity.available > 0)


def catalogue_select(program_id: int, *columns) -> sa.Select:
    """`columns` from the programme's services joined to their organisation and latest capacity report."""
    return (sa.select(*columns).select_from(Service)
            .join(Organization, Organization.id == Service.organization_id)
            .outerjoin(LatestCapacity, LatestCapacity.id == Service.latest_capacity_id)
            .outerjoin(Location, Location.id == Service.location_id)
            .where(Service.program_id == program_id))


def filter_services(stmt: sa.Select, now: datetime, *, service_type: list[str] | None = None,
                    payer: list[str] | None = None, moud: list[str] | None = None,
                    language: list[str] | None = None, age: int | None = None, walk_in: bool | None = None,
                    has_capacity: bool | None = None, q: str | None = None) -> sa.Select:
    """Keep the services matching every filter given (values within one coded filter are alternatives)."""
    given = {"service_type": service_type, "payer": payer, "moud": moud, "language": language}
    # One index range per coded filter, intersected: the services holding a code of every filter.
    coded = [sa.select(ServiceAttribute.service_id).where(ServiceAttribute.kind == kind,
                                                          ServiceAttribute.value.in_(values))
             for kind, values in given.items() if values]
    if coded:
        stmt = stmt.where(Service.id.in_(coded[0] if len(coded) == 1 else sa.intersect(*coded)))
    if age is not None:
        stmt = stmt.where(sa.or_(Service.minimum_age.is_(None), Service.minimum_age <= age),
                          sa.or_(Service.maximum_age.is_(None), Service.maximum_age >= age))
    if walk_in is not None:
        stmt = stmt.where(Service.walk_in.is_(walk_in))
    if has_capacity:
        stmt = stmt.where(has_fresh_capacity(now))
    if q:
        stmt = stmt.where(*(word_matches(word) for word in q.split()[:8]))
    return stmt


def word_matches(word: str) -> sa.ColumnElement[bool]:
    """One word of a search: in the service's or partner's name, the description, or a code ("detox",
    "harm" for harm_reduction, "spanish" is not a code: "es" is); "bed" means a bed is reported free."""
    if word.lower() in CAPACITY_WORDS:
        return sa.and_(LatestCapacity.unit == CAPACITY_WORDS[word.lower()], LatestCapacity.available > 0)
    coded = sa.select(ServiceAttribute.service_id).where(ServiceAttribute.value.icontains(word, autoescape=True))
    return sa.or_(Service.name.icontains(word, autoescape=True), Organization.name.icontains(word, autoescape=True),
                  Service.description.icontains(word, autoescape=True), Service.id.in_(coded))


def search_services(actor: User, page: int, page_size: int, now: datetime | None = None,
                    **filters) -> tuple[list[dict], int]:
    """One page of service cards matching every filter, fresh free capacity first, and the total."""
    now = now or utcnow()
    columns = (*CARD_COLUMNS, *CAPACITY_COLUMNS, sa.func.count().over())
    stmt = filter_services(catalogue_select(actor.program_id, *columns), now, **filters)
    rows = db.session.execute(
        stmt.order_by(sa.case((has_fresh_capacity(now), 0), else_=1), Service.name, Service.id)
        .limit(page_size).offset((page - 1) * page_size)).all()
    def count() -> sa.Select:
        return sa.select(sa.func.count()).select_from(
            filter_services(catalogue_select(actor.program_id, Service.id), now, **filters).subquery())

    return service_cards(rows, now), page_total(rows, page, count)


def service_card(actor: User, service_id: str) -> dict:
    """One service of the caller's programme as a card, with its latest capacity; 404 outside the programme."""
    row = db.session.execute(catalogue_select(actor.program_id, *CARD_COLUMNS, *CAPACITY_COLUMNS)
                             .where(Service.id == service_id)).first()
    if row is None:
        raise not_found("service")
    return service_cards([row], utcnow())[0]


def service_cards(rows, now: datetime) -> list[dict]:
    """Cards for rows of CARD_COLUMNS + CAPACITY_COLUMNS: coded lists, capacity with staleness, overdue flag."""
    if not rows:
        return []
    codes = {row.id: {key: [] for key in CODED.values()} for row in rows}
    attributes = (sa.select(ServiceAttribute.service_id, ServiceAttribute.kind, ServiceAttribute.value)
                  .where(ServiceAttribute.service_id.in_(list(codes)), ServiceAttribute.kind.in_(list(CODED)))
                  .order_by(ServiceAttribute.service_id, ServiceAttribute.kind, ServiceAttribute.value))
    for service_id, kind, value in db.session.execute(attributes):
        codes[service_id][CODED[kind]].append(value)
    stale_before, overdue_before = now - CAPACITY_FRESH_FOR, now - VERIFY_EVERY
    people = point_people(rows)
    cards = []
    for row in rows:
        values = row._mapping
        card = {key: values[key] for key in CARD_KEYS if key not in ADDRESS_KEYS}
        parts = [values["address_1"], values["city"], " ".join(p for p in (values["state_province"],
                                                                           values["postal_code"]) if p)]
        card["address"] = ", ".join(p for p in parts if p) or None
        card["point_person"] = people.get(row.id)
        card.update(codes[row.id])
        verified = card["last_verified_at"]
        card["verification_overdue"] = verified is None or verified < overdue_before
        reported = values["capacity_reported_at"]
        card["capacity"] = None if reported is None else {
            **{key: values[f"capacity_{key}"] for key in CAPACITY_KEYS}, "stale": reported < stale_before}
        cards.append(card)
    return cards


def point_people(rows) -> dict[str, dict]:
    """The person to call for each service: its own contact, else the partner's (one query for the page)."""
    orgs = {row.organization_id for row in rows}
    found = db.session.execute(
        sa.select(PartnerContact.organization_id, PartnerContact.service_id, PartnerContact.name,
                  PartnerContact.title, PartnerContact.phone, PartnerContact.best_hours)
        .where(PartnerContact.organization_id.in_(orgs)).order_by(PartnerContact.name, PartnerContact.id)).all()
    by_service = {c.service_id: c for c in found if c.service_id}
    by_org = {}
    for c in found:
        if c.service_id is None:
            by_org.setdefault(c.organization_id, c)
    result = {}
    for row in rows:
        person = by_service.get(row.id) or by_org.get(row.organization_id)
        if person is not None:
            result[row.id] = {"name": person.name, "title": person.title, "phone": person.phone,
                              "best_hours": person.best_hours}
    return result
