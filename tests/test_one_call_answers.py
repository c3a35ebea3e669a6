"""The answers the app uses in one call cost the same number of statements for 3 rows as for 30."""

from __future__ import annotations

from datetime import timedelta

from backend.database import utcnow


def statements_for(count_statements, api, url) -> int:
    with count_statements() as seen:
        assert api.get(url).status_code == 200
    return len(seen)


def test_my_tasks_with_patient_names(coach_api, factory, coach, count_statements):
    def add(n):
        for patient in factory.patients(coach, n):
            factory.task(coach, patient, due_at=utcnow() + timedelta(hours=1))

    add(3)
    small = statements_for(count_statements, coach_api, "/api/v1/me/tasks?due=today&page_size=100")
    add(27)
    large = statements_for(count_statements, coach_api, "/api/v1/me/tasks?due=today&page_size=100")
    assert large == small


def test_my_caseload_with_one_tap_fields(coach_api, factory, coach, count_statements):
    factory.patients(coach, 3)
    small = statements_for(count_statements, coach_api, "/api/v1/me/caseload")
    factory.patients(coach, 27)
    large = statements_for(count_statements, coach_api, "/api/v1/me/caseload")
    assert large == small


def test_service_cards_with_address_and_point_person(supervisor_api, coach_api, count_statements, app):
    from tests.partners.test_catalogue import DETOX, partner

    def add(n):
        for i in range(n):
            org = partner(supervisor_api, name=f"Partner {i} {utcnow().timestamp()}")
            service = supervisor_api.post(f"/api/v1/partners/{org}/services", json={**DETOX, "name": f"Detox {i}"})
            supervisor_api.post(f"/api/v1/partners/{org}/contacts", json={
                "name": "Intake", "phone": "312 555 0131", "service_id": service.json["id"]})

    app.config["CATALOGUE_CACHE_SECONDS"] = 0
    add(2)
    small = statements_for(count_statements, coach_api, "/api/v1/services?q=detox&page_size=50")
    add(8)
    large = statements_for(count_statements, coach_api, "/api/v1/services?q=detox&page_size=50")
    assert large == small
