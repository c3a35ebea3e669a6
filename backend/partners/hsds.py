"""Open Referral HSDS 3.0 pieces shared by export and import: schemas, ids, taxonomies, nested objects.

The product models a subset of HSDS. Every nested list it models (phones,
contacts, locations, languages, attributes, ...) is handled the same way both
ways: a key function says which items of a list stand for product data (the
rest are passed through untouched, kept in `hsds_extra`), and `lay_over` puts
the product's current values over the items they stand for (the builders are in
hsds_export). Import derives the product's values with the same key functions,
so the two directions agree.
HSDS 3.0 is by Open Referral (https://openreferral.org/), CC BY-SA 4.0.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from jsonschema import Draft202012Validator, FormatChecker
from marshmallow import ValidationError

from backend.common.errors import UnavailableError
from backend.common.schemas import normalise_phone
from backend.database import db
from backend.partners.models import Location, Organization, PartnerContact, Service
from backend.partners.vocabulary import MOUD, PAYERS, SERVICE_TYPES

log = logging.getLogger("bridgeline.hsds")

HSDS_VERSION = "3.0"
# The official compiled schemas ship with the package (see hsds_schemas/README.md); HSDS_SCHEMA_DIR overrides it.
DEFAULT_SCHEMA_DIR = Path(__file__).resolve().parent / "hsds_schemas"
# Fixed for good: every generated id (taxonomy terms, nested objects, per-programme ids) derives from it.
NAMESPACE = uuid.UUID("3b0c4d52-7a4e-5f0e-9b61-1c2d8e4f6a90")
MAX_MESSAGE = 300
# The formats the official schemas use: jsonschema checks uri and date-time only with its optional packages.
CHECKED_FORMATS = ("uuid", "email", "uri", "date-time")
# HSDS names have no maximum and may be empty; the catalogue's names are what its API promises (1 to 200
# characters). The catalogue shows a longer one cut and an empty one as "Unnamed ..."; the export gives the HSDS
# name back whole (kept in hsds_extra while the catalogue shows it otherwise).
NAME_SHOWN = 10_000  # names are text columns: an HSDS name is kept whole (this bounds only the absurd)

ACCESS = {"walk_in": "Walk-in accepted", "same_day_intake": "Same-day intake"}
CONTACT_FACTS = {"best_hours": "Best hours to call"}
# product kind -> (HSDS taxonomy name, taxonomy description, codes and labels)
TAXONOMIES = {
    "service_type": ("bridgeline-service-type", "Bridgeline service types", SERVICE_TYPES),
    "payer": ("bridgeline-payer", "Payers a service accepts", PAYERS),
    "moud": ("bridgeline-moud", "Medications for opioid use disorder a service offers", MOUD),
    "access": ("bridgeline-access", "How people get into a service", ACCESS),
    "contact": ("bridgeline-contact", "Facts about a partner's point person", CONTACT_FACTS),
}
SERVICE_KINDS = ("service_type", "payer", "moud")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")

Product = dict[object, Callable[[dict | None], dict]]


# --- schemas ---------------------------------------------------------------------------------------------------

@functools.cache
def _validator(directory: str, name: str) -> Draft202012Validator:
    schema = json.loads((Path(directory) / f"{name}.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def missing_formats(checker: FormatChecker | None = None) -> list[str]:
    """The formats the HSDS schemas use that jsonschema cannot check here (its optional packages are missing)."""
    checker = checker or Draft202012Validator.FORMAT_CHECKER
    return [name for name in CHECKED_FORMATS if name not in checker.checkers]


def validator(name: str) -> Draft202012Validator:
    """The validator of one compiled HSDS schema (organization, service, service_list), loaded once per process."""
    directory = str(current_app.config.get("HSDS_SCHEMA_DIR") or DEFAULT_SCHEMA_DIR)
    try:
        found = _validator(directory, name)
    except FileNotFoundError as exc:
        log.error("HSDS schema %s.json not found in %s (set HSDS_SCHEMA_DIR)", name, directory)
        raise UnavailableError("unavailable",
                               "HSDS import is not available: the HSDS schemas are not installed.") from exc
    # Without its optional packages jsonschema passes every `uri` and `date-time` unchecked: refuse rather than
    # import values the export would then fail the official schema with.
    missing = missing_formats(found.format_checker)
    if missing:
        log.error("jsonschema cannot check the formats %s (install requirements.txt: jsonschema[format-nongpl])",
                  ", ".join(missing))
        raise UnavailableError("unavailable", "HSDS import is not available: the format checks are not installed.")
    return found


# --- HSDS types: an import takes organizations and services; any other HSDS object is named and refused -------------

# Where the compiled organization and service schemas define each other HSDS type in full (every property and the
# required ones are the same as in the specification's own definitions).
OTHER_TYPES = {
    "location": ("organization", ["locations"]),
    "service_at_location": ("service", ["service_at_locations"]),
    "taxonomy_term": ("service", ["attributes", "taxonomy_term"]),
    "taxonomy": ("service", ["attributes", "taxonomy_term", "taxonomy_detail"]),
    "contact": ("organization", ["contacts"]),
    "phone": ("organization", ["phones"]),
    "program": ("organization", ["programs"]),
    "attribute": ("service", ["attributes"]),
    "schedule": ("service", ["schedules"]),
    "address": ("organization", ["locations", "addresses"]),
    "accessibility": ("organization", ["locations", "accessibility"]),
    "language": ("service", ["languages"]),
    "funding": ("organization", ["funding"]),
    "cost_option": ("service", ["cost_options"]),
    "service_area": ("service", ["service_areas"]),
    "required_document": ("service", ["required_documents"]),
    "organization_identifier": ("organization", ["organization_identifiers"]),
    "metadata": ("organization", ["metadata"]),
}
IMPORTED_TYPES = ("organization", "service")
API_INFO_KEYS = {"version", "profile", "openapi_url", "description", "publisher"}
# Documents that are HSDS but no object of a type: what people call them.
DOCUMENTS = {"api_information": "HSDS API information (the answer of an HSDS API's /)",
             "tabular": "an HSDS tabular data package (CSV tables as JSON)"}


def described(found: str) -> str:
    """An HSDS type or document in words: "an HSDS taxonomy_term"."""
    return DOCUMENTS.get(found, f"an HSDS {found}")


def _definition(schema: dict, keys: list[str]) -> dict:
    for key in keys:
        schema = schema["properties"][key]
        schema = schema.get("items", schema)
    return schema


def type_shapes() -> dict[str, tuple[frozenset, frozenset]]:
    """Each HSDS type's (properties, required properties), read from the shipped compiled schemas."""
    for name in IMPORTED_TYPES:
        validator(name)  # refused here when the schemas or the format checks are unavailable
    return _type_shapes(str(current_app.config.get("HSDS_SCHEMA_DIR") or DEFAULT_SCHEMA_DIR))


