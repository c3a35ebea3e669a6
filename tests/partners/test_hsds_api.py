"""The read-only HSDS API takes the specification's query parameters on /services and serves /organizations."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from backend.database import utcnow
from backend.partners import hsds
from tests.partners.test_catalogue import DETOX, HOUSING, partner
from tests.partners.test_hsds import EXAMPLE_ORG, EXAMPLE_SERVICE, assert_valid, example

PAGE_FIELDS = {"total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty", "contents"}
# The official example's attribute: a term (and taxonomy) of someone else's taxonomy.
EXAMPLE_TERM, EXAMPLE_TAXONOMY = "3f7b145d-84af-42d7-8fae-eaca714b02b2", "5c4d79d7-cc55-470e-9f1f-8cad074e4892"


def names(page: dict) -> list[str]:
    return [item["name"] for item in page["contents"]]


@pytest.fixture
def listed(supervisor_api) -> dict:
    """Two partners built through the API and the official example organization imported."""
    org = partner(supervisor_api)
    detox = supervisor_api.post(f"/api/v1/partners/{org}/services", json=DETOX).json["id"]
    housing = supervisor_api.post(f"/api/v1/partners/{org}/services", json={
        **HOUSING, "same_day_intake": True}).json["id"]
    other = partner(supervisor_api, "Harbor Recovery")
    supervisor_api.post(f"/api/v1/partners/{other}/services", json={
        "name": "Harbor Outpatient", "service_types": ["outpatient_moud"], "moud": ["methadone"]})
    assert supervisor_api.post("/api/v1/hsds/import", json=example("organization_full")).status_code == 200
    return {"org": org, "other": other, "detox": detox, "housing": housing}


def test_every_parameter_of_the_specification_is_accepted(coach_api, listed):
    """Each /services query parameter of the specification's openapi.json answered 422 before."""
    for parameter in ("search=detox", f"taxonomy_term_id={hsds.term_id('bridgeline-service-type', 'detox')}",
                      f"taxonomy_id={hsds.taxonomy_id('bridgeline-payer')}", f"organization_id={listed['org']}",
                      "modified_after=2000-01-01T00:00:00Z", "minimal=true", "full=true", "format=json", "page=1",
                      "per_page=10"):
        response = coach_api.get(f"/hsds/services?{parameter}")
        assert response.status_code == 200, (parameter, response.json)
        assert set(response.json) == PAGE_FIELDS, parameter
    streamed = coach_api.get("/hsds/services?format=ndjson")
    assert streamed.status_code == 200 and streamed.mimetype == "application/x-ndjson"


def test_services_filter_by_search_organization_and_modification(coach_api, listed):
    assert names(coach_api.get("/hsds/services?search=withdrawal").json) == ["Northside Withdrawal Management"]
    assert names(coach_api.get("/hsds/services?search=harbor methadone").json) == ["Harbor Outpatient"]
    assert names(coach_api.get("/hsds/services?search=counselling").json) == ["Community Counselling"]
    assert names(coach_api.get(f"/hsds/services?organization_id={listed['org'].upper()}").json) == [
        "Bridge House", "Northside Withdrawal Management"]
    assert coach_api.get("/hsds/services?organization_id=not-an-id").json["empty"] is True
    later = (utcnow() + timedelta(minutes=5)).isoformat()
    assert coach_api.get("/hsds/services", query_string={"modified_after": later}).json["empty"] is True
    earlier = (utcnow() - timedelta(minutes=5)).isoformat()
    assert coach_api.get("/hsds/services", query_string={"modified_after": earlier}).json["total_items"] == 4
    assert coach_api.get("/hsds/services?modified_after=yesterday").status_code == 422


def test_taxonomy_ids_map_to_the_catalogues_codes(coach_api, listed):
    def found(**query) -> list[str]:
        return names(coach_api.get("/hsds/services", query_string=query).json)

    detox = hsds.term_id("bridgeline-service-type", "detox")
    assert found(taxonomy_term_id=detox) == ["Northside Withdrawal Management"]
    assert found(taxonomy_term_id=detox.upper()) == ["Northside Withdrawal Management"]
    assert found(taxonomy_term_id=hsds.term_id("bridgeline-access", "same_day_intake")) == ["Bridge House"]
    assert found(taxonomy_id=hsds.taxonomy_id("bridgeline-moud")) == ["Harbor Outpatient",
                                                                      "Northside Withdrawal Management"]
    assert found(taxonomy_id=hsds.taxonomy_id("bridgeline-access")) == ["Bridge House",
                                                                        "Northside Withdrawal Management"]
    assert found(taxonomy_id=hsds.taxonomy_id("bridgeline-contact")) == []
    # Terms of other taxonomies: the attributes the import brought.
    assert found(taxonomy_term_id=EXAMPLE_TERM) == ["Community Counselling"]
    assert found(taxonomy_id=EXAMPLE_TAXONOMY) == ["Community Counselling"]
    assert found(taxonomy_term_id=EXAMPLE_ORG) == []  # mentioned by the service, but no term of it
    assert found(taxonomy_term_id=str(uuid.uuid4()), search="detox") == []
    # An exported term of ours comes back in a filter, and the pages are consistent with the full records.
    full = coach_api.get(f"/hsds/services/{listed['detox']}").json
    payer = next(a for a in full["attributes"] if a["taxonomy_term"]["code"] == "medicaid")
    assert found(taxonomy_term_id=payer["taxonomy_term_id"]) == ["Northside Withdrawal Management"]


