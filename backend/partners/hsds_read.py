"""The read-only HSDS 3.0 API (/hsds): pages of services and organizations, single records fully nested, streams.

The query parameters are those of the specification's openapi.json:
- `search`: the catalogue search's words (every word must match: a service's or partner's name, the
  description, a code such as "detox"; for organizations their name, alternate name or description).
- `taxonomy_term_id`, `taxonomy_id`: the product's own terms and taxonomies (the `bridgeline-*` ones every export
  carries, stable ids) map to its coded facts: a service-type, payer or MOUD term to the services holding that
  code, an access term to walk-in / same-day intake, a taxonomy to any code of it. Any other id is looked for in
  the attributes an import brought (a term by `taxonomy_term_id` or its term's `id`, a taxonomy by the term's
  `taxonomy_id` or `taxonomy_detail.id`). An id nothing carries gives an empty page, never an error.
- `organization_id` (services): that organization's services. `modified_after` (services): changed (the service
  or its organization) at or after that moment.
- `minimal` (services): items of just `id` and `modified_date`, up to 5000 a page. `full`: fully nested records
  (service_full; organizations with their lists). `full_service` (organizations): services nested in full.
- `format=ndjson`: every matching record, one JSON object a line, unpaged, streamed a batch at a time.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, selectinload

from backend.common.errors import not_found
from backend.common.pagination import page_total
from backend.database import db, utcnow
from backend.partners import hsds, search
from backend.partners.hsds_export import (
    basic,
    by_name,
    elsewhere_rows,
    in_batches,
    iso_utc,
    latest_capacity,
    organization_object,
    organization_parts,
    put,
    service_object,
)
from backend.partners.models import Organization, Service, ServiceAttribute
from backend.users.models import User

STREAM_BATCH = 200  # records read and written out at a time by a format=ndjson stream
SEARCH_WORDS = 8


def canonical_id(value: str) -> str | None:
    """An id as the catalogue keys it (lower-case UUID), or None when it cannot be one."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def page_of(contents: list, total: int, page: int, per_page: int) -> dict:
    """An HSDS Page: its fields, then `contents`."""
    pages = math.ceil(total / per_page)
    return {"total_items": total, "total_pages": pages, "page_number": page, "size": len(contents),
            "first_page": page == 1, "last_page": page >= pages, "empty": total == 0, "contents": contents}


# --- taxonomy terms and taxonomies ----------------------------------------------------------------------------------

def _lower(value) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _term(item: dict) -> dict:
    return item["taxonomy_term"] if isinstance(item.get("taxonomy_term"), dict) else {}


def carries_term(item: dict, wanted: str) -> bool:
    """An HSDS attribute with this taxonomy term id (lower case)."""
    return wanted in (_lower(item.get("taxonomy_term_id")), _lower(_term(item).get("id")))


def carries_taxonomy(item: dict, wanted: str) -> bool:
    """An HSDS attribute whose term is of this taxonomy id (lower case)."""
    detail = _term(item).get("taxonomy_detail")
    return wanted in (_lower(_term(item).get("taxonomy_id")), _lower(detail.get("id") if isinstance(detail, dict)
                                                                      else None))


def coded(kind: str, code: str | None = None) -> sa.ColumnElement[bool]:
    """Services holding a code of one of the product's taxonomies (any code of it when `code` is None)."""
    if kind in hsds.SERVICE_KINDS:
        stmt = sa.select(ServiceAttribute.service_id).where(ServiceAttribute.kind == kind)
        return Service.id.in_(stmt if code is None else stmt.where(ServiceAttribute.value == code))
    if kind == "access":
        return sa.or_(*(getattr(Service, flag).is_(True) for flag in ([code] if code else hsds.ACCESS)))
    return sa.false()  # a point person's facts (best hours) are no service's


def _imported(model, program_id: int, wanted: str, matches: Callable[[dict, str], bool]) -> list[tuple[str, dict]]:
    """(row id, attribute) for each imported HSDS attribute of the programme's rows that matches `wanted`."""
    # The text match narrows to the rows whose imported fields mention the id at all; the attributes decide.
    rows = db.session.execute(sa.select(model.id, model.hsds_extra).where(
        model.program_id == program_id,
        sa.func.lower(sa.cast(model.hsds_extra, sa.Text)).contains(wanted, autoescape=True)))
    return [(row_id, item) for row_id, extra in rows for item in (extra or {}).get("attributes") or []
            if isinstance(item, dict) and matches(item, wanted)]