@functools.cache
def _type_shapes(directory: str) -> dict[str, tuple[frozenset, frozenset]]:
    roots = {name: _validator(directory, name).schema for name in IMPORTED_TYPES}
    shapes = {name: (frozenset(schema["properties"]), frozenset(schema.get("required", ())))
              for name, schema in roots.items()}
    for name, (root, keys) in OTHER_TYPES.items():
        found = _definition(roots[root], keys)
        shapes[name] = (frozenset(found["properties"]), frozenset(found.get("required", ())))
    return shapes


def hsds_type(record) -> str | None:
    """The HSDS type a JSON object is (organization, service, taxonomy_term, location, ...), or None if no HSDS type.

    The type whose properties cover the most of the object's keys; on a tie organization and service first (a
    bare {id, name, description} is an organization however many other types it would fit), then the fewest
    required properties missing. An HSDS API's `/` answer ("api_information") and a tabular data package
    ("tabular") are named too.
    """
    if not isinstance(record, dict) or not record:
        return None
    keys = set(record)
    if all(isinstance(key, str) and key.endswith(".csv") for key in keys):
        return "tabular"
    if "version" in keys and keys <= API_INFO_KEYS and keys & {"profile", "openapi_url"}:
        return "api_information"
    shapes = type_shapes()
    order = list(shapes)
    best = min(order, key=lambda name: (len(keys - shapes[name][0]), name not in IMPORTED_TYPES,
                                        len(shapes[name][1] - keys), order.index(name)))
    return best if keys & shapes[best][0] else None


