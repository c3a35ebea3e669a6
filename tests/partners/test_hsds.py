"""Open Referral HSDS 3.0: the export validates, imports round-trip all or nothing, the read-only HSDS API pages."""

from __future__ import annotations

import copy
import functools
import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from jsonschema import Draft202012Validator

from backend.audit.models import AuditEvent
from backend.database import db
from backend.partners import hsds_export
from backend.partners.hsds import DEFAULT_SCHEMA_DIR
from backend.partners.models import Location, Organization, PartnerContact, Service, ServiceAttribute
from tests.partners.test_catalogue import DETOX, HOUSING, partner

EXAMPLES = Path(__file__).resolve().parent / "hsds_examples"
EXAMPLE_ORG = "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610"
EXAMPLE_SERVICE = "ac148810-d857-441c-9679-408f346de14b"
MODELS = (Organization, Service, PartnerContact, Location, ServiceAttribute)


@functools.cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((DEFAULT_SCHEMA_DIR / f"{name}.json").read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_valid(name: str, record: dict) -> None:
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator(name).iter_errors(record)]
    assert problems == [], problems


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def row_counts(app) -> dict:
    with app.app_context():
        return {m.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in MODELS}


def counts(created=0, updated=0, unchanged=0) -> dict:
    return {"created": created, "updated": updated, "unchanged": unchanged}


def summary(organizations: dict, services: dict, warnings: dict | None = None) -> dict:
    """An import's answer: counts per kind and the warnings by JSON path."""
    warnings = warnings or {}
    return {"organizations": organizations, "services": services, "warnings": warnings,
            "warning_count": len(warnings)}


def without_ids(value):
    """A document with ids, references and capacity left out (capacity is live data, not imported)."""
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items() if k != "id" and not k.endswith("_id")
                and k != "capacities"}
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


@pytest.fixture
def catalogue(supervisor_api, coach_api) -> dict:
    """Two partners built through the API: services, point people, a location, a capacity report."""
    org = partner(supervisor_api)
    detox = supervisor_api.post(f"/api/v1/partners/{org}/services", json=DETOX).json["id"]
    housing = supervisor_api.post(f"/api/v1/partners/{org}/services", json={
        **HOUSING, "same_day_intake": True, "eligibility_description": "Adults in recovery",
        "hours": "Mon-Fri 9-5"}).json["id"]
    for contact in ({"name": "Dana Intake", "title": "Intake coordinator", "phone": "312 555 0131",
                     "best_hours": "8-11am", "service_id": detox},
                    {"name": "Sam Director", "email": "sam@northside.example.org"}):
        assert supervisor_api.post(f"/api/v1/partners/{org}/contacts", json=contact).status_code == 201
    other = partner(supervisor_api, "Harbor Recovery")
    harbor = supervisor_api.post(f"/api/v1/partners/{other}/services", json={
        "name": "Harbor Outpatient", "service_types": ["outpatient_moud"], "moud": ["methadone", "naltrexone"],
        "url": "https://harbor.example.org/outpatient", "email": "intake@harbor.example.org",
        "status": "temporarily closed", "maximum_age": 64}).json["id"]
    assert coach_api.post(f"/api/v1/services/{detox}/capacity", json={"available": 2, "maximum": 12,
                                                                      "note": "Two beds tonight"}).status_code == 201
    return {"org": org, "other": other, "detox": detox, "housing": housing, "harbor": harbor}


