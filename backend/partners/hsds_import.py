"""HSDS 3.0 import: check the whole document, then upsert organizations and services by id.

What is refused, and what is not:
- A body that is not an organization or service document at all is `not_hsds`; one that is another HSDS type
  (a taxonomy_term, location, service_at_location, ... or pages of them) is `not_hsds` naming that type.
- A document that is not valid HSDS is refused whole (`hsds_invalid`), every problem listed by JSON path: each
  record is validated against the official schemas with format checks (uri, date-time, email, uuid); an id may
  appear once in a list (`organizations`, `services`, `contents`, an organization's `services`, a `contacts`
  list, ...); copies of one organization or service (a service nested in its organization and listed again, an
  organization nested in a service) must agree, so a service cannot be listed under two organizations; and a
  service's organization_id must match the organization it is nested in or under.
- Valid HSDS always imports. What the product cannot hold the way HSDS gives it is kept as imported (exported
  again unchanged) and reported as a per-record warning by JSON path: an empty name, a name too long to show
  whole, ages that are not whole years from 0 to 120 or whose minimum is above their maximum (age searches
  ignore them), a service with no organization or an unknown one (filed under the programme's "Services without
  an organization" until a document gives its organization), a point person or location listed under two
  organizations (the first keeps it), text longer than the catalogue's column.
A dry run (`dry_run=true`) answers the same counts and warnings and writes nothing.

A field present in a record sets the product's value; an absent field leaves
it alone (HSDS leaves out what it does not know, and list pages or a service's
nested organization carry partial records). A nested list that is present
(phones, languages, attributes, ...) replaces what the product derived from it.
Point people and locations are added or updated by id, never deleted: the
team's own point people are not in anyone else's feed. Imported capacity is
not taken: capacity is what a coach learned on the phone, with who and when.
"""

from __future__ import annotations

import uuid
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
ORGANIZATION_TEXT = {"alternate_name": None, "description": None, "email": 254, "website": 500}
SERVICE_TEXT = {"description": None, "status": 30, "email": 254, "url": 500, "eligibility_description": None}
# Keys the import maps itself (or the export rebuilds); every other key is kept verbatim in hsds_extra.
ORGANIZATION_OWNED = {"id", "name", "services", *ORGANIZATION_TEXT, *ORGANIZATION_LISTS}
SERVICE_OWNED = {"id", "name", "organization_id", "organization", "capacities", "minimum_age", "maximum_age",
                 "assured_date", *SERVICE_TEXT, *SERVICE_LISTS}
# Keys that nest one record in another: copies of a record are compared without them.
NESTING = ("services", "organization")
UNAFFILIATED = ("Services without an organization",
                "Services an HSDS import brought without an organization (or naming one not yet imported).")
NOT_HSDS = ('The body is not an HSDS 3.0 document. Send {"organizations": [...], "services": [...]}, '
            "one organization or service, a list of them, or a list page with contents.")


def import_document(actor: User, body, dry_run: bool = False) -> dict:
    """Import an HSDS document into the caller's programme: counts of created, updated, unchanged, and warnings.

    `dry_run` checks and applies everything, answers the same report, and writes nothing.
    """
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    errors: dict = {}
    records = document_records(body, errors)
    for kind, path, record in records:
        hsds.schema_errors(kind, record, path, errors)
    duplicate_errors(records, errors)
    if errors:
        raise _invalid(errors)
    mapping = hsds.id_mapping(actor.program_id, records)
    if mapping:
        records = [(kind, path, hsds.rewrite(record, mapping)) for kind, path, record in records]
    if dry_run:
        try:
            with db.session.begin_nested():  # a savepoint, undone by the raise: the dry run leaves nothing behind
                raise _DryRun(_apply(actor, records))
        except _DryRun as done:
            return {**done.report, "dry_run": True}
    summary = _apply(actor, records)
    audit.record("import", "hsds", actor=actor, details={
        "organizations": summary["organizations"], "services": summary["services"],
        "warnings": summary["warning_count"]})
    return summary


class _DryRun(Exception):  # noqa: N818 - not an error: how a dry run leaves its savepoint
    def __init__(self, report: dict):
        super().__init__("dry run")
        self.report = report


def _apply(actor: User, records) -> dict:
    """Upsert the records: counts per kind, and the warnings by JSON path (the first MAX_REPORTED)."""
    run = _Import(actor, records)
    summary = run.run()
    summary["warnings"] = dict(list(run.warnings.items())[:MAX_REPORTED])
    summary["warning_count"] = len(run.warnings)
    return summary


# --- what the body is ---------------------------------------------------------------------------------------------