def _imported_services(program_id: int, wanted: str, matches) -> sa.ColumnElement[bool]:
    found = _imported(Service, program_id, wanted, matches)
    plain, keyed = set(), defaultdict(set)
    for service_id, item in found:
        key = hsds.service_attribute_keys([item])[0]
        if key is None:
            plain.add(service_id)  # passed through: exported as imported
        else:
            keyed[key].add(service_id)  # stands for a code: only while the service still holds it
    return sa.or_(Service.id.in_(plain), *(sa.and_(Service.id.in_(ids), coded(*key)) for key, ids in keyed.items()))


def service_taxonomy(program_id: int, term_id: str | None, taxonomy_id: str | None) -> list[sa.ColumnElement[bool]]:
    """Conditions on Service for the taxonomy_term_id and taxonomy_id parameters."""
    conditions = []
    if term_id is not None:
        wanted = term_id.lower()
        known = hsds.TERMS_BY_ID.get(wanted)
        conditions.append(coded(*known) if known else _imported_services(program_id, wanted, carries_term))
    if taxonomy_id is not None:
        wanted = taxonomy_id.lower()
        kind = hsds.TAXONOMIES_BY_ID.get(wanted)
        conditions.append(coded(kind) if kind else _imported_services(program_id, wanted, carries_taxonomy))
    return conditions


def organization_taxonomy(program_id: int, term_id: str | None,
                          taxonomy_id: str | None) -> list[sa.ColumnElement[bool]]:
    """Conditions on Organization: one of its services matches, or its own imported attributes do."""
    conditions = []
    for value, matches, by_term in ((term_id, carries_term, True), (taxonomy_id, carries_taxonomy, False)):
        if value is None:
            continue
        (service_condition,) = service_taxonomy(program_id, value if by_term else None, None if by_term else value)
        own = {org_id for org_id, _item in _imported(Organization, program_id, value.lower(), matches)}
        conditions.append(sa.or_(
            Organization.id.in_(sa.select(Service.organization_id).where(Service.program_id == program_id,
                                                                         service_condition)),
            Organization.id.in_(own)))
    return conditions


# --- services -------------------------------------------------------------------------------------------------------

def _services_select(actor: User, query: dict, *columns) -> sa.Select:
    """The programme's services matching the query's filters (joined to their organization), as `columns`."""
    stmt = search.filter_services(search.catalogue_select(actor.program_id, *columns), utcnow(),
                                  q=query.get("search"))
    if query.get("organization_id") is not None:
        stmt = stmt.where(Service.organization_id == canonical_id(query["organization_id"]))
    if query.get("modified_after") is not None:
        stmt = stmt.where(sa.or_(Service.updated_at >= query["modified_after"],
                                 Organization.updated_at >= query["modified_after"]))
    return stmt.where(*service_taxonomy(actor.program_id, query.get("taxonomy_term_id"), query.get("taxonomy_id")))


def modified(service: Service) -> str:
    """When a service or its organization last changed (HSDS date-time)."""
    return iso_utc(max(service.updated_at, service.organization.updated_at))


def full_services(session: Session, services: list[Service]) -> list[dict]:
    """service_full objects for services loaded with their organization's point people and locations."""
    capacity = latest_capacity(session, services)
    by_org = defaultdict(list)
    for service in services:
        by_org[service.organization_id].append(service)
    elsewhere = elsewhere_rows(session, [(s[0].organization, s) for s in by_org.values()])
    items = []
    for service in services:
        org = service.organization
        shared = elsewhere.get(org.id, frozenset())
        contacts, locations = by_name(org.contacts), by_name(org.locations)
        organization = organization_object(org, contacts, locations, elsewhere=shared)
        items.append(service_object(service, contacts, {loc.id for loc in locations}, capacity.get(service.id),
                                    organization, elsewhere=shared))
    return items


def listed_services(services: list[Service]) -> list[dict]:
    """service_list objects: one-to-one fields and the organization's."""
    return [basic(service_object(service, [], set(), organization=basic(organization_object(
        service.organization, [], [])))) for service in services]


FULL_SERVICE = (selectinload(Service.attributes),
                selectinload(Service.organization).selectinload(Organization.contacts),
                selectinload(Service.organization).selectinload(Organization.locations))
LISTED_SERVICE = (selectinload(Service.attributes), selectinload(Service.organization))


def _service_items(session: Session, services: list[Service], query: dict) -> list[dict]:
    if query.get("minimal"):
        return [{"id": service.id, "modified_date": modified(service)} for service in services]
    return full_services(session, services) if query.get("full") else listed_services(services)