def test_export_validates_against_the_hsds_schemas(coach_api, catalogue):
    response = coach_api.get("/api/v1/hsds/export")
    assert response.status_code == 200
    doc = response.json
    assert [o["name"] for o in doc["organizations"]] == ["Harbor Recovery", "Northside Health"]
    # "services" repeats the nested services in the same order: by organization, then by name.
    assert [s["name"] for s in doc["services"]] == [s["name"] for o in doc["organizations"] for s in o["services"]]
    assert sorted(s["name"] for s in doc["services"]) == ["Bridge House", "Harbor Outpatient",
                                                          "Northside Withdrawal Management"]
    for org in doc["organizations"]:
        assert_valid("organization", org)
    for service in doc["services"]:
        assert_valid("service", service)
        assert service["organization"]["id"] == service["organization_id"]

    northside = doc["organizations"][1]
    assert northside["phones"][0]["number"] == "+13125550130"
    assert [c["name"] for c in northside["contacts"]] == ["Dana Intake", "Sam Director"]
    dana = northside["contacts"][0]
    assert dana["service_id"] == catalogue["detox"] and dana["phones"][0]["number"] == "+13125550131"
    assert dana["attributes"][0]["taxonomy_term"]["code"] == "best_hours" and dana["attributes"][0]["value"] == "8-11am"
    address = northside["locations"][0]["addresses"][0]
    assert (address["address_1"], address["city"], address["country"]) == ("1 Lake St", "Chicago", "US")
    assert northside["metadata"][0]["last_action_type"] == "verified"

    detox = next(s for s in doc["services"] if s["id"] == catalogue["detox"])
    terms = {(a["taxonomy_term"]["taxonomy"], a["taxonomy_term"]["code"]) for a in detox["attributes"]}
    assert terms == {("bridgeline-service-type", "detox"), ("bridgeline-payer", "medicaid"),
                     ("bridgeline-payer", "uninsured"), ("bridgeline-moud", "buprenorphine"),
                     ("bridgeline-access", "walk_in")}
    assert sorted(lang["code"] for lang in detox["languages"]) == ["en", "es"]
    assert detox["minimum_age"] == 18 and "maximum_age" not in detox
    assert detox["schedules"][0]["description"] == "24/7" and detox["phones"][0]["number"] == "+13125550120"
    assert detox["contacts"][0]["name"] == "Dana Intake"
    assert detox["service_at_locations"][0]["location_id"] == northside["locations"][0]["id"]
    assert detox["capacities"][0]["available"] == 2 and detox["capacities"][0]["unit"]["name"] == "Bed"
    assert "description" not in detox["capacities"][0]  # the coach's note stays in the programme
    assert len(detox["assured_date"]) == 10
    housing = next(s for s in doc["services"] if s["id"] == catalogue["housing"])
    assert housing["eligibility_description"] == "Adults in recovery" and housing["maximum_age"] == 64
    assert ("bridgeline-access", "same_day_intake") in {
        (a["taxonomy_term"]["taxonomy"], a["taxonomy_term"]["code"]) for a in housing["attributes"]}
    assert coach_api.get("/api/v1/hsds/export").json == doc  # generated ids are stable


def test_export_is_scoped_to_the_programme(catalogue, login, factory):
    outsider = login(factory.user("coach", factory.program("Elsewhere")))
    assert outsider.get("/api/v1/hsds/export").json == {"organizations": [], "services": []}


def test_reimporting_an_export_changes_nothing(app, supervisor_api, catalogue):
    doc = supervisor_api.get("/api/v1/hsds/export").json
    before = row_counts(app)
    response = supervisor_api.post("/api/v1/hsds/import", json=doc)
    assert response.status_code == 200, response.json
    assert response.json == summary(counts(unchanged=2), counts(unchanged=3))
    assert row_counts(app) == before
    assert supervisor_api.get("/api/v1/hsds/export").json == doc
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "import")).one()
        assert (event.resource, event.outcome, event.details) == (
            "hsds", "success", {"organizations": counts(unchanged=2), "services": counts(unchanged=3), "warnings": 0})


