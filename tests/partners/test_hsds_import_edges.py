"""HSDS 3.0 import at the edges: formats are checked, other HSDS types are named and refused, valid HSDS the
catalogue's own rules used to refuse imports with per-record warnings, repeated ids are refused with their paths,
a dry run writes nothing, and the official examples round-trip."""

from __future__ import annotations

import copy
import uuid

import pytest
import sqlalchemy as sa
from jsonschema import Draft202012Validator, FormatChecker

from backend.audit.models import AuditEvent
from backend.database import db
from backend.partners import hsds
from backend.partners.models import Location, Organization, PartnerContact, Service
from tests.partners.test_hsds import (
    EXAMPLE_ORG,
    EXAMPLE_SERVICE,
    assert_valid,
    counts,
    example,
    row_counts,
    summary,
)

IMPORT = "/api/v1/hsds/import"
UNAFFILIATED = "Services without an organization"


def new_id() -> str:
    return str(uuid.uuid4())


def organization(name: str = "Lakeside Recovery", **fields) -> dict:
    return {"id": new_id(), "name": name, "description": "Community partner", **fields}


def service(name: str = "Peer Support", **fields) -> dict:
    return {"id": new_id(), "name": name, "status": "active", **fields}


def location(name: str = "Main site") -> dict:
    return {"id": new_id(), "location_type": "physical", "name": name, "addresses": [{
        "id": new_id(), "address_1": "5 Harbor Rd", "city": "Chicago", "state_province": "IL",
        "postal_code": "60602", "country": "US", "address_type": "physical"}]}


def exported(api) -> dict:
    """The programme's export, every record checked against the official schemas (formats included)."""
    doc = api.get("/api/v1/hsds/export").json
    for record in doc["organizations"]:
        assert_valid("organization", record)
    for record in doc["services"]:
        assert_valid("service", record)
    return doc


def audited_imports(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "import", AuditEvent.outcome == "success"))


# --- formats ----------------------------------------------------------------------------------------------------------

def test_uri_and_date_time_formats_are_checked(app, supervisor_api):
    doc = {"organizations": [organization(website="www.example.org", services=[
        service(url="www.example.org", last_modified="yesterday")])]}
    response = supervisor_api.post(IMPORT, json=doc)
    assert response.status_code == 422 and response.json["error"] == "hsds_invalid"
    assert response.json["errors"] == {
        "organizations[0].website": ["'www.example.org' is not a 'uri'"],
        "organizations[0].services[0].url": ["'www.example.org' is not a 'uri'"],
        "organizations[0].services[0].last_modified": ["'yesterday' is not a 'date-time'"]}
    assert set(row_counts(app).values()) == {0}
    fixed = copy.deepcopy(doc)
    fixed["organizations"][0]["website"] = "https://www.example.org"
    fixed["organizations"][0]["services"][0].update(url="https://www.example.org/peer",
                                                    last_modified="2026-11-30T09:15:00.000Z")
    assert supervisor_api.post(IMPORT, json=fixed).json == summary(counts(created=1), counts(created=1))
    assert exported(supervisor_api)["services"][0]["last_modified"] == "2026-11-30T09:15:00.000Z"


def test_without_the_format_checks_the_import_is_unavailable(app, supervisor_api, monkeypatch):
    # jsonschema without its optional packages checks uuid and email, and passes every uri and date-time.
    loaded = hsds._validator

    def unchecked(directory, name):
        return Draft202012Validator(loaded(directory, name).schema, format_checker=FormatChecker(["uuid", "email"]))

    monkeypatch.setattr(hsds, "_validator", unchecked)
    response = supervisor_api.post(IMPORT, json=example("organization_full"))
    assert response.status_code == 503 and response.json["error"] == "unavailable"
    assert hsds.missing_formats(FormatChecker(["uuid", "email"])) == ["uri", "date-time"]
    assert hsds.missing_formats() == []  # this environment has them (requirements.txt pins them)


# --- other HSDS types -------------------------------------------------------------------------------------------------