def test_minimal_full_and_ndjson_shapes(coach_api, listed):
    minimal = coach_api.get("/hsds/services?minimal=true").json
    assert minimal["size"] == 4 and all(set(item) == {"id", "modified_date"} for item in minimal["contents"])
    assert coach_api.get("/hsds/services?minimal=true&per_page=1000").status_code == 200
    assert coach_api.get("/hsds/services?per_page=1000").status_code == 422
    assert coach_api.get("/hsds/services?minimal=true&full=true").status_code == 422
    full = coach_api.get("/hsds/services?full=true&per_page=2").json
    assert full["total_pages"] == 2 and full["contents"][0]["name"] == "Bridge House"
    for item in full["contents"]:
        assert_valid("service", item)
        assert item == coach_api.get(f"/hsds/services/{item['id']}").json
    lines = coach_api.get("/hsds/services?format=ndjson&search=detox").get_data(as_text=True).splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["Northside Withdrawal Management"]
    every = coach_api.get("/hsds/services?format=ndjson&full=true").get_data(as_text=True).splitlines()
    assert len(every) == 4 and all(assert_valid("service", json.loads(line)) is None for line in every)


def test_organizations_page_in_the_specifications_shapes(coach_api, listed, login, factory):
    page = coach_api.get("/hsds/organizations?per_page=2").json
    assert set(page) == PAGE_FIELDS and page["total_items"] == 3 and page["total_pages"] == 2
    assert names(page) == [example("organization_full")["name"], "Harbor Recovery"]
    for item in page["contents"]:
        assert_valid("organization_list", item)
        assert not any(isinstance(value, list) for value in item.values())
    assert names(coach_api.get("/hsds/organizations?search=example").json) == [example("organization_full")["name"]]
    detox = hsds.term_id("bridgeline-service-type", "detox")
    assert names(coach_api.get(f"/hsds/organizations?taxonomy_term_id={detox}").json) == ["Northside Health"]
    assert coach_api.get(f"/hsds/organizations?taxonomy_id={EXAMPLE_TAXONOMY}").json["contents"][0]["id"] == \
        EXAMPLE_ORG
    full = coach_api.get("/hsds/organizations?full=true").json["contents"]
    for item in full:
        assert_valid("organization", item)
    northside = next(item for item in full if item["id"] == listed["org"])
    assert [s["name"] for s in northside["services"]] == ["Bridge House", "Northside Withdrawal Management"]
    assert not any(isinstance(v, list) for s in northside["services"] for v in s.values())  # one-to-one fields
    nested = coach_api.get("/hsds/organizations?full_service=true&search=northside").json["contents"][0]
    assert not any(isinstance(v, list) for k, v in nested.items() if k != "services")  # organization_list fields
    assert {s["id"] for s in nested["services"]} == {listed["detox"], listed["housing"]}
    detox = next(s for s in nested["services"] if s["id"] == listed["detox"])
    assert detox["languages"] and detox["attributes"] and "organization" not in detox
    lines = coach_api.get("/hsds/organizations?format=ndjson").get_data(as_text=True).splitlines()
    assert [json.loads(line)["name"] for line in lines] == [example("organization_full")["name"],
                                                            "Harbor Recovery", "Northside Health"]
    outsider = login(factory.user("coach", factory.program("Elsewhere")))
    assert outsider.get("/hsds/organizations").json["empty"] is True


def test_one_organization_fully_nested(coach_api, listed, login, factory):
    org = coach_api.get(f"/hsds/organizations/{EXAMPLE_ORG}").json
    assert_valid("organization", org)
    assert org["services"][0]["id"] == EXAMPLE_SERVICE and "attributes" not in org["services"][0]
    assert org["contacts"][0]["name"] == example("organization_full")["contacts"][0]["name"]
    full = coach_api.get(f"/hsds/organizations/{EXAMPLE_ORG}?full_service=true").json
    assert_valid("organization", full)
    assert full["services"][0]["attributes"] == example("organization_full")["services"][0]["attributes"]
    missing = coach_api.get(f"/hsds/organizations/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json["error"] == "not_found"
    outsider = login(factory.user("coach", factory.program("Elsewhere")))
    assert outsider.get(f"/hsds/organizations/{listed['org']}").status_code == 404