def test_export_imports_into_an_empty_programme_and_round_trips(app, supervisor_api, catalogue, login, factory):
    doc = supervisor_api.get("/api/v1/hsds/export").json
    other = login(factory.user("supervisor", factory.program("Second Programme")))
    response = other.post("/api/v1/hsds/import", json=doc)
    assert response.status_code == 200, response.json
    assert response.json == summary(counts(created=2), counts(created=3))
    copied = other.get("/api/v1/hsds/export").json
    assert without_ids(copied) == without_ids(doc)
    for org in copied["organizations"]:
        assert_valid("organization", org)
    # Ids are global keys: the other programme got its own rows and the first one's are untouched.
    assert {o["id"] for o in copied["organizations"]}.isdisjoint(o["id"] for o in doc["organizations"])
    assert supervisor_api.get("/api/v1/hsds/export").json == doc
    assert other.post("/api/v1/hsds/import", json=doc).json == summary(counts(unchanged=2), counts(unchanged=3))
    searched = other.get("/api/v1/services?service_type=detox&payer=medicaid&language=es&walk_in=true").json
    assert [s["name"] for s in searched] == ["Northside Withdrawal Management"]


def test_official_examples_import_and_reimporting_changes_nothing(app, supervisor_api):
    steps = [("service_list", counts(created=1), counts(created=1)),
             ("organization_full", counts(updated=1), counts(updated=1)),
             ("service_full", counts(unchanged=1), counts(unchanged=1)),
             ("organization_list", counts(unchanged=1), counts())]
    for name, orgs, services in steps:
        response = supervisor_api.post("/api/v1/hsds/import", json=example(name))
        assert response.status_code == 200, (name, response.json)
        assert response.json == summary(orgs, services), name
    rows = row_counts(app)
    assert rows == {"Organization": 1, "Service": 1, "PartnerContact": 1, "Location": 1, "ServiceAttribute": 1}
    exported = supervisor_api.get("/api/v1/hsds/export").json
    for name in ("organization_full", "service_full", "service_list", "organization_list"):
        response = supervisor_api.post("/api/v1/hsds/import", json=example(name))
        assert response.json["organizations"]["unchanged"] == 1, name
        assert response.json["organizations"]["updated"] == response.json["services"]["updated"] == 0, name
    assert row_counts(app) == rows
    assert supervisor_api.get("/api/v1/hsds/export").json == exported

    org = exported["organizations"][0]
    assert_valid("organization", org)
    assert_valid("service", exported["services"][0])
    original = example("organization_full")
    assert org["id"] == EXAMPLE_ORG and org["tax_status"] == original["tax_status"]
    assert org["programs"] == original["programs"] and org["funding"] == original["funding"]
    assert org["phones"] == original["phones"]  # the product reads the number; its spelling stays as imported
    service = org["services"][0]
    for field in ("cost_options", "required_documents", "service_areas", "program", "alert", "fees_description"):
        assert service[field] == original["services"][0][field], field
    assert service["languages"][0]["note"] == original["services"][0]["languages"][0]["note"]
    shown = supervisor_api.get(f"/api/v1/services/{EXAMPLE_SERVICE}").json
    assert shown["languages"] == ["ur"] and shown["minimum_age"] == 12 and shown["maximum_age"] == 100
    assert shown["hours"].startswith("The service is available from 10 am") and shown["verification_overdue"]
    partner_shown = supervisor_api.get(f"/api/v1/partners/{EXAMPLE_ORG}").json
    assert partner_shown["phone"] == "+441234234567"
    assert partner_shown["contacts"][0]["name"] == "Ann Persona"
    assert partner_shown["contacts"][0]["service_id"] == EXAMPLE_SERVICE
    assert partner_shown["locations"][0]["city"] == "MyCity"