def service_page(actor: User, query: dict) -> dict:
    """One HSDS page of the programme's services matching the query (service_list, service_full or minimal)."""
    page, per_page = query["page"], query["per_page"]
    options = FULL_SERVICE if query.get("full") else LISTED_SERVICE
    rows = db.session.execute(
        _services_select(actor, query, Service, sa.func.count().over()).options(*options)
        .order_by(Service.name, Service.id).limit(per_page).offset((page - 1) * per_page)).all()
    total = page_total(rows, page, lambda: sa.select(sa.func.count()).select_from(
        _services_select(actor, query, Service.id).subquery()))
    return page_of(_service_items(db.session, [service for service, _total in rows], query), total, page, per_page)


def service_full(actor: User, service_id: str) -> dict:
    """One service of the programme, fully nested with its organization (HSDS /services/{id})."""
    service = db.session.get(Service, service_id, options=FULL_SERVICE)
    if service is None or service.program_id != actor.program_id:
        raise not_found("service")
    return full_services(db.session, [service])[0]


# --- organizations --------------------------------------------------------------------------------------------------

def _organizations_select(actor: User, query: dict, *columns) -> sa.Select:
    stmt = sa.select(*columns).where(Organization.program_id == actor.program_id)
    for word in (query.get("search") or "").split()[:SEARCH_WORDS]:
        stmt = stmt.where(sa.or_(*(column.icontains(word, autoescape=True) for column in (
            Organization.name, Organization.alternate_name, Organization.description))))
    return stmt.where(*organization_taxonomy(actor.program_id, query.get("taxonomy_term_id"),
                                             query.get("taxonomy_id")))


def _organization_options(query: dict) -> tuple:
    if not (query.get("full") or query.get("full_service")):
        return ()
    services = selectinload(Organization.services).selectinload(Service.attributes)
    return services, selectinload(Organization.contacts), selectinload(Organization.locations)


def organization_items(session: Session, orgs: list[Organization], query: dict) -> list[dict]:
    """organization_list objects, or fully nested ones (`full`), with services in full (`full_service`)."""
    full, full_service = query.get("full"), query.get("full_service")
    if not (full or full_service):
        return [basic(organization_object(org, [], [])) for org in orgs]
    capacity = latest_capacity(session, [s for org in orgs for s in org.services]) if full_service else {}
    elsewhere = elsewhere_rows(session, [(org, org.services) for org in orgs])
    items = []
    for org in orgs:
        record, services = organization_parts(org, capacity, elsewhere.get(org.id, frozenset()))
        item = record if full else basic(record)
        put(item, "services", services if full_service else [basic(service) for service in services])
        items.append(item)
    return items


def organization_page(actor: User, query: dict) -> dict:
    """One HSDS page of the programme's organizations matching the query (organization_list shape by default)."""
    page, per_page = query["page"], query["per_page"]
    rows = db.session.execute(
        _organizations_select(actor, query, Organization, sa.func.count().over())
        .options(*_organization_options(query))
        .order_by(Organization.name, Organization.id).limit(per_page).offset((page - 1) * per_page)).all()
    total = page_total(rows, page, lambda: sa.select(sa.func.count()).select_from(
        _organizations_select(actor, query, Organization.id).subquery()))
    return page_of(organization_items(db.session, [org for org, _total in rows], query), total, page, per_page)


def organization_full(actor: User, organization_id: str, full_service: bool) -> dict:
    """One organization of the programme, fully nested; its services with their one-to-one fields, or in full."""
    org = db.session.get(Organization, organization_id, options=_organization_options({"full": True}))
    if org is None or org.program_id != actor.program_id:
        raise not_found("organization")
    return organization_items(db.session, [org], {"full": True, "full_service": full_service})[0]


# --- format=ndjson ----------------------------------------------------------------------------------------------------

def stream(kind: str, actor: User, query: dict) -> Iterator[str]:
    """Every matching service or organization as NDJSON, a batch at a time from one snapshot (unpaged)."""
    if kind == "services":
        stmt = _services_select(actor, query, Service).options(*(FULL_SERVICE if query.get("full")
                                                                 else LISTED_SERVICE))
        order, items = (Service.name, Service.id), _service_items
    else:
        stmt = _organizations_select(actor, query, Organization).options(*_organization_options(query))
        order, items = (Organization.name, Organization.id), organization_items
    encode = functools.partial(current_app.json.dumps, separators=(",", ":"))
    # The filters ran their look-ups already (above, in the request); the stream reads in its own session.
    return _lines(stmt, order, items, query, encode)


def _lines(stmt: sa.Select, order: tuple, items, query: dict, encode) -> Iterator[str]:
    with Session(db.engine) as session:
        if session.get_bind().dialect.name == "postgresql":  # one snapshot, so batches neither skip nor repeat
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        for batch in in_batches(session, stmt, order, STREAM_BATCH):
            yield "".join(encode(item) + "\n" for item in items(session, batch, query))
