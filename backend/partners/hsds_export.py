"""HSDS 3.0 export: the programme's partner catalogue as organization and service objects.

Each builder below makes one nested HSDS object from a row; given `base` (the
item an import brought) it changes only what the product models, so fields
the product does not model are exported as imported.
"""

from __future__ import annotations

import functools
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, selectinload

from backend.database import db
from backend.partners import hsds
from backend.partners.models import CapacityReport, Location, Organization, PartnerContact, Service
from backend.partners.vocabulary import CAPACITY_UNITS
from backend.users.models import User

# Nested lists the product models: import maps them, export lays the product's values over what was imported.
ORGANIZATION_LISTS = ("phones", "contacts", "locations", "metadata")
SERVICE_LISTS = ("phones", "schedules", "languages", "attributes", "contacts", "service_at_locations")
EXPORT_BATCH = 200  # organizations (with their services) read and written out at a time
EXPORT_SPOOL_BYTES = 8 * 1024 * 1024  # the services list waits in memory up to this, then on disk


# --- nested objects ---------------------------------------------------------------------------------------------------

def put(item: dict, key: str, value) -> None:
    """Set a field, or drop it when there is no value: HSDS omits fields rather than sending null."""
    if value is None or value == []:
        item.pop(key, None)
    else:
        item[key] = value


def link(item: dict, key: str, value, fresh: bool) -> None:
    """Set a reference on a new item; on an imported one only if it had it (nesting already says it)."""
    if fresh or key in item:
        put(item, key, value)


def iso_utc(moment: datetime) -> str:
    """An HSDS date-time (UTC, milliseconds)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def phone_item(owner_id: str, owner_key: str, number: str, base: dict | None) -> dict:
    """An HSDS phone for the product's one number."""
    item = dict(base) if base else {"id": hsds.child_id(owner_id, "phone"), owner_key: owner_id}
    if hsds.phone_number(item) != number:  # an imported number keeps its own spelling while it is the same number
        item["number"] = number
    return item


def phones(owner_id: str, owner_key: str, number: str | None) -> hsds.Product:
    """The phone list's product items for an owner's number."""
    return {"primary": functools.partial(phone_item, owner_id, owner_key, number)} if number else {}


@functools.cache
def taxonomy_term(kind: str, code: str) -> dict:
    """The HSDS taxonomy term of one of the product's codes (one shared dict per code: never mutate it)."""
    taxonomy, description, labels = hsds.TAXONOMIES[kind]
    taxonomy_id = hsds.taxonomy_id(taxonomy)
    return {"id": hsds.term_id(taxonomy, code), "code": code, "name": labels[code], "description": labels[code],
            "taxonomy": taxonomy, "taxonomy_id": taxonomy_id,
            "taxonomy_detail": {"id": taxonomy_id, "name": taxonomy, "description": description}}


def attribute_item(link_id: str, entity: str, kind: str, code: str, value: str | None, base: dict | None) -> dict:
    """An HSDS attribute linking an object to one of the product's taxonomy terms."""
    if base:
        item = dict(base)
    else:
        term = taxonomy_term(kind, code)
        item = {"id": hsds.child_id(link_id, f"attribute/{term['taxonomy']}/{code}"), "link_id": link_id,
                "link_type": kind, "link_entity": entity, "taxonomy_term_id": term["id"], "taxonomy_term": term}
    put(item, "value", value)
    return item


def language_item(service_id: str, code: str, base: dict | None) -> dict:
    """An HSDS language for one ISO 639 code of a service."""
    item = dict(base) if base else {"id": hsds.child_id(service_id, f"language/{code}"), "service_id": service_id}
    if hsds.language_code(item) != code:
        item["code"] = code
    return item


def schedule_item(service_id: str, hours: str, base: dict | None) -> dict:
    """An HSDS schedule whose description is the service's free-text hours."""
    item = dict(base) if base else {"id": hsds.child_id(service_id, "schedule"), "service_id": service_id}
    item["description"] = hours
    return item


def contact_item(contact, base: dict | None) -> dict:
    """An HSDS contact for a point person."""
    item = dict(base) if base else {"id": contact.id}
    link(item, "organization_id", contact.organization_id, base is None)
    link(item, "service_id", contact.service_id, base is None)
    item["name"] = contact.name
    put(item, "title", contact.title)
    put(item, "email", contact.email)
    own_phone = phones(contact.id, "contact_id", contact.phone)
    put(item, "phones", hsds.lay_over(item.get("phones"), hsds.phone_keys, own_phone))
    hours = {"best_hours": functools.partial(attribute_item, contact.id, "contact", "contact", "best_hours",
                                             contact.best_hours)} if contact.best_hours else {}
    put(item, "attributes", hsds.lay_over(item.get("attributes"), hsds.contact_attribute_keys, hours))
    return item


