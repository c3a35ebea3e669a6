"""HSDS 3.0 import: validate the whole document, then upsert organizations and services by id, all or nothing.

A field present in a record sets the product's value; an absent field leaves
it alone (HSDS leaves out what it does not know, and list pages or a service's
nested organization carry partial records). A nested list that is present
(phones, languages, attributes, ...) replaces what the product derived from it.
Point people and locations are added or updated by id, never deleted: the
team's own point people are not in anyone else's feed. Imported capacity is
not taken: capacity is what a coach learned on the phone, with who and when.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from backend.audit import service as audit
from backend.common.errors import InvalidError
from backend.database import db
from backend.partners import hsds
from backend.partners.hsds_export import (
    ORGANIZATION_LISTS,
    SERVICE_LISTS,
    by_name,
    organization_lists,
    service_lists,
)
from backend.partners.models import Location, Organization, PartnerContact, Service, ServiceAttribute
from backend.users.models import Role, User
from backend.users.service import require_role

MAX_REPORTED = 100
ORGANIZATION_TEXT = {"name": 200, "alternate_name": 200, "description": None, "email": 254, "website": 500}
SERVICE_TEXT = {"name": 200, "description": None, "status": 30, "email": 254, "url": 500,
                "eligibility_description": None}
# Keys the import maps itself (or the export rebuilds); every other key is kept verbatim in hsds_extra.
ORGANIZATION_OWNED = {"id", "services", *ORGANIZATION_TEXT, *ORGANIZATION_LISTS}
SERVICE_OWNED = {"id", "organization_id", "organization", "capacities", "minimum_age", "maximum_age",
                 "assured_date", *SERVICE_TEXT, *SERVICE_LISTS}
NOT_HSDS = ('The body is not an HSDS 3.0 document. Send {"organizations": [...], "services": [...]}, '
            "one organization or service, a list of them, or a list page with contents.")


def import_document(actor: User, body) -> dict:
    """Import an HSDS document into the caller's programme; counts of created, updated and unchanged records."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    records = document_records(body)
    errors: dict = {}
    for kind, path, record in records:
        hsds.schema_errors(kind, record, path, errors)
    if errors:
        raise _invalid(errors)
    mapping = hsds.id_mapping(actor.program_id, records)
    if mapping:
        records = [(kind, path, hsds.rewrite(record, mapping)) for kind, path, record in records]
    summary = _Import(actor, records).run()
    audit.record("import", "hsds", actor=actor, details=summary)
    return summary


def _fields(name: str) -> set[str]:
    return set(hsds.validator(name).schema["properties"])


def _record_kind(record) -> str:
    """The schema a record is checked against: a service if it has fields only services have."""
    if not isinstance(record, dict):
        return "organization"
    org_keys, service_keys, keys = _fields("organization"), _fields("service"), set(record)
    return "service" if keys & (service_keys - org_keys) and not keys & (org_keys - service_keys) else "organization"


def document_records(body) -> list[tuple[str, list, object]]:
    """(schema, JSON path, record) for each record of an import body; 422 not_hsds when it is not HSDS at all."""
    # An organization has "services" too, but a record always has an id; the export's envelope has none.
    if isinstance(body, dict) and "id" not in body and ("organizations" in body or "services" in body):
        errors: dict = {}
        records = []
        for key, kind in (("organizations", "organization"), ("services", "service")):
            items = body.get(key, [])
            if isinstance(items, list):
                records += [(kind, [key, i], item) for i, item in enumerate(items)]
            else:
                hsds.add_error(errors, [key], "Must be a list.")
        if errors:
            raise _invalid(errors)
        return records
    if isinstance(body, dict) and isinstance(body.get("contents"), list):
        return [(_record_kind(item), ["contents", i], item) for i, item in enumerate(body["contents"])]
    if isinstance(body, dict) and body.keys() & (_fields("organization") | _fields("service")):
        return [(_record_kind(body), [], body)]
    if isinstance(body, list) and (not body or any(isinstance(item, dict) for item in body)):
        return [(_record_kind(item), [i], item) for i, item in enumerate(body)]
    raise InvalidError("not_hsds", NOT_HSDS, errors={"$": ["Not an HSDS 3.0 document."]})


def _invalid(errors: dict) -> InvalidError:
    shown = dict(list(errors.items())[:MAX_REPORTED])
    more = f" The first {MAX_REPORTED} are listed." if len(errors) > MAX_REPORTED else ""
    return InvalidError("hsds_invalid", f"The HSDS document has {len(errors)} invalid field(s); nothing was "
                                         f"imported.{more}", errors=shown)