SERVICE_AT_LOCATION = {"id": "1c5b0b5e-1a58-4f67-9ad5-6a0a3f1a7b10", "service_id": EXAMPLE_SERVICE,
                       "location_id": "a3e0ecbd-2e24-4b6f-b6c3-8c1d2b4ee5d0", "description": "Evenings"}


@pytest.mark.parametrize(("body", "hsds_type"), [
    ("taxonomy_term", "taxonomy_term"), ("taxonomy", "taxonomy"), ("location", "location"),
    ("taxonomy_term_list", "taxonomy_term"), ("taxonomy_list", "taxonomy"), ("base", "api_information"),
    ("tabular", "tabular"), (SERVICE_AT_LOCATION, "service_at_location")])
def test_documents_of_other_hsds_types_are_not_hsds_and_named(app, supervisor_api, body, hsds_type):
    response = supervisor_api.post(IMPORT, json=example(body) if isinstance(body, str) else body)
    assert response.status_code == 422, response.json
    assert response.json["error"] == "not_hsds" and response.json["hsds_type"] == hsds_type
    assert "organizations and services only" in response.json["message"]
    assert set(row_counts(app).values()) == {0}


def test_a_record_of_another_type_inside_a_document_is_named_by_path(app, supervisor_api):
    response = supervisor_api.post(IMPORT, json={"organizations": [example("organization_full"),
                                                                   example("taxonomy_term")]})
    assert response.status_code == 422 and response.json["error"] == "hsds_invalid"
    assert response.json["errors"] == {"organizations[1]": [
        "This is an HSDS taxonomy_term, not an organization: the import takes organizations and services only."]}


# --- valid HSDS the catalogue's rules used to refuse ----------------------------------------------------------------

def test_names_have_no_maximum(app, supervisor_api):
    site, person = location("S" * 300), {"id": new_id(), "name": "P" * 250}
    doc = organization("O" * 300, alternate_name="A" * 250, locations=[site], contacts=[person],
                       services=[service("V" * 500)])
    response = supervisor_api.post(IMPORT, json=doc)
    # Names are text: every one is kept whole, shown whole and exported whole, with nothing to warn about.
    assert response.json == summary(counts(created=1), counts(created=1), {})
    assert supervisor_api.get(f"/api/v1/partners/{doc['id']}").json["name"] == "O" * 300
    card = supervisor_api.get(f"/api/v1/services/{doc['services'][0]['id']}").json
    assert card["name"] == "V" * 500 and card["organization_name"] == "O" * 300
    out = exported(supervisor_api)["organizations"][0]
    assert (out["name"], out["alternate_name"], out["services"][0]["name"]) == ("O" * 300, "A" * 250, "V" * 500)
    assert out["locations"] == [site] and out["contacts"] == [person]
    again = supervisor_api.post(IMPORT, json=doc).json
    assert (again["organizations"], again["services"]) == (counts(unchanged=1), counts(unchanged=1))
    # Staff renaming the partner: their name is the HSDS name from then on.
    assert supervisor_api.patch(f"/api/v1/partners/{doc['id']}", json={"name": "Lakeside"}).status_code == 200
    assert exported(supervisor_api)["organizations"][0]["name"] == "Lakeside"


def test_an_empty_name_imports_with_a_warning(app, supervisor_api):
    doc = organization("", services=[service("")])
    response = supervisor_api.post(IMPORT, json=doc)
    assert response.json == summary(counts(created=1), counts(created=1), {
        "name": ['Empty: the catalogue shows "Unnamed organization" until staff name it; exported as imported.'],
        "services[0].name": ['Empty: the catalogue shows "Unnamed service" until staff name it; exported as '
                             "imported."]})
    assert supervisor_api.get(f"/api/v1/partners/{doc['id']}").json["name"] == "Unnamed organization"
    out = exported(supervisor_api)["organizations"][0]
    assert out["name"] == "" and out["services"][0]["name"] == ""