def address_item(location, base: dict | None) -> dict:
    """An HSDS address for a location's one address."""
    item = dict(base) if base else {"id": hsds.child_id(location.id, "address"), "location_id": location.id,
                                    "address_type": "physical"}
    for key in hsds.ADDRESS_FIELDS:
        if (item.get(key) or "") != (getattr(location, key) or ""):
            item[key] = getattr(location, key) or ""  # HSDS requires these; the product may lack some
    if str(item.get("country", "")).upper() != location.country:
        item["country"] = location.country
    return item


def location_item(location, base: dict | None) -> dict:
    """An HSDS location for a Location row."""
    item = dict(base) if base else {"id": location.id, "location_type": "physical"}
    link(item, "organization_id", location.organization_id, base is None)
    put(item, "name", location.name)
    has_address = any(getattr(location, key) for key in hsds.ADDRESS_FIELDS)
    address = {"primary": functools.partial(address_item, location)} if has_address else {}
    put(item, "addresses", hsds.lay_over(item.get("addresses"), hsds.address_keys, address))
    return item


def service_at_location_item(service, base: dict | None) -> dict:
    """An HSDS service_at_location for the service's location."""
    item = dict(base) if base else {"id": hsds.child_id(service.id, "service_at_location"), "service_id": service.id}
    if hsds.service_location(item) != service.location_id:
        item["location_id"] = service.location_id
        item.pop("location", None)  # it described the location the service has left
    return item


def verified_item(org, base: dict | None) -> dict:
    """An HSDS metadata entry recording when the organization was last verified."""
    day = org.last_verified_at.date().isoformat()
    item = dict(base) if base else {
        "id": hsds.child_id(org.id, "metadata/verified"), "resource_id": org.id, "resource_type": "organization",
        "last_action_type": "verified", "field_name": "last_verified_at", "previous_value": "",
        "updated_by": "Bridgeline", "replacement_value": day}
    if hsds.parse_day(item.get("last_action_date")) != org.last_verified_at.date():
        item["last_action_date"] = day
    return item


def capacity_item(report) -> dict:
    """A capacity report shaped as HSDS 3.1 service_capacity (3.0 allows the extra property)."""
    # The coach's free-text note and who reported stay out: an export leaves the programme.
    item = {"id": report.id, "service_id": report.service_id, "available": report.available,
            "unit": {"id": str(uuid.uuid5(hsds.NAMESPACE, f"unit/{report.unit}")),
                     "name": CAPACITY_UNITS.get(report.unit, report.unit)},
            "updated": iso_utc(report.reported_at)}
    put(item, "maximum", report.maximum)
    return item


# --- organizations and services ---------------------------------------------------------------------------------------

def by_name(rows) -> list:
    """Rows in a stable order (name, then id), so repeated exports are identical."""
    return sorted(rows, key=lambda row: (row.name or "", row.id))


def passing(keys, elsewhere: frozenset):
    """`keys`, but an item another organization keeps as a row is passed through as imported (not modelled here)."""
    if not elsewhere:
        return keys
    return lambda items: [None if key in elsewhere else key for key in keys(items)]


def organization_lists(org: Organization, contacts, locations, elsewhere: frozenset = frozenset()) -> dict:
    """Per nested list of an organization: its key function and the product's items.

    `elsewhere`: ids of point people and locations its imported lists share with another organization.
    """
    verified = {"verified": functools.partial(verified_item, org)} if org.last_verified_at else {}
    return {
        "phones": (hsds.phone_keys, phones(org.id, "organization_id", org.phone)),
        "contacts": (passing(hsds.contact_keys, elsewhere),
                     {c.id: functools.partial(contact_item, c) for c in contacts}),
        "locations": (passing(hsds.location_keys, elsewhere),
                      {loc.id: functools.partial(location_item, loc) for loc in locations}),
        "metadata": (hsds.metadata_keys, verified),
    }