# --- applying records --------------------------------------------------------------------------------------------

def _assign(row, **values) -> bool:
    """Set the fields that differ; say whether any did."""
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _text(row, record: dict, limits: dict, extra: dict) -> bool:
    """Copy the text fields present; one the product cannot hold (too long) stays in hsds_extra instead."""
    changed = False
    for key, limit in limits.items():
        if key in record:
            fits = hsds.fits(record[key], limit)
            if fits:
                extra.pop(key, None)
            else:
                extra[key] = record[key]
            changed |= _assign(row, **{key: record[key] if fits else None})
    return changed


def _verify(row, day) -> bool:
    # Verification is kept by day in HSDS; the same day keeps the product's exact time.
    if row.last_verified_at is not None and row.last_verified_at.date() == day:
        return False
    row.last_verified_at = hsds.day_start(day)
    return True


def _set_codes(service: Service, kinds: set[str], wanted: set[tuple[str, str]]) -> bool:
    current = {(a.kind, a.value) for a in service.attributes if a.kind in kinds}
    if current == wanted:
        return False
    kept = [a for a in service.attributes if a.kind not in kinds or (a.kind, a.value) in wanted]
    service.attributes = kept + [ServiceAttribute(kind=kind, value=value) for kind, value in sorted(wanted - current)]
    return True


@dataclass
class _Entry:
    path: list
    record: dict
    row: Organization | Service | None = None
    created: bool = False
    changed: bool = False
    extra: dict = field(default_factory=dict)