def test_a_minimum_age_above_the_maximum_is_a_warning_not_a_lost_file(app, supervisor_api):
    odd = service("Odd Ages", minimum_age=30, maximum_age=20)
    doc = organization(services=[odd, service("Teen Group", minimum_age=13, maximum_age=19)])
    response = supervisor_api.post(IMPORT, json=doc)
    assert response.json == summary(counts(created=1), counts(created=2), {
        "services[0].maximum_age": ["Below minimum_age: age searches ignore both ages; exported as imported."]})
    card = supervisor_api.get(f"/api/v1/services/{odd['id']}").json
    assert (card["minimum_age"], card["maximum_age"]) == (None, None)
    found = supervisor_api.get("/api/v1/services?age=25").json
    assert [s["name"] for s in found] == ["Odd Ages"]  # not hidden by ages that cannot both hold
    out = next(s for s in exported(supervisor_api)["services"] if s["id"] == odd["id"])
    assert (out["minimum_age"], out["maximum_age"]) == (30, 20)
    assert supervisor_api.patch(f"/api/v1/services/{odd['id']}", json={"hours": "9-5"}).status_code == 200
    again = supervisor_api.post(IMPORT, json=doc).json
    assert again["warning_count"] == 1 and again["services"]["created"] == 0


def test_a_service_without_an_organization_is_filed_apart(app, supervisor_api):
    alone = service("Mobile Outreach")
    response = supervisor_api.post(IMPORT, json=alone)
    assert response.json == summary(counts(), counts(created=1), {
        "organization_id": [f'No organization: filed under "{UNAFFILIATED}".']})
    card = supervisor_api.get(f"/api/v1/services/{alone['id']}").json
    assert card["organization_name"] == UNAFFILIATED
    doc = exported(supervisor_api)
    assert [o["name"] for o in doc["organizations"]] == [UNAFFILIATED]
    assert supervisor_api.post(IMPORT, json=doc).json == summary(counts(unchanged=1), counts(unchanged=1))
    # Its organization arrives later: the service moves there.
    home = organization("Harbor Outreach")
    moved = supervisor_api.post(IMPORT, json={**alone, "organization": home}).json
    assert (moved["organizations"], moved["services"]) == (counts(created=1), counts(updated=1))
    assert supervisor_api.get(f"/api/v1/services/{alone['id']}").json["organization_id"] == home["id"]


def test_a_location_and_a_point_person_under_two_organizations(app, supervisor_api):
    site, person = location("Shared clinic"), {"id": new_id(), "name": "Robin Intake", "title": "Intake"}
    first = organization("Lakeside Recovery", locations=[site], contacts=[person])
    second = organization("Harbor Health", locations=[copy.deepcopy(site)], contacts=[copy.deepcopy(person)])
    response = supervisor_api.post(IMPORT, json=[first, second])
    assert response.json == summary(counts(created=2), counts(), {
        "[1].contacts[0].id": [f"This contact is also listed under organization {first['id']}, which keeps it in "
                               "the catalogue; here it is kept as imported and exported."],
        "[1].locations[0].id": [f"This location is also listed under organization {first['id']}, which keeps it "
                                "in the catalogue; here it is kept as imported and exported."]})
    with app.app_context():
        assert db.session.get(Location, site["id"]).organization_id == first["id"]
        assert db.session.get(PartnerContact, person["id"]).organization_id == first["id"]
    doc = exported(supervisor_api)
    by_id = {o["id"]: o for o in doc["organizations"]}
    assert by_id[second["id"]]["locations"] == [site] and by_id[second["id"]]["contacts"] == [person]
    assert by_id[first["id"]]["locations"][0]["name"] == "Shared clinic"
    again = supervisor_api.post(IMPORT, json=doc).json
    assert (again["organizations"], again["services"]) == (counts(unchanged=2), counts())
    assert exported(supervisor_api) == doc


# --- repeated ids -----------------------------------------------------------------------------------------------------