def json_path(parts) -> str:
    """A readable JSON path such as organizations[2].services[0].name ("$" for the document itself)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "$"


def add_error(errors: dict, parts, message: str) -> None:
    """Record one problem under its JSON path, once."""
    messages = errors.setdefault(json_path(parts), [])
    if message not in messages:
        messages.append(message)


def schema_errors(name: str, record, prefix: list, errors: dict) -> None:
    """Add every violation of schema `name` by `record` to `errors`, keyed by JSON path in the document."""
    for error in validator(name).iter_errors(record):
        parts = [*prefix, *error.absolute_path]
        message = error.message if len(error.message) <= MAX_MESSAGE else error.message[:MAX_MESSAGE] + "…"
        if error.validator == "required" and isinstance(error.instance, dict):
            # Name the missing field itself, so the path points at what to add.
            missing = [p for p in error.validator_value if p not in error.instance and f"{p!r} is" in message]
            parts = [*parts, *missing[:1]]
        add_error(errors, parts, message)


# --- ids: rows are keyed by HSDS id, but ids are global and programmes must stay apart ------------------------

def child_id(parent_id: str, name: str) -> str:
    """A stable id for a nested object the product keeps no row for, so repeated exports are identical."""
    return str(uuid.uuid5(uuid.UUID(parent_id), name))


def programme_id(program_id: int, hsds_id: str) -> str:
    """The row id used when an imported id already belongs to another programme (ids are global keys)."""
    return str(uuid.uuid5(NAMESPACE, f"programme/{program_id}/{hsds_id}"))


def _row_ids(records) -> dict[type, set[str]]:
    """The ids in the document that become row ids, per model."""
    ids: dict[type, set[str]] = defaultdict(set)

    def organization(org: dict) -> None:
        ids[Organization].add(org["id"])
        ids[PartnerContact].update(contact["id"] for contact in org.get("contacts") or [])
        ids[Location].update(location["id"] for location in org.get("locations") or [])
        for nested in org.get("services") or []:
            service(nested)

    def service(record: dict) -> None:
        ids[Service].add(record["id"])
        ids[PartnerContact].update(contact["id"] for contact in record.get("contacts") or [])
        if record.get("organization_id"):
            ids[Organization].add(record["organization_id"])
        if isinstance(record.get("organization"), dict):
            organization(record["organization"])

    for kind, _path, record in records:
        (organization if kind == "organization" else service)(record)
    return ids


def _owners(model, ids: set[str]) -> dict[str, int]:
    """The programme each existing row of these ids belongs to."""
    if model in (Organization, Service):
        stmt = sa.select(model.id, model.program_id)
    else:
        stmt = sa.select(model.id, Organization.program_id).join(Organization, Organization.id == model.organization_id)
    return dict(db.session.execute(stmt.where(model.id.in_(ids))).all())


def id_mapping(program_id: int, records) -> dict[str, str]:
    """Ids to rewrite: to canonical lower case, and away from rows of another programme (never touched)."""
    mapping = {}
    for model, ids in _row_ids(records).items():
        canonical = {original: str(uuid.UUID(original)) for original in ids}
        owners = _owners(model, set(canonical.values()))
        for original, row_id in canonical.items():
            if owners.get(row_id, program_id) != program_id:
                row_id = programme_id(program_id, row_id)
            if row_id != original:
                mapping[original] = row_id
    return mapping


def rewrite(value, mapping: dict[str, str]):
    """The document with ids replaced; ids are UUIDs, so every equal string is one of them or a reference."""
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, list):
        return [rewrite(item, mapping) for item in value]
    if isinstance(value, dict):
        return {key: rewrite(item, mapping) for key, item in value.items()}
    return value


# --- values ------------------------------------------------------------------------------------------------------

def fits(value, limit: int | None) -> bool:
    """A string the product can store in a column of `limit` characters (None: unlimited)."""
    return isinstance(value, str) and (limit is None or len(value) <= limit)


def shown_name(name: str, kind: str) -> str:
    """The name the catalogue shows for an organization's or service's HSDS name (1 to NAME_SHOWN characters)."""
    if not name.strip():
        return f"Unnamed {kind}"
    return name if len(name) <= NAME_SHOWN else name[:NAME_SHOWN - 1] + "…"


def whole_age(value) -> int | None:
    """An HSDS age (a JSON number) as the product's 0-120 integer, or None when it cannot be one."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        return None
    return int(value) if 0 <= value <= 120 else None