def test_an_updated_version_updates_the_rows(app, supervisor_api):
    supervisor_api.post("/api/v1/hsds/import", json=example("organization_full"))
    doc = supervisor_api.get("/api/v1/hsds/export").json
    service = doc["organizations"][0]["services"][0]
    service["name"] = "Community Counselling (evenings)"
    service["maximum_age"] = 150  # valid HSDS the product cannot hold: kept as imported
    payer = {"id": str(uuid.uuid4()), "taxonomy_term": {"id": str(uuid.uuid4()), "name": "Medicaid",
                                                         "description": "Medicaid", "code": "medicaid",
                                                         "taxonomy": "bridgeline-payer"}}
    service["attributes"].append(payer)
    response = supervisor_api.post("/api/v1/hsds/import", json={"organizations": doc["organizations"]})
    assert response.json == summary(counts(unchanged=1), counts(updated=1), {
        "organizations[0].services[0].maximum_age": ["Not a whole age from 0 to 120: age searches ignore it; "
                                                     "exported as imported."]})
    shown = supervisor_api.get(f"/api/v1/services/{EXAMPLE_SERVICE}").json
    assert shown["name"] == "Community Counselling (evenings)" and shown["payers"] == ["medicaid"]
    assert shown["maximum_age"] is None
    exported = supervisor_api.get(f"/hsds/services/{EXAMPLE_SERVICE}").json
    assert exported["maximum_age"] == 150 and payer in exported["attributes"]
    assert_valid("service", exported)
    again = supervisor_api.post("/api/v1/hsds/import", json={"organizations": doc["organizations"]})
    assert again.json["services"] == counts(unchanged=1)


def test_an_invalid_document_names_every_path_and_writes_nothing(app, supervisor_api):
    nameless = example("organization_full")
    nameless["id"] = str(uuid.uuid4())
    del nameless["name"]
    nameless["services"][0]["id"] = str(uuid.uuid4())  # its own service, not organization_full's again
    nameless["services"][0]["phones"][0]["number"] = 12
    bad_service = {**example("service_full"), "id": "not-a-uuid"}
    response = supervisor_api.post("/api/v1/hsds/import", json={
        "organizations": [example("organization_full"), nameless], "services": [bad_service]})
    assert response.status_code == 422
    body = response.json
    assert body["error"] == "hsds_invalid" and "nothing was imported" in body["message"]
    assert body["errors"] == {
        "organizations[1].name": ["'name' is a required property"],
        "organizations[1].services[0].phones[0].number": ["12 is not of type 'string'"],
        "services[0].id": ["'not-a-uuid' is not a 'uuid'"],
    }
    assert set(row_counts(app).values()) == {0}


def test_one_invalid_record_among_good_ones_imports_nothing(app, supervisor_api, catalogue):
    before = row_counts(app)
    good = {"id": str(uuid.uuid4()), "name": "Good Service", "status": "active", "organization_id": catalogue["org"]}
    bad = {**good, "id": str(uuid.uuid4()), "url": "www.example.org"}  # a uri needs its scheme
    response = supervisor_api.post("/api/v1/hsds/import", json={
        "organizations": [example("organization_full")], "services": [good, bad]})
    assert response.status_code == 422
    assert response.json["errors"] == {"services[1].url": ["'www.example.org' is not a 'uri'"]}
    assert response.json["error_count"] == 1
    assert row_counts(app) == before


def test_a_service_takes_the_organization_it_is_given(app, supervisor_api, catalogue, login, factory):
    standalone = example("service_full")
    del standalone["organization"]
    # An organization of the programme is enough; one of another programme is not even seen.
    attached = supervisor_api.post("/api/v1/hsds/import", json={**standalone, "organization_id": catalogue["org"]})
    assert attached.json == summary(counts(), counts(created=1))
    assert supervisor_api.get(f"/api/v1/services/{EXAMPLE_SERVICE}").json["organization_id"] == catalogue["org"]
    outsider = login(factory.user("supervisor", factory.program("Elsewhere")))
    elsewhere = outsider.post("/api/v1/hsds/import", json={**standalone, "organization_id": catalogue["org"]})
    assert list(elsewhere.json["warnings"]) == ["organization_id"]
    assert outsider.get("/hsds/services").json["contents"][0]["organization"]["name"] == \
        "Services without an organization"
    # A document that contradicts itself is still refused.
    mismatch = {"organizations": [{**example("organization_full"), "services": [
        {**standalone, "id": str(uuid.uuid4()), "organization_id": catalogue["org"]}]}]}
    response = supervisor_api.post("/api/v1/hsds/import", json=mismatch)
    assert response.json["errors"] == {
        "organizations[0].services[0].organization_id": ["Does not match the organization the service is listed "
                                                         "under."]}