def _not_hsds(found: str | None, listed: bool = False) -> InvalidError:
    if found is None:
        return InvalidError("not_hsds", NOT_HSDS, errors={"$": ["Not an HSDS 3.0 document."]})
    what = f"a list of HSDS {found} records" if listed else hsds.described(found)
    return InvalidError("not_hsds", f"The body is {what}. The import takes organizations and services only: "
                                    + NOT_HSDS.split(". ", 1)[1],
                        errors={"$": [f"This is {what}, not an organization or service."]},
                        extra={"hsds_type": found})


def _other_type(errors: dict, path: list, found: str, expected: str) -> None:
    hsds.add_error(errors, path, f"This is {hsds.described(found)}, not an {expected}: the import takes "
                                 "organizations and services only.")


def _listed(items: list, prefix: list, errors: dict) -> list[tuple[str, list, object]]:
    """The records of a list (a bare list or a page's contents), each checked as the HSDS type it is."""
    kinds = [hsds.hsds_type(item) for item in items]
    others = sorted({kind for kind in kinds if kind is not None and kind not in hsds.IMPORTED_TYPES})
    if others and not any(kind in hsds.IMPORTED_TYPES for kind in kinds):
        raise _not_hsds(" and ".join(others), listed=True)
    records = []
    for i, (item, kind) in enumerate(zip(items, kinds, strict=True)):
        if kind in others:
            _other_type(errors, [*prefix, i], kind, "organization or service")
        else:
            records.append((kind or "organization", [*prefix, i], item))
    return records


def document_records(body, errors: dict) -> list[tuple[str, list, object]]:
    """(schema, JSON path, record) for each record of an import body; 422 not_hsds when it is not HSDS at all.

    Records of another HSDS type inside the document are added to `errors` by path.
    """
    # An organization has "services" too, but a record always has an id; the export's envelope has none.
    if isinstance(body, dict) and "id" not in body and ("organizations" in body or "services" in body):
        records = []
        for key, kind in (("organizations", "organization"), ("services", "service")):
            items = body.get(key, [])
            if not isinstance(items, list):
                hsds.add_error(errors, [key], "Must be a list.")
                continue
            for i, item in enumerate(items):
                found = hsds.hsds_type(item)
                if found is not None and found not in hsds.IMPORTED_TYPES:
                    _other_type(errors, [key, i], found, kind)
                else:
                    records.append((kind, [key, i], item))
        return records
    if isinstance(body, dict) and isinstance(body.get("contents"), list):
        return _listed(body["contents"], ["contents"], errors)
    if isinstance(body, list) and (not body or any(isinstance(item, dict) for item in body)):
        return _listed(body, [], errors)
    found = hsds.hsds_type(body)
    if found in hsds.IMPORTED_TYPES:
        return [(found, [], body)]
    raise _not_hsds(found)


# --- ids: once per list, and copies of a record agree ----------------------------------------------------------------

def _canonical(value) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value


def _unique_ids(items: list[tuple[object, list]], errors: dict) -> None:
    """Report every item of one list whose id another item of the same list has."""
    paths: dict[str, list] = defaultdict(list)
    for item, path in items:
        if isinstance(item, dict) and _canonical(item.get("id")) is not None:
            paths[_canonical(item["id"])].append(path)
    for found in paths.values():
        if len(found) > 1:
            shown = ", ".join(hsds.json_path(path) for path in found[:3]) + (", ..." if len(found) > 3 else "")
            for path in found:
                hsds.add_error(errors, [*path, "id"], f"Duplicate id: {len(found)} items of this list have it "
                                                      f"({shown}). Each record needs its own id.")