def parse_day(value) -> date | None:
    """The date of an HSDS date or date-time string."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def day_start(day: date) -> datetime:
    """Midnight UTC of a day (HSDS keeps verification by day)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def phone_number(item: dict) -> str | None:
    """An HSDS phone's number in the product's E.164 form, or None when it does not parse."""
    number = item.get("number")
    if not isinstance(number, str) or len(number) > 40:
        return None
    try:
        return normalise_phone(number, current_app.config["PHONE_DEFAULT_REGION"])
    except ValidationError:
        return None


# --- lists: keys and lay_over --------------------------------------------------------------------------------------

def lay_over(items: list | None, keys: Callable[[list], list], product: Product) -> list:
    """The product's items laid over an imported list (keys from `keys`, builders in `product`)."""
    # An item keyed None is not modelled and stays as it was; a modelled one is rebuilt on top of itself, or
    # left out when the product no longer has it; product items no imported item stood for come last.
    items = items or []
    out, used = [], set()
    for item, key in zip(items, keys(items), strict=True):
        if key is None:
            out.append(item)
        elif key in product and key not in used:
            used.add(key)
            out.append(product[key](item))
    out.extend(build(None) for key, build in product.items() if key not in used)
    return out


def first_keys(items: list, matches: Callable[[dict], bool], key: str = "primary") -> list:
    """Key the first item that matches; the product models one such item per list."""
    keys, found = [], False
    for item in items:
        hit = not found and isinstance(item, dict) and matches(item)
        found = found or hit
        keys.append(key if hit else None)
    return keys


def first_keyed(items: list, keys: Callable[[list], list], key: str = "primary") -> dict | None:
    """The item of a list that carries `key`, if any."""
    return next((item for item, k in zip(items, keys(items), strict=True) if k == key), None)


# --- phones ------------------------------------------------------------------------------------------------------

def phone_keys(items: list) -> list:
    """Key the first phone whose number parses: the product keeps one number."""
    return first_keys(items, lambda item: phone_number(item) is not None)


def primary_phone(items: list) -> str | None:
    """The number the product keeps for a list of HSDS phones: the first that parses."""
    item = first_keyed(items, phone_keys)
    return None if item is None else phone_number(item)


# --- taxonomy terms and attributes -------------------------------------------------------------------------------

def term_id(taxonomy: str, code: str) -> str:
    """The stable id of one of the product's taxonomy terms."""
    return str(uuid.uuid5(NAMESPACE, f"taxonomy/{taxonomy}/{code}"))


def taxonomy_id(taxonomy: str) -> str:
    """The stable id of one of the product's taxonomies."""
    return str(uuid.uuid5(NAMESPACE, f"taxonomy/{taxonomy}"))


TERMS_BY_ID = {term_id(taxonomy, code): (kind, code)
               for kind, (taxonomy, _, codes) in TAXONOMIES.items() for code in codes}
TAXONOMIES_BY_ID = {taxonomy_id(taxonomy): kind for kind, (taxonomy, _, _) in TAXONOMIES.items()}
KIND_BY_TAXONOMY = {taxonomy: kind for kind, (taxonomy, _, _) in TAXONOMIES.items()}


def attribute_key(item) -> tuple[str, str] | None:
    """(kind, code) when an HSDS attribute carries one of the product's taxonomy terms."""
    if not isinstance(item, dict):
        return None
    term = item.get("taxonomy_term") if isinstance(item.get("taxonomy_term"), dict) else {}
    known = TERMS_BY_ID.get(item.get("taxonomy_term_id")) or TERMS_BY_ID.get(term.get("id"))
    if known:
        return known
    detail = term.get("taxonomy_detail") if isinstance(term.get("taxonomy_detail"), dict) else {}
    kind = KIND_BY_TAXONOMY.get(term.get("taxonomy")) or KIND_BY_TAXONOMY.get(detail.get("name"))
    code = term.get("code")
    return (kind, code) if kind and isinstance(code, str) and code in TAXONOMIES[kind][2] else None