def test_records_sharing_an_id_are_refused_with_their_paths(app, supervisor_api):
    shared = new_id()
    org_id = new_id()
    records = [{"id": shared, "name": f"Service {i % 88}", "status": "active", "organization_id": org_id}
               for i in range(128)]  # 128 records, one id, 88 different contents
    response = supervisor_api.post(IMPORT, json=[organization(id=org_id), *records])
    assert response.status_code == 422 and response.json["error"] == "hsds_invalid"
    assert response.json["error_count"] == 128 and len(response.json["errors"]) == 100
    assert response.json["errors"]["[1].id"] == [
        "Duplicate id: 128 items of this list have it ([1], [2], [3], ...). Each record needs its own id."]
    assert "[100].id" in response.json["errors"]
    assert set(row_counts(app).values()) == {0}


def test_ids_repeated_inside_a_record_or_across_organizations_are_refused(app, supervisor_api):
    doc = example("organization_full")
    doc["phones"].append(copy.deepcopy(doc["phones"][0]))
    other = organization("Harbor Health", services=[copy.deepcopy(doc["services"][0])])
    response = supervisor_api.post(IMPORT, json={"organizations": [doc, other]})
    assert response.status_code == 422
    assert response.json["errors"] == {
        "organizations[0].phones[0].id": ["Duplicate id: 2 items of this list have it (organizations[0].phones[0], "
                                          "organizations[0].phones[1]). Each record needs its own id."],
        "organizations[0].phones[1].id": ["Duplicate id: 2 items of this list have it (organizations[0].phones[0], "
                                          "organizations[0].phones[1]). Each record needs its own id."],
        "organizations[1].services[0].id": ["The same service as organizations[0].services[0], with a different "
                                            "organization_id: copies of a record must agree."]}
    assert set(row_counts(app).values()) == {0}


# --- dry run ----------------------------------------------------------------------------------------------------------

def test_a_dry_run_reports_and_writes_nothing(app, supervisor_api):
    doc = [example("organization_full"), service("Mobile Outreach", minimum_age=30, maximum_age=20)]
    response = supervisor_api.post(f"{IMPORT}?dry_run=true", json=doc)
    assert response.status_code == 200
    assert response.json["dry_run"] is True and response.json["warning_count"] == 2
    assert (response.json["organizations"], response.json["services"]) == (counts(created=1), counts(created=2))
    assert set(row_counts(app).values()) == {0} and audited_imports(app) == 0
    real = supervisor_api.post(IMPORT, json=doc).json
    assert real == {k: v for k, v in response.json.items() if k != "dry_run"}
    assert row_counts(app)["Service"] == 2 and audited_imports(app) == 1
    refused = supervisor_api.post(f"{IMPORT}?dry_run=true", json=[{**doc[1], "url": "example"}])
    assert refused.status_code == 422 and list(refused.json["errors"]) == ["[0].url"]


# --- the official examples --------------------------------------------------------------------------------------------

# example -> (organizations created, services created, warnings)
OFFICIAL = {"organization_full": (1, 1, 0), "organization_list": (1, 0, 0), "service_full": (1, 1, 0),
            "service_list": (1, 1, 0)}
NOT_IMPORTED = ("base", "location", "tabular", "taxonomy", "taxonomy_list", "taxonomy_term", "taxonomy_term_list")


def test_the_official_examples_round_trip(app, login, factory):
    for name, (orgs, services, warnings) in OFFICIAL.items():
        api = login(factory.user("supervisor", factory.program(f"Programme {name}")))
        response = api.post(IMPORT, json=example(name))
        assert response.status_code == 200, (name, response.json)
        assert (response.json["organizations"]["created"], response.json["services"]["created"],
                response.json["warning_count"]) == (orgs, services, warnings), name
        doc = exported(api)
        again = api.post(IMPORT, json=doc).json
        assert again == summary(counts(unchanged=orgs), counts(unchanged=services)), name
        assert exported(api) == doc, name
    with app.app_context():  # each programme got its own rows for the examples' shared ids
        assert db.session.get(Organization, EXAMPLE_ORG).name == example("organization_full")["name"]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Service)) == 3
    api = login(factory.user("supervisor", factory.program("Programme of the rest")))
    for name in NOT_IMPORTED:
        response = api.post(IMPORT, json=example(name))
        assert response.status_code == 422 and response.json["error"] == "not_hsds", name