def _nested_lists(record, path: list, errors: dict) -> None:
    """Check every list inside a record for repeated ids (iteratively: a document may nest deeply)."""
    stack = [(record, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            stack.extend((item, [*where, key]) for key, item in value.items())
        elif isinstance(value, list):
            items = [(item, [*where, i]) for i, item in enumerate(value)]
            _unique_ids(items, errors)
            stack.extend(items)


def duplicate_errors(records, errors: dict) -> None:
    """Ids repeated within a list, and copies of one organization or service that disagree, added to `errors`."""
    by_list: dict[tuple, list] = defaultdict(list)
    for _kind, path, record in records:
        by_list[tuple(path[:-1])].append((record, path))
        _nested_lists(record, path, errors)
    for items in by_list.values():
        _unique_ids(items, errors)
    # Every place an organization or service appears: (path, the list it is in, its fields without nesting).
    copies: dict[tuple[str, str], list] = defaultdict(list)

    def note(kind: str, record, path: list, parent: str | None) -> None:
        if isinstance(record, dict) and _canonical(record.get("id")) is not None:
            view = {key: value for key, value in record.items() if key not in NESTING}
            if parent is not None:  # nested in an organization: it says which one
                view.setdefault("organization_id", parent)
            copies[(kind, _canonical(record["id"]))].append((path, tuple(path[:-1]), view))

    for kind, path, record in records:
        note(kind, record, path, None)
        if not isinstance(record, dict):
            continue
        if kind == "organization" and isinstance(record.get("services"), list):
            for i, service in enumerate(record["services"]):
                note("service", service, [*path, "services", i], record.get("id"))
        elif kind == "service":
            note("organization", record.get("organization"), [*path, "organization"], None)
    for (kind, _id), found in copies.items():
        first_path, first_list, first = found[0]
        for path, in_list, view in found[1:]:
            if in_list == first_list:
                continue  # the same list twice: reported above
            differ = sorted(key for key in view.keys() & first.keys() if view[key] != first[key])
            if differ:
                listed = ", ".join(differ[:5]) + (", ..." if len(differ) > 5 else "")
                hsds.add_error(errors, [*path, "id"], f"The same {kind} as {hsds.json_path(first_path)}, with a "
                                                      f"different {listed}: copies of a record must agree.")


def _invalid(errors: dict) -> InvalidError:
    shown = dict(list(errors.items())[:MAX_REPORTED])
    more = f" The first {MAX_REPORTED} are listed." if len(errors) > MAX_REPORTED else ""
    return InvalidError("hsds_invalid", f"The HSDS document has {len(errors)} invalid field(s); nothing was "
                                         f"imported.{more}", errors=shown, extra={"error_count": len(errors)})


# --- applying records --------------------------------------------------------------------------------------------

def _assign(row, **values) -> bool:
    """Set the fields that differ; say whether any did."""
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _text(row, record: dict, limits: dict, extra: dict, warn) -> bool:
    """Copy the text fields present; one the product cannot hold (too long) stays in hsds_extra instead."""
    changed = False
    for key, limit in limits.items():
        if key in record:
            fits = hsds.fits(record[key], limit)
            if fits:
                extra.pop(key, None)
            else:
                extra[key] = record[key]
                warn([key], f"Longer than the {limit} characters the catalogue keeps: not shown; exported as "
                            "imported.")
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
        self.warnings: dict = {}
        self._unaffiliated_id: str | None = None
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
            elif parent is not None:  # listed on its own first, then nested: the copies agree (checked)
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
        # Which organizations list each point person and location (a service's under the service's organization).
        self.listers: dict[tuple[str, str], set[str]] = defaultdict(set)
        for org_id, entry in self.orgs.items():
            for kind, key in (("contact", "contacts"), ("location", "locations")):
                for item in entry.record.get(key) or []:
                    self.listers[(kind, item["id"])].add(org_id)
        for service_id, entry in self.services.items():
            org_id = self.parents[service_id] or entry.record.get("organization_id")
            for item in entry.record.get("contacts") or []:
                self.listers[("contact", item["id"])].add(org_id)

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

    def _warn(self, parts: list, message: str) -> None:
        hsds.add_error(self.warnings, parts, message)

    def _name(self, row, entry: _Entry, kind: str) -> bool:
        """The catalogue's name from the record's: whole when it can show it, the HSDS name kept for export."""
        name = entry.record.get("name")
        if not isinstance(name, str):
            return False  # absent from a partial record (the schemas require it of the others)
        shown = hsds.shown_name(name, kind)
        if shown == name:
            entry.extra.pop("name", None)
        else:
            entry.extra["name"] = name
            self._warn([*entry.path, "name"], f'Empty: the catalogue shows "{shown}" until staff name it; exported '
                                              "as imported." if not name.strip() else
                       f"Longer than the {hsds.NAME_SHOWN} characters the catalogue shows: shown cut; exported whole.")
        return _assign(row, name=shown)

    def _organization(self, org_id: str, entry: _Entry) -> None:
        record, org = entry.record, self.existing_orgs.get(org_id)
        entry.created = org is None
        org = org or Organization(id=org_id, program_id=self.actor.program_id)
        entry.extra = dict(org.hsds_extra or {})
        changed = self._name(org, entry, "organization")
        changed |= _text(org, record, ORGANIZATION_TEXT, entry.extra, lambda parts, message: self._warn(
            [*entry.path, *parts], message))
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
        # One row per id: a point person or location HSDS lists under two organizations is the first one's in the
        # catalogue, and the second keeps it as imported (it is exported under both).
        owner = self.owners.get((kind, item_id))
        if owner is None:  # the organization that has the row keeps it while it lists it; else the first to list it
            row = (self.contacts if kind == "contact" else self.locations).get(item_id)
            listed = row is not None and row.organization_id in self.listers[(kind, item_id)]
            owner = self.owners[(kind, item_id)] = row.organization_id if listed else org_id
        if owner == org_id:
            return True
        self._warn([*path, "id"], f"This {kind} is also listed under organization {owner}, which keeps it in the "
                                  "catalogue; here it is kept as imported and exported.")
        return False

    def _contact(self, item: dict, org_id: str, service_id: str | None, path: list) -> bool:
        values = hsds.contact_values(item)
        if values is None:
            self._warn(path, "Not a point person the catalogue can keep (it needs a name, a title of up to 200 "
                             "characters, an email of up to 254): exported as imported, not shown.")
            return False
        if not self._owned_by("contact", item["id"], org_id, path):
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
        if values is None:
            self._warn(path, "Not a location the catalogue can keep: exported as imported, not shown.")
            return False
        if not self._owned_by("location", item["id"], org_id, path):
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
        """The organization a service belongs to: the one it is listed under, its organization_id or nested one.

        A service HSDS gives no organization (or one neither in the document nor in the programme) stays with
        the organization it has, or a new one is filed under the programme's "Services without an organization".
        """
        record, path, parent = entry.record, entry.path, self.parents[service_id]
        named = [(where, value) for where, value in ((["organization_id"], record.get("organization_id")),
                                                     (["organization", "id"], (record.get("organization") or {})
                                                      .get("id"))) if value]
        org_id = parent or (named[0][1] if named else None)
        for where, value in named:
            if value != org_id:
                self._error([*path, *where], "Does not match the organization the service is listed under."
                            if parent else "Does not match organization_id.")
                return None
        existing = self.existing_services.get(service_id)
        if org_id is not None and org_id not in self.orgs and org_id not in self.existing_orgs:
            self._warn([*path, *named[0][0]], "No organization with this id in the document or in your programme: "
                       + ("the service stays with its organization." if existing else
                          f'filed under "{UNAFFILIATED[0]}" until its organization is imported.'))
            org_id = None
        elif org_id is None and existing is None:
            self._warn([*path, "organization_id"], f'No organization: filed under "{UNAFFILIATED[0]}".')
        if org_id is None:
            org_id = existing.organization_id if existing else self._unaffiliated()
        return org_id

    def _unaffiliated(self) -> str:
        """The programme's organization for services without one (made on first need; one id per programme)."""
        if self._unaffiliated_id is None:
            pid = self.actor.program_id
            org_id = str(uuid.uuid5(hsds.NAMESPACE, f"programme/{pid}/unaffiliated"))
            org = self.existing_orgs.get(org_id) or db.session.get(Organization, org_id)
            if org is None:
                org = Organization(id=org_id, program_id=pid, name=UNAFFILIATED[0], description=UNAFFILIATED[1])
                db.session.add(org)
            self.existing_orgs[org_id] = org
            self._unaffiliated_id = org_id
        return self._unaffiliated_id

    def _org_location_ids(self, org_id: str) -> set[str]:
        if self._location_ids is None:
            self._location_ids = defaultdict(set)
            for location_id, owner in db.session.execute(sa.select(Location.id, Location.organization_id).where(
                    Location.organization_id.in_(list(self.existing_orgs)))):
                self._location_ids[owner].add(location_id)
        return self._location_ids[org_id]

    def _service(self, service_id: str, entry: _Entry) -> None:
        org_id = self._service_organization(service_id, entry)
        if org_id is None:
            return  # refused: contradicts the document (reported)
        record, service = entry.record, self.existing_services.get(service_id)
        entry.created = service is None
        service = service or Service(id=service_id, program_id=self.actor.program_id)
        entry.extra = dict(service.hsds_extra or {})
        changed = self._name(service, entry, "service")
        changed |= _text(service, record, SERVICE_TEXT, entry.extra, lambda parts, message: self._warn(
            [*entry.path, *parts], message))
        changed |= _assign(service, organization_id=org_id)
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
        ages = {key: service.minimum_age if key == "minimum_age" else service.maximum_age
                for key in ("minimum_age", "maximum_age")}
        for key in ages:
            if key in entry.record:
                ages[key] = hsds.whole_age(entry.record[key])
                if ages[key] is None:  # one the product cannot hold (150, 17.5) is kept as imported
                    entry.extra[key] = entry.record[key]
                    self._warn([*entry.path, key], "Not a whole age from 0 to 120: age searches ignore it; "
                                                   "exported as imported.")
                else:
                    entry.extra.pop(key, None)
        low, high = ages["minimum_age"], ages["maximum_age"]
        if low is not None and high is not None and low > high:
            # HSDS allows it; the catalogue's rule does not: age searches ignore both, the export gives both back.
            self._warn([*entry.path, "maximum_age"], "Below minimum_age: age searches ignore both ages; exported "
                                                     "as imported.")
            entry.extra.update(ages)
            ages = dict.fromkeys(ages)
        return _assign(service, **ages)

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