def service_attribute_keys(items: list) -> list:
    """Key the attributes that carry a service type, payer, MOUD or access term."""
    return [key if key and key[0] in (*SERVICE_KINDS, "access") else None for key in map(attribute_key, items)]


def contact_attribute_keys(items: list) -> list:
    """Key the attribute that carries a point person's best hours."""
    return ["best_hours" if attribute_key(item) == ("contact", "best_hours") and fits(item.get("value"), 200)
            else None for item in items]


# --- languages and schedules -------------------------------------------------------------------------------------

def language_code(item) -> str | None:
    """An HSDS language's ISO 639 code in lower case, or None."""
    code = item.get("code") if isinstance(item, dict) else None
    return code.lower() if isinstance(code, str) and LANGUAGE_CODE.match(code.lower()) else None


def language_keys(items: list) -> list:
    """Key each language by its ISO 639 code."""
    return [language_code(item) for item in items]


def schedule_keys(items: list) -> list:
    """Key the first schedule with a description: it carries the product's free-text hours."""
    return first_keys(items, lambda item: fits(item.get("description"), 500) and bool(item["description"].strip()),
                      "hours")


# --- contacts ----------------------------------------------------------------------------------------------------

def contact_values(item) -> dict | None:
    """The point-person fields an HSDS contact gives, or None if the product cannot keep it (no name, too long)."""
    if not isinstance(item, dict):
        return None
    name = item.get("name")
    if not fits(name, None) or not name.strip():
        return None
    values = {"name": name}
    for key, limit in (("title", 200), ("email", 254)):
        if key in item:
            if not fits(item[key], limit):
                return None
            values[key] = item[key] or None
    if "phones" in item:
        values["phone"] = primary_phone(item["phones"])
    if "attributes" in item:
        hours = first_keyed(item["attributes"], contact_attribute_keys, "best_hours")
        values["best_hours"] = hours["value"] if hours else None
    return values


def contact_keys(items: list) -> list:
    """Key each contact the product can keep as a point person by its id."""
    return [item["id"] if contact_values(item) is not None else None for item in items]


# --- locations and addresses -------------------------------------------------------------------------------------

ADDRESS_FIELDS = {"address_1": 200, "city": 100, "state_province": 100, "postal_code": 20}


def _address_fits(item: dict) -> bool:
    country = item.get("country")
    return (all(fits(item.get(key), limit) for key, limit in ADDRESS_FIELDS.items())
            and isinstance(country, str) and len(country) == 2)


def address_keys(items: list) -> list:
    """Key the first address the product can hold."""
    return first_keys(items, _address_fits)


def location_values(item) -> dict | None:
    """The fields a Location row takes from an HSDS location (first fitting address), or None if it cannot."""
    if not isinstance(item, dict) or ("name" in item and not fits(item["name"], None)):
        return None
    values = {"name": item["name"] or None} if "name" in item else {}
    if "addresses" in item:
        address = first_keyed(item["addresses"], address_keys) or {}
        values.update({key: address.get(key) or None for key in ADDRESS_FIELDS})
        if address:
            values["country"] = address["country"].upper()
    return values


def location_keys(items: list) -> list:
    """Key each location the product can keep by its id."""
    return [item["id"] if location_values(item) is not None else None for item in items]


def service_location(item) -> str | None:
    """The location a service_at_location points at (by id or by its nested location)."""
    nested = item.get("location") if isinstance(item.get("location"), dict) else {}
    return item.get("location_id") or nested.get("id")


def service_at_location_keys(location_ids: set[str]) -> Callable[[list], list]:
    """Key the first service_at_location at one of these locations."""
    return lambda items: first_keys(items, lambda item: service_location(item) in location_ids)


# --- verification metadata -------------------------------------------------------------------------------------

def metadata_keys(items: list) -> list:
    """Key the first metadata entry that records a verification."""
    return first_keys(items, lambda item: item.get("last_action_type") == "verified"
                      and parse_day(item.get("last_action_date")) is not None, "verified")


def verified_day(items: list) -> date | None:
    """The day of the verification a metadata list records, if any."""
    item = first_keyed(items, metadata_keys, "verified")
    return None if item is None else parse_day(item["last_action_date"])