def service_lists(service: Service, org_contacts, location_ids: set[str], elsewhere: frozenset = frozenset()) -> dict:
    """Per nested list of a service: its key function and the product's items (given all the org's contacts)."""
    coded = sorted((a.kind, a.value) for a in service.attributes)
    attributes = {(kind, code): functools.partial(attribute_item, service.id, "service", kind, code, None)
                  for kind, code in coded if kind in hsds.SERVICE_KINDS}
    for flag in hsds.ACCESS:
        if getattr(service, flag):
            attributes[("access", flag)] = functools.partial(attribute_item, service.id, "service", "access",
                                                             flag, None)
    hours = {"hours": functools.partial(schedule_item, service.id, service.hours)} if service.hours else {}
    own = [c for c in org_contacts if c.service_id == service.id]
    elsewhere = elsewhere | {c.id for c in org_contacts if c.service_id not in (None, service.id)}
    located = ({"primary": functools.partial(service_at_location_item, service)}
               if service.location_id else {})
    return {
        "phones": (hsds.phone_keys, phones(service.id, "service_id", service.phone)),
        "schedules": (hsds.schedule_keys, hours),
        "languages": (hsds.language_keys, {code: functools.partial(language_item, service.id, code)
                                           for kind, code in coded if kind == "language"}),
        "attributes": (hsds.service_attribute_keys, attributes),
        "contacts": (_service_contact_keys(elsewhere), {c.id: functools.partial(contact_item, c) for c in own}),
        "service_at_locations": (hsds.service_at_location_keys(location_ids), located),
    }


def _service_contact_keys(elsewhere: set[str]):
    # A point person the product ties to another service (it keeps one) is passed through here, not dropped.
    return lambda items: [None if key in elsewhere else key for key in hsds.contact_keys(items)]


def _compose(extra: dict, fields: dict, lists: dict) -> dict:
    """Product fields, then imported fields the product does not model, then the merged nested lists."""
    record = {key: value for key, value in fields.items() if value is not None}
    for key, value in (extra or {}).items():
        if key not in lists:
            record.setdefault(key, value)
    for name, (keys, product) in lists.items():
        put(record, name, hsds.lay_over((extra or {}).get(name), keys, product))
    return record


def hsds_name(row: Organization | Service, kind: str) -> str:
    """The HSDS name: the one an import brought while the catalogue shows it otherwise (cut, unnamed), else the
    catalogue's (staff renaming it drop the imported one)."""
    imported = (row.hsds_extra or {}).get("name")
    return imported if isinstance(imported, str) and hsds.shown_name(imported, kind) == row.name else row.name


def organization_object(org: Organization, contacts, locations, services: list[dict] | None = None,
                        elsewhere: frozenset = frozenset()) -> dict:
    """One HSDS organization (its services nested when given)."""
    fields = {"id": org.id, "name": hsds_name(org, "organization"), "alternate_name": org.alternate_name,
              "description": org.description or "", "email": org.email, "website": org.website}
    record = _compose(org.hsds_extra, fields, organization_lists(org, contacts, locations, elsewhere))
    put(record, "services", services)
    return record


def service_object(service: Service, org_contacts, location_ids: set[str], capacity: CapacityReport | None = None,
                   organization: dict | None = None, elsewhere: frozenset = frozenset()) -> dict:
    """One HSDS service (service_full shape when `organization` is given)."""
    verified = service.last_verified_at
    fields = {"id": service.id, "organization_id": service.organization_id, "name": hsds_name(service, "service"),
              "description": service.description, "url": service.url, "email": service.email,
              "status": service.status, "minimum_age": service.minimum_age, "maximum_age": service.maximum_age,
              "eligibility_description": service.eligibility_description,
              "assured_date": verified.date().isoformat() if verified else None}
    record = _compose(service.hsds_extra, fields, service_lists(service, org_contacts, location_ids, elsewhere))
    if capacity is not None:
        record["capacities"] = [capacity_item(capacity)]
    put(record, "organization", organization)
    return record


def basic(record: dict) -> dict:
    """The one-to-one fields of an object (list pages and nested organizations carry no child lists)."""
    return {key: value for key, value in record.items() if not isinstance(value, list)}


def latest_capacity(session: Session, services) -> dict[str, CapacityReport]:
    """The latest capacity report of each of `services`, by service id."""
    ids = [s.latest_capacity_id for s in services if s.latest_capacity_id]
    reports = session.scalars(sa.select(CapacityReport).where(CapacityReport.id.in_(ids))) if ids else []
    return {report.service_id: report for report in reports}