@pytest.mark.parametrize("body", [{"foo": 1}, [1, 2, 3], "organizations", 5, {}])
def test_a_body_that_is_not_hsds_is_refused(app, supervisor_api, body):
    response = supervisor_api.post("/api/v1/hsds/import", json=body)
    assert response.status_code == 422
    assert response.json["error"] == "not_hsds" and "$" in response.json["errors"]
    assert set(row_counts(app).values()) == {0}


def test_import_needs_json_and_stays_under_its_size_limit(app, supervisor_api):
    assert supervisor_api.post("/api/v1/hsds/import", data="x", content_type="text/plain").status_code == 415
    response = supervisor_api.post("/api/v1/hsds/import", data="{", content_type="application/json")
    assert response.status_code == 400
    app.config["HSDS_IMPORT_MAX_BYTES"] = 1024
    response = supervisor_api.post("/api/v1/hsds/import", json=example("organization_full"))
    assert response.status_code == 413 and response.json["error"] == "payload_too_large"


def test_import_without_the_schemas_is_unavailable(app, supervisor_api, tmp_path):
    app.config["HSDS_SCHEMA_DIR"] = str(tmp_path)
    response = supervisor_api.post("/api/v1/hsds/import", json=example("organization_full"))
    assert response.status_code == 503 and response.json["error"] == "unavailable"


def test_coaches_cannot_import(app, coach_api):
    response = coach_api.post("/api/v1/hsds/import", json=example("organization_full"))
    assert response.status_code == 403
    assert set(row_counts(app).values()) == {0}
    with app.app_context():
        refused = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "import")).one()
        assert (refused.resource, refused.outcome) == ("hsds", "forbidden")


def test_hsds_api_describes_itself(client, coach_api):
    info = coach_api.get("/hsds/").json
    assert info["version"] == "3.0" and info["profile"].startswith("https://openreferral.org/")
    assert info["openapi_url"].endswith("/api/v1/openapi.json")
    assert coach_api.get("/hsds").json == info
    assert client.get("/hsds/services").status_code == 401
    spec = client.get("/api/v1/openapi.json").json
    for path in ("/hsds/", "/hsds/services", "/hsds/services/{service_id}", "/hsds/organizations",
                 "/hsds/organizations/{organization_id}", "/api/v1/hsds/export", "/api/v1/hsds/import"):
        assert path in spec["paths"], path