class _Import:
    """One import: records first seen win (a service appears nested and in "services"), rows upserted by id."""

    def __init__(self, actor: User, records):
        self.actor = actor
        self.errors: dict = {}
        self.orgs: dict[str, _Entry] = {}
        self.services: dict[str, _Entry] = {}
        self.parents: dict[str, str | None] = {}
        self.owners: dict[tuple[str, str], str] = {}
        self.contact_services: dict[str, str] = {}
        self._location_ids: dict[str, set[str]] | None = None
        nested = []
        for kind, path, record in records:
            if kind == "organization":
                self.orgs.setdefault(record["id"], _Entry(path, record))
                services = enumerate(record.get("services") or [])
                nested += [([*path, "services", i], service, record["id"]) for i, service in services]
            else:
                nested.append((path, record, None))
        for path, record, parent in nested:
            org = record.get("organization")
            if isinstance(org, dict):
                self.orgs.setdefault(org["id"], _Entry([*path, "organization"], org))
            if record["id"] not in self.services:
                self.services[record["id"]] = _Entry(path, record)
                self.parents[record["id"]] = parent
        self._load()

    def _load(self) -> None:
        pid = self.actor.program_id
        org_ids = set(self.orgs) | {e.record["organization_id"] for e in self.services.values()
                                    if e.record.get("organization_id")}
        self.existing_orgs = {org.id: org for org in db.session.scalars(
            sa.select(Organization).where(Organization.id.in_(org_ids), Organization.program_id == pid))}
        self.existing_services = {s.id: s for s in db.session.scalars(
            sa.select(Service).where(Service.id.in_(self.services), Service.program_id == pid)
            .options(selectinload(Service.attributes)))}
        records = [e.record for e in (*self.orgs.values(), *self.services.values())]
        contact_ids = {c["id"] for r in records for c in r.get("contacts") or []}
        location_ids = {loc["id"] for r in records for loc in r.get("locations") or []}
        self.contacts = self._rows(PartnerContact, contact_ids)
        self.locations = self._rows(Location, location_ids)

    def _rows(self, model, ids: set[str]) -> dict:
        return {row.id: row for row in db.session.scalars(
            sa.select(model).join(Organization, Organization.id == model.organization_id)
            .where(model.id.in_(ids), Organization.program_id == self.actor.program_id))}

    def run(self) -> dict:
        """Apply every record, keep what the rows cannot hold; counts of created, updated and unchanged."""
        for org_id, entry in self.orgs.items():
            self._organization(org_id, entry)
        db.session.flush()
        for service_id, entry in self.services.items():
            self._service(service_id, entry)
        db.session.flush()
        # Point people of a service only once the services exist (their foreign key has no ORM relationship
        # that would order the inserts).
        for service_id, entry in self.services.items():
            if entry.row is not None:
                org_id = entry.row.organization_id
                for i, item in enumerate(entry.record.get("contacts") or []):
                    entry.changed |= self._contact(item, org_id, service_id, [*entry.path, "contacts", i])
        if self.errors:
            raise _invalid(self.errors)
        db.session.flush()
        self._extras()
        db.session.flush()
        return {"organizations": _counts(self.orgs.values()), "services": _counts(self.services.values())}

    def _error(self, parts: list, message: str) -> None:
        hsds.add_error(self.errors, parts, message)

    def _named(self, entry: _Entry) -> bool:
        name = entry.record.get("name")
        if hsds.fits(name, 200) and name.strip():
            return True
        self._error([*entry.path, "name"], "Use 1 to 200 characters.")
        return False

    def _organization(self, org_id: str, entry: _Entry) -> None:
        if not self._named(entry):
            return
        record, org = entry.record, self.existing_orgs.get(org_id)
        entry.created = org is None
        org = org or Organization(id=org_id, program_id=self.actor.program_id)
        entry.extra = dict(org.hsds_extra or {})
        changed = _text(org, record, ORGANIZATION_TEXT, entry.extra)
        if "phones" in record:
            changed |= _assign(org, phone=hsds.primary_phone(record["phones"]))
        day = hsds.verified_day(record.get("metadata") or [])
        if day:
            changed |= _verify(org, day)
        entry.extra.update({key: value for key, value in record.items() if key not in ORGANIZATION_OWNED})
        if entry.created:
            db.session.add(org)
            self.existing_orgs[org_id] = org
        entry.row = org
        for i, item in enumerate(record.get("contacts") or []):
            changed |= self._contact(item, org_id, None, [*entry.path, "contacts", i])
        for i, item in enumerate(record.get("locations") or []):
            changed |= self._location(item, org_id, [*entry.path, "locations", i])
        entry.changed = changed

    def _owned_by(self, kind: str, item_id: str, org_id: str, path: list) -> bool:
        # One row per id: the same point person or location cannot belong to two organizations.
        if self.owners.setdefault((kind, item_id), org_id) == org_id:
            return True
        self._error([*path, "id"], f"This {kind} is listed under another organization in the document.")
        return False

    def _contact(self, item: dict, org_id: str, service_id: str | None, path: list) -> bool:
        values = hsds.contact_values(item)
        if values is None or not self._owned_by("contact", item["id"], org_id, path):
            return False
        row = self.contacts.get(item["id"])
        created = row is None
        row = row or PartnerContact(id=item["id"])
        # A point person belongs to one service at most: the first service listing them in the document.
        if service_id and self.contact_services.setdefault(item["id"], service_id) == service_id:
            values["service_id"] = service_id
        elif not service_id and not created and row.organization_id != org_id:
            values["service_id"] = None  # it moved away from the other organization's service
        changed = _assign(row, organization_id=org_id, **values)
        if created:
            db.session.add(row)
            self.contacts[row.id] = row
        return created or changed

    def _location(self, item: dict, org_id: str, path: list) -> bool:
        values = hsds.location_values(item)
        if values is None or not self._owned_by("location", item["id"], org_id, path):
            return False
        row = self.locations.get(item["id"])
        created = row is None
        row = row or Location(id=item["id"], country="US")
        changed = _assign(row, organization_id=org_id, **values)
        if created:
            db.session.add(row)
            self.locations[row.id] = row
        return created or changed

    def _service_organization(self, service_id: str, entry: _Entry) -> str | None:
        """The organization a service belongs to: the one it is listed under, its organization_id or nested one."""
        record, path, parent = entry.record, entry.path, self.parents[service_id]
        named = [(where, value) for where, value in ((["organization_id"], record.get("organization_id")),
                                                     (["organization", "id"], (record.get("organization") or {})
                                                      .get("id"))) if value]
        org_id = parent or (named[0][1] if named else None)
        if org_id is None:
            self._error([*path, "organization_id"], "A service needs its organization: give organization_id or "
                                                    "a nested organization.")
            return None
        for where, value in named:
            if value != org_id:
                self._error([*path, *where], "Does not match the organization the service is listed under."
                            if parent else "Does not match organization_id.")
                return None
        if org_id not in self.orgs and org_id not in self.existing_orgs:
            self._error([*path, *named[0][0]], "No organization with this id in the document or in your programme.")
            return None
        return org_id

    def _org_location_ids(self, org_id: str) -> set[str]:
        if self._location_ids is None:
            self._location_ids = defaultdict(set)
            for location_id, owner in db.session.execute(sa.select(Location.id, Location.organization_id).where(
                    Location.organization_id.in_(list(self.existing_orgs)))):
                self._location_ids[owner].add(location_id)
        return self._location_ids[org_id]

    def _service(self, service_id: str, entry: _Entry) -> None:
        org_id = self._service_organization(service_id, entry)
        named = self._named(entry)
        if org_id is None or not named or (org_id in self.orgs and self.orgs[org_id].row is None):
            return  # refused; an organization that was refused has its own error
        record, service = entry.record, self.existing_services.get(service_id)
        entry.created = service is None
        service = service or Service(id=service_id, program_id=self.actor.program_id)
        entry.extra = dict(service.hsds_extra or {})
        changed = _text(service, record, SERVICE_TEXT, entry.extra) | _assign(service, organization_id=org_id)
        changed |= self._ages(service, entry)
        if "phones" in record:
            changed |= _assign(service, phone=hsds.primary_phone(record["phones"]))
        if "schedules" in record:
            hours = hsds.first_keyed(record["schedules"], hsds.schedule_keys, "hours")
            changed |= _assign(service, hours=hours["description"] if hours else None)
        if "languages" in record:
            codes = {("language", code) for code in hsds.language_keys(record["languages"]) if code}
            changed |= _set_codes(service, {"language"}, codes)
        if "attributes" in record:
            keys = {key for key in hsds.service_attribute_keys(record["attributes"]) if key}
            changed |= _set_codes(service, set(hsds.SERVICE_KINDS), {k for k in keys if k[0] in hsds.SERVICE_KINDS})
            changed |= _assign(service, **{flag: ("access", flag) in keys for flag in hsds.ACCESS})
        if "service_at_locations" in record:
            keys = hsds.service_at_location_keys(self._org_location_ids(org_id))
            located = hsds.first_keyed(record["service_at_locations"], keys)
            changed |= _assign(service, location_id=hsds.service_location(located) if located else None)
        if "assured_date" in record:
            day = hsds.parse_day(record["assured_date"])
            if day:
                entry.extra.pop("assured_date", None)
                changed |= _verify(service, day)
            else:
                entry.extra["assured_date"] = record["assured_date"]
        entry.extra.update({key: value for key, value in record.items() if key not in SERVICE_OWNED})
        if entry.created:
            db.session.add(service)
        entry.row = service
        entry.changed = changed

    def _ages(self, service: Service, entry: _Entry) -> bool:
        changed = False
        for key in ("minimum_age", "maximum_age"):
            if key in entry.record:
                age = hsds.whole_age(entry.record[key])
                if age is None:  # one the product cannot hold (150, 17.5) is kept as imported
                    entry.extra[key] = entry.record[key]
                else:
                    entry.extra.pop(key, None)
                changed |= _assign(service, **{key: age})
        if service.minimum_age is not None and service.maximum_age is not None and \
                service.minimum_age > service.maximum_age:
            self._error([*entry.path, "maximum_age"], "Must not be below minimum_age.")
        return changed

    def _extras(self) -> None:
        """Keep in hsds_extra each imported list an export would not rebuild exactly from the rows."""
        org_ids = {e.row.id for e in self.orgs.values() if e.row} | {
            e.row.organization_id for e in self.services.values() if e.row}
        contacts, locations = defaultdict(list), defaultdict(list)
        for contact in db.session.scalars(sa.select(PartnerContact).where(PartnerContact.organization_id.in_(org_ids))):
            contacts[contact.organization_id].append(contact)
        for location in db.session.scalars(sa.select(Location).where(Location.organization_id.in_(org_ids))):
            locations[location.organization_id].append(location)
        for entry in self.orgs.values():
            if entry.row:
                org = entry.row
                _keep_lists(entry, organization_lists(org, by_name(contacts[org.id]), by_name(locations[org.id])))
        for entry in self.services.values():
            if entry.row:
                org_id = entry.row.organization_id
                lists = service_lists(entry.row, by_name(contacts[org_id]), {loc.id for loc in locations[org_id]})
                _keep_lists(entry, lists)


def _keep_lists(entry: _Entry, lists: dict) -> None:
    for name, (keys, product) in lists.items():
        if name in entry.record:
            if entry.record[name] == hsds.lay_over(None, keys, product):
                entry.extra.pop(name, None)
            else:
                entry.extra[name] = entry.record[name]
    if entry.extra != (entry.row.hsds_extra or {}):
        entry.row.hsds_extra = entry.extra
        entry.changed = True


def _counts(entries) -> dict:
    applied = [e for e in entries if e.row is not None]
    created = sum(e.created for e in applied)
    updated = sum(e.changed and not e.created for e in applied)
    return {"created": created, "updated": updated, "unchanged": len(applied) - created - updated}