def _listed_ids(extra: dict | None, keys: tuple[str, ...]) -> set[str]:
    return {item["id"] for key in keys for item in (extra or {}).get(key) or []
            if isinstance(item, dict) and isinstance(item.get("id"), str)}


def elsewhere_rows(session: Session, orgs: list[tuple[Organization, list[Service]]]) -> dict[str, frozenset]:
    """Per organization id: the point people and locations its imported lists (and its services') name that are
    another organization's rows (HSDS lists them under both; the catalogue keeps one). One query, only if any."""
    listed = {}
    for org, services in orgs:
        own = {c.id for c in org.contacts} | {loc.id for loc in org.locations}
        ids = _listed_ids(org.hsds_extra, ("contacts", "locations"))
        for service in services:
            ids |= _listed_ids(service.hsds_extra, ("contacts",))
        if ids - own:
            listed[org.id] = ids - own
    if not listed:
        return {}
    wanted = set().union(*listed.values())
    found = set(session.scalars(sa.union(sa.select(Location.id).where(Location.id.in_(wanted)),
                                         sa.select(PartnerContact.id).where(PartnerContact.id.in_(wanted)))))
    return {org_id: frozenset(ids & found) for org_id, ids in listed.items() if ids & found}


def organization_parts(org: Organization, capacity: dict, elsewhere: frozenset = frozenset(),
                       services: list[Service] | None = None) -> tuple[dict, list[dict]]:
    """An organization with its services nested (all of them, or `services`), and those services on their own."""
    contacts, locations = by_name(org.contacts), by_name(org.locations)
    location_ids = {loc.id for loc in locations}
    services = [service_object(s, contacts, location_ids, capacity.get(s.id), elsewhere=elsewhere)
                for s in by_name(org.services if services is None else services)]
    return organization_object(org, contacts, locations, services, elsewhere), services


def in_batches(session: Session, stmt: sa.Select, order: tuple, size: int):
    """The rows of `stmt` a batch at a time, in `order` (keyset paging: each batch is one indexed range)."""
    last = None
    while True:
        page = stmt if last is None else stmt.where(sa.tuple_(*order) > sa.tuple_(*last))
        batch = session.scalars(page.order_by(*order).limit(size)).all()
        if not batch:
            return
        yield batch
        last = tuple(getattr(batch[-1], column.key) for column in order)
        session.expunge_all()  # the batch is written out: memory stays flat however large the catalogue


def export_catalogue(actor: User) -> Iterator[str]:
    """The programme's catalogue as HSDS JSON text, in pieces: {"organizations": [...], "services": [...]}.

    Organizations (by name) nest their services; "services" holds each service again in service_full
    shape, naming its organization, in the same order (organization, then service name). One pass
    over the catalogue, a batch at a time: organizations stream out as they are built while the
    services list waits in a spool file (in memory up to EXPORT_SPOOL_BYTES, then on disk), so memory
    stays flat however large the catalogue.
    """
    encode = functools.partial(current_app.json.dumps, separators=(",", ":"))  # compact, as jsonify writes
    organizations = (sa.select(Organization).where(Organization.program_id == actor.program_id)
                     .options(selectinload(Organization.services).selectinload(Service.attributes),
                              selectinload(Organization.contacts), selectinload(Organization.locations)))
    with Session(db.engine) as session, tempfile.SpooledTemporaryFile(EXPORT_SPOOL_BYTES, mode="w+") as spool:
        if session.get_bind().dialect.name == "postgresql":  # one snapshot, so batches neither skip nor repeat
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield '{"organizations":['
        org_separator = service_separator = ""
        for batch in in_batches(session, organizations, (Organization.name, Organization.id), EXPORT_BATCH):
            capacity = latest_capacity(session, [s for org in batch for s in org.services])
            elsewhere = elsewhere_rows(session, [(org, org.services) for org in batch])
            written = []
            for org in batch:
                record, services = organization_parts(org, capacity, elsewhere.get(org.id, frozenset()))
                written.append(org_separator + encode(record))
                org_separator = ","
                # The full organization is in "organizations"; each service names it by its one-to-one fields.
                summary = basic(record)
                for service in services:
                    spool.write(service_separator + encode({**service, "organization": summary}))
                    service_separator = ","
            yield "".join(written)
        yield '],"services":['
        spool.seek(0)
        while chunk := spool.read(64 * 1024):
            yield chunk
        yield "]}"