def test_hsds_services_page_and_404(coach_api, catalogue, login, factory):
    first = coach_api.get("/hsds/services?per_page=2").json
    assert {k: v for k, v in first.items() if k != "contents"} == {
        "total_items": 3, "total_pages": 2, "page_number": 1, "size": 2, "first_page": True, "last_page": False,
        "empty": False}
    assert [s["name"] for s in first["contents"]] == ["Bridge House", "Harbor Outpatient"]
    for item in first["contents"]:
        assert_valid("service_list", item)
        assert not any(isinstance(v, list) for v in item.values())  # list pages carry one-to-one fields
    second = coach_api.get("/hsds/services?per_page=2&page=2").json
    assert second["size"] == 1 and second["last_page"] and not second["first_page"]
    assert second["contents"][0]["organization"]["name"] == "Northside Health"
    past = coach_api.get("/hsds/services?per_page=2&page=3").json
    assert past["contents"] == [] and past["total_items"] == 3 and not past["empty"]
    assert coach_api.get("/hsds/services?per_page=500").status_code == 422

    full = coach_api.get(f"/hsds/services/{catalogue['detox']}").json
    assert_valid("service", full)
    assert full["organization"]["contacts"][0]["name"] == "Dana Intake" and "services" not in full["organization"]
    missing = coach_api.get(f"/hsds/services/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json["error"] == "not_found"
    outsider = login(factory.user("coach", factory.program("Elsewhere")))
    assert outsider.get(f"/hsds/services/{catalogue['detox']}").status_code == 404
    assert outsider.get("/hsds/services").json["empty"] is True


def test_nested_copies_and_list_pages_import_once(app, supervisor_api):
    page = {"total_items": 1, "contents": [example("service_full")]}
    response = supervisor_api.post("/api/v1/hsds/import", json=page)
    assert response.json == summary(counts(created=1), counts(created=1))
    # A service nested in its organization and listed again (the export's shape) is one service.
    both = {"organizations": [example("organization_full")], "services": [example("service_full")]}
    assert supervisor_api.post("/api/v1/hsds/import", json=both).json == summary(counts(unchanged=1),
                                                                                 counts(unchanged=1))
    # The organization nested in service_full is organization_full without its services.
    bare = supervisor_api.post("/api/v1/hsds/import", json=[example("organization_full")])
    assert bare.json == summary(counts(unchanged=1), counts(unchanged=1))


def test_a_point_person_of_several_services_round_trips(app, supervisor_api):
    org = example("organization_full")
    second = {**copy.deepcopy(org["services"][0]), "id": str(uuid.uuid4()), "name": "Evening Counselling"}
    org["services"].append(second)
    assert supervisor_api.post("/api/v1/hsds/import", json=org).json == summary(counts(created=1),
                                                                                counts(created=2))
    assert supervisor_api.post("/api/v1/hsds/import", json=org).json == summary(counts(unchanged=1),
                                                                                counts(unchanged=2))
    # The product ties a point person to one service (the first listing them); the other keeps them as imported.
    shown = supervisor_api.get(f"/api/v1/partners/{EXAMPLE_ORG}").json
    assert shown["contacts"][0]["service_id"] == EXAMPLE_SERVICE
    services = {s["id"]: s for s in supervisor_api.get("/api/v1/hsds/export").json["organizations"][0]["services"]}
    assert services[second["id"]]["contacts"] == second["contacts"]
    assert services[EXAMPLE_SERVICE]["contacts"][0]["name"] == "Ann Persona"


def test_the_streamed_export_is_the_same_whatever_the_batch_and_spool_size(coach_api, catalogue, monkeypatch):
    whole = coach_api.get("/api/v1/hsds/export")
    monkeypatch.setattr(hsds_export, "EXPORT_BATCH", 1)  # a batch boundary between every organization
    monkeypatch.setattr(hsds_export, "EXPORT_SPOOL_BYTES", 64)  # the services list spills to disk
    pieces = coach_api.get("/api/v1/hsds/export")
    assert pieces.get_data() == whole.get_data() and len(pieces.json["organizations"]) == 2


def test_the_export_reads_a_batch_at_a_time_not_a_row_at_a_time(supervisor_api, catalogue, count_statements):
    with count_statements() as statements:
        supervisor_api.get("/api/v1/hsds/export").get_data()
    small = len(statements)
    for n in range(6):
        org = partner(supervisor_api, f"Partner {n}")
        supervisor_api.post(f"/api/v1/partners/{org}/services", json={**DETOX, "name": f"Detox {n}"})
        supervisor_api.post(f"/api/v1/partners/{org}/contacts", json={"name": f"Intake {n}"})
    with count_statements() as statements:
        doc = supervisor_api.get("/api/v1/hsds/export").json
    assert len(doc["organizations"]) == 8 and len(doc["services"]) == 9
    assert len(statements) == small
