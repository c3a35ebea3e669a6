"""The partner catalogue: who to call, what they accept, whether they have a bed tonight."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.partners.models import CapacityReport, Service

DETOX = {"name": "Northside Withdrawal Management", "service_types": ["detox"], "payers": ["medicaid", "uninsured"],
         "moud": ["buprenorphine"], "languages": ["en", "es"], "minimum_age": 18, "walk_in": True,
         "hours": "24/7", "phone": "312-555-0120", "location": {"address_1": "1 Lake St", "city": "Chicago",
                                                                 "state_province": "IL", "postal_code": "60601"}}
HOUSING = {"name": "Bridge House", "service_types": ["recovery_housing"], "payers": ["private"], "languages": ["en"],
           "minimum_age": 21, "maximum_age": 64}


def partner(api, name="Northside Health") -> str:
    response = api.post("/api/v1/partners", json={"name": name, "description": "Community partner",
                                                   "phone": "(312) 555-0130"})
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_supervisor_builds_a_partner_with_a_point_person(supervisor_api):
    org = partner(supervisor_api)
    service = supervisor_api.post(f"/api/v1/partners/{org}/services", json=DETOX)
    assert service.status_code == 201
    body = service.json
    assert body["service_types"] == ["detox"] and body["payers"] == ["medicaid", "uninsured"]
    assert body["phone"] == "+13125550120" and body["capacity"] is None and body["verification_overdue"] is False
    contact = supervisor_api.post(f"/api/v1/partners/{org}/contacts", json={
        "name": "Dana Intake", "title": "Intake coordinator", "phone": "312 555 0131", "best_hours": "8-11am",
        "service_id": body["id"]})
    assert contact.status_code == 201
    shown = supervisor_api.get(f"/api/v1/partners/{org}").json
    assert shown["contacts"][0]["name"] == "Dana Intake" and shown["service_ids"] == [body["id"]]
    assert len(org) == 36  # UUIDs, as HSDS requires


def test_coaches_read_and_report_capacity_but_do_not_edit(supervisor_api, coach_api):
    org = partner(supervisor_api)
    service_id = supervisor_api.post(f"/api/v1/partners/{org}/services", json=DETOX).json["id"]
    assert coach_api.post("/api/v1/partners", json={"name": "X"}).status_code == 403
    assert coach_api.patch(f"/api/v1/services/{service_id}", json={"walk_in": False}).status_code == 403
    report = coach_api.post(f"/api/v1/services/{service_id}/capacity", json={"available": 2, "maximum": 12,
                                                                             "note": "Two beds tonight"})
    assert report.status_code == 201
    assert report.json["capacity"]["available"] == 2 and report.json["capacity"]["stale"] is False


def test_bad_capacity_reports_change_nothing(app, supervisor_api, coach_api):
    service_id = supervisor_api.post(f"/api/v1/partners/{partner(supervisor_api)}/services", json=DETOX).json["id"]
    for body, field in (({"available": -1}, "available"), ({"available": 5, "maximum": 3}, "available"),
                        ({"available": 1, "unit": "sofa"}, "unit")):
        response = coach_api.post(f"/api/v1/services/{service_id}/capacity", json=body)
        assert response.status_code == 422 and field in response.json["errors"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CapacityReport)) == 0


def test_filters_are_cumulative_and_fresh_capacity_comes_first(app, supervisor_api, coach_api):
    org = partner(supervisor_api)
    detox = supervisor_api.post(f"/api/v1/partners/{org}/services", json=DETOX).json["id"]
    other_detox = supervisor_api.post(f"/api/v1/partners/{org}/services",
                                      json={**DETOX, "name": "Another Detox", "walk_in": False}).json["id"]
    housing = supervisor_api.post(f"/api/v1/partners/{org}/services", json=HOUSING).json["id"]
    coach_api.post(f"/api/v1/services/{other_detox}/capacity", json={"available": 3})

    def names(query):
        return [s["id"] for s in coach_api.get(f"/api/v1/services?{query}").json]

    assert names("service_type=detox") == [other_detox, detox]  # the one with a bed first
    assert names("service_type=detox&walk_in=true") == [detox]
    assert names("service_type=detox&payer=medicaid&moud=buprenorphine&language=es&age=30") == [other_detox, detox]
    assert names("age=17") == []
    assert names("age=70") == [other_detox, detox]
    assert names("has_capacity=true") == [other_detox]
    assert names("payer=private") == [housing]
    assert names("q=bridge") == [housing]
    assert coach_api.get("/api/v1/services?service_type=spa").status_code == 422


def test_capacity_goes_stale_after_a_day_and_unverified_services_are_flagged(app, supervisor_api, coach_api):
    service_id = supervisor_api.post(f"/api/v1/partners/{partner(supervisor_api)}/services", json=DETOX).json["id"]
    coach_api.post(f"/api/v1/services/{service_id}/capacity", json={"available": 1})
    with app.app_context():
        db.session.execute(sa.update(CapacityReport).values(reported_at=utcnow() - timedelta(hours=25)))
        db.session.execute(sa.update(Service).values(last_verified_at=utcnow() - timedelta(days=91)))
        db.session.commit()
    shown = coach_api.get(f"/api/v1/services/{service_id}").json
    assert shown["capacity"]["stale"] is True and shown["verification_overdue"] is True
    assert coach_api.get("/api/v1/services?has_capacity=true").json == []


def test_other_programmes_partners_are_invisible(supervisor_api, login, factory):
    service_id = supervisor_api.post(f"/api/v1/partners/{partner(supervisor_api)}/services", json=DETOX).json["id"]
    outsider = login(factory.user("coach", factory.program("Elsewhere")))
    assert outsider.get(f"/api/v1/services/{service_id}").status_code == 404
    assert outsider.get("/api/v1/services").json == []


def test_bad_service_input(supervisor_api):
    org = partner(supervisor_api)
    response = supervisor_api.post(f"/api/v1/partners/{org}/services", json={
        "name": "X", "service_types": ["spa"], "minimum_age": 30, "maximum_age": 20})
    assert response.status_code == 422 and "service_types" in response.json["errors"]
    response = supervisor_api.post(f"/api/v1/partners/{org}/services", json={"name": "X", "minimum_age": 30,
                                                                             "maximum_age": 20})
    assert response.status_code == 422 and "maximum_age" in response.json["errors"]


def test_partner_list_takes_the_service_filters(supervisor_api, coach_api):
    detox_org = partner(supervisor_api, "Detox Partner")
    housing_org = partner(supervisor_api, "Housing Partner")
    service_id = supervisor_api.post(f"/api/v1/partners/{detox_org}/services", json=DETOX).json["id"]
    supervisor_api.post(f"/api/v1/partners/{housing_org}/services", json=HOUSING)
    assert [p["id"] for p in coach_api.get("/api/v1/partners?service_type=detox&payer=medicaid").json] == [detox_org]
    assert coach_api.get("/api/v1/partners?service_type=detox&payer=private").json == []
    housing_service = coach_api.get("/api/v1/services?service_type=recovery_housing").json[0]["id"]
    assert [p["id"] for p in coach_api.get("/api/v1/partners").json] == [detox_org, housing_org]  # by name
    coach_api.post(f"/api/v1/services/{housing_service}/capacity", json={"available": 1})
    assert [p["id"] for p in coach_api.get("/api/v1/partners").json] == [housing_org, detox_org]  # a bed first
    assert [p["id"] for p in coach_api.get("/api/v1/partners?has_capacity=true").json] == [housing_org]
    coach_api.post(f"/api/v1/services/{service_id}/capacity", json={"available": 1})
    assert [p["id"] for p in coach_api.get("/api/v1/partners").json] == [detox_org, housing_org]


def test_a_bed_puts_a_service_first_and_a_full_report_takes_it_out(coach_api, supervisor_api):
    org = partner(supervisor_api)
    alpha = supervisor_api.post(f"/api/v1/partners/{org}/services", json={**DETOX, "name": "Alpha Detox"}).json["id"]
    zulu = supervisor_api.post(f"/api/v1/partners/{org}/services", json={**DETOX, "name": "Zulu Detox"}).json["id"]

    def ids(query):
        return [s["id"] for s in coach_api.get(f"/api/v1/services?{query}").json]

    assert ids("service_type=detox") == [alpha, zulu]  # by name
    coach_api.post(f"/api/v1/services/{zulu}/capacity", json={"available": 3})
    assert ids("service_type=detox") == [zulu, alpha] and ids("has_capacity=true") == [zulu]
    coach_api.post(f"/api/v1/services/{alpha}/capacity", json={"available": 0})  # fresh, but no room
    assert ids("has_capacity=true") == [zulu]
    coach_api.post(f"/api/v1/services/{zulu}/capacity", json={"available": 0})  # the newest report counts
    assert ids("has_capacity=true") == [] and ids("service_type=detox") == [alpha, zulu]


def test_detox_bed_finds_the_detox_with_a_free_bed_and_its_card_has_what_a_call_needs(supervisor_api, coach_api):
    org = partner(supervisor_api)
    detox = supervisor_api.post(f"/api/v1/partners/{org}/services", json=DETOX).json["id"]
    full = supervisor_api.post(f"/api/v1/partners/{org}/services", json={**DETOX, "name": "Southside detox"}).json
    supervisor_api.post(f"/api/v1/partners/{org}/services", json=HOUSING)
    supervisor_api.post(f"/api/v1/partners/{org}/contacts", json={"name": "Dana Intake", "phone": "312 555 0131",
                                                                   "title": "Intake", "service_id": detox})
    supervisor_api.post(f"/api/v1/partners/{org}/contacts", json={"name": "Front Desk", "phone": "312 555 0132"})
    coach_api.post(f"/api/v1/services/{detox}/capacity", json={"available": 2, "unit": "bed"})
    coach_api.post(f"/api/v1/services/{full['id']}/capacity", json={"available": 0, "unit": "bed"})

    found = coach_api.get("/api/v1/services?q=detox bed").json
    assert [card["id"] for card in found] == [detox]
    card = found[0]
    assert card["address"] == "1 Lake St, Chicago, IL 60601" and card["hours"] == "24/7"
    assert card["point_person"] == {"name": "Dana Intake", "title": "Intake", "phone": "+13125550131",
                                    "best_hours": None}
    other = [c for c in coach_api.get("/api/v1/services?q=detox").json if c["id"] == full["id"]][0]
    assert other["point_person"]["name"] == "Front Desk"  # the partner's own contact when the service has none
    assert [c["name"] for c in coach_api.get("/api/v1/services?q=recovery housing").json] == ["Bridge House"]
    # The partner search looks into its services too.
    assert [p["id"] for p in coach_api.get("/api/v1/partners?q=detox").json] == [org]
