"""The patients API as the coach's app uses it."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.patients.models import Patient

NEW_PATIENT = {"first_name": "Rosa", "last_name": "Delgado", "phone": "(312) 555-0142", "source": "ed"}


def count_patients(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Patient))


def test_coach_creates_patient_and_becomes_its_coach(coach_api, coach):
    response = coach_api.post("/api/v1/patients", json={**NEW_PATIENT, "language": "es"})
    assert response.status_code == 201
    body = response.json
    assert body["coach_id"] == coach.id
    assert body["phone"] == "+13125550142"
    assert body["status"] == "referred"
    assert body["timezone"] == "America/Chicago"  # the programme's zone by default
    assert body["sms_opted_out"] is False
    assert response.headers["ETag"] == f'"p{body["id"]}-v1"'
    assert response.headers["Location"] == f"/api/v1/patients/{body['id']}"


def test_coach_cannot_create_patient_for_another_coach(coach_api, other_coach, app):
    response = coach_api.post("/api/v1/patients", json={**NEW_PATIENT, "coach_id": other_coach.id})
    assert response.status_code == 403
    assert response.json["error"] == "forbidden"
    assert count_patients(app) == 0


def test_supervisor_may_name_a_coach_or_leave_unassigned(supervisor_api, coach):
    named = supervisor_api.post("/api/v1/patients", json={**NEW_PATIENT, "coach_id": coach.id})
    assert named.status_code == 201 and named.json["coach_id"] == coach.id
    unassigned = supervisor_api.post("/api/v1/patients", json={**NEW_PATIENT, "phone": "+17735550101"})
    assert unassigned.status_code == 201 and unassigned.json["coach_id"] is None


def test_supervisor_cannot_assign_a_coach_of_another_programme(supervisor_api, factory, app):
    stranger = factory.user("coach", factory.program("Elsewhere"))
    response = supervisor_api.post("/api/v1/patients", json={**NEW_PATIENT, "coach_id": stranger.id})
    assert response.status_code == 422
    assert "coach_id" in response.json["errors"]
    assert count_patients(app) == 0


def test_unknown_field_and_bad_phone_are_named(coach_api, app):
    response = coach_api.post("/api/v1/patients", json={**NEW_PATIENT, "phone": "12", "favourite_colour": "red"})
    assert response.status_code == 422
    assert response.json["error"] == "validation_error"
    assert set(response.json["errors"]) == {"phone", "favourite_colour"}
    assert count_patients(app) == 0


def test_missing_required_fields_and_bad_enums(coach_api):
    response = coach_api.post("/api/v1/patients", json={"first_name": "", "source": "hospital",
                                                          "timezone": "Mars/Olympus", "language": "english"})
    assert response.status_code == 422
    assert {"first_name", "last_name", "source", "timezone", "language"} <= set(response.json["errors"])


def test_phone_accepts_common_formats(coach_api):
    for raw in ["312-555-0143", "+1 (312) 555 0144", "3125550145"]:
        response = coach_api.post("/api/v1/patients", json={**NEW_PATIENT, "phone": raw})
        assert response.status_code == 201
        assert response.json["phone"].startswith("+1312555014")


def test_idempotent_retry_creates_one_patient(coach_api, app):
    headers = {"Idempotency-Key": "create-rosa-1"}
    first = coach_api.post("/api/v1/patients", json=NEW_PATIENT, headers=headers)
    retry = coach_api.post("/api/v1/patients", json=NEW_PATIENT, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json == first.json
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert count_patients(app) == 1


def test_idempotency_key_reused_with_other_body_is_refused(coach_api, app):
    headers = {"Idempotency-Key": "create-rosa-2"}
    assert coach_api.post("/api/v1/patients", json=NEW_PATIENT, headers=headers).status_code == 201
    other = coach_api.post("/api/v1/patients", json={**NEW_PATIENT, "first_name": "Rita"}, headers=headers)
    assert other.status_code == 422
    assert other.json["error"] == "idempotency_key_reused"
    assert "Idempotency-Key" in other.json["errors"]
    assert count_patients(app) == 1


def test_idempotency_keys_belong_to_one_user(coach_api, login, other_coach, app):
    headers = {"Idempotency-Key": "same-key"}
    assert coach_api.post("/api/v1/patients", json=NEW_PATIENT, headers=headers).status_code == 201
    theirs = login(other_coach).post("/api/v1/patients", json=NEW_PATIENT, headers=headers)
    assert theirs.status_code == 201
    assert theirs.json["coach_id"] == other_coach.id
    assert count_patients(app) == 2


def test_get_patient_returns_etag_and_patch_with_current_etag(coach_api):
    created = coach_api.post("/api/v1/patients", json=NEW_PATIENT).json
    read = coach_api.get(f"/api/v1/patients/{created['id']}")
    assert read.status_code == 200
    etag = read.headers["ETag"]
    updated = coach_api.patch(f"/api/v1/patients/{created['id']}", json={"preferred_name": "Ro"},
                              headers={"If-Match": etag})
    assert updated.status_code == 200
    assert updated.json["preferred_name"] == "Ro"
    assert updated.headers["ETag"] != etag


def test_stale_if_match_gets_412_and_changes_nothing(coach_api):
    created = coach_api.post("/api/v1/patients", json=NEW_PATIENT)
    stale = created.headers["ETag"]
    pid = created.json["id"]
    assert coach_api.patch(f"/api/v1/patients/{pid}", json={"acuity": "high"},
                           headers={"If-Match": stale}).status_code == 200
    refused = coach_api.patch(f"/api/v1/patients/{pid}", json={"acuity": "low", "preferred_name": "X"},
                              headers={"If-Match": stale})
    assert refused.status_code == 412
    assert refused.json["error"] == "precondition_failed"
    current = coach_api.get(f"/api/v1/patients/{pid}").json
    assert current["acuity"] == "high" and current["preferred_name"] is None


def test_patch_cannot_change_coach_or_opt_out_state(coach_api, other_coach):
    pid = coach_api.post("/api/v1/patients", json=NEW_PATIENT).json["id"]
    response = coach_api.patch(f"/api/v1/patients/{pid}", json={"coach_id": other_coach.id, "sms_opted_out": True})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"coach_id", "sms_opted_out"}


def test_closing_sets_closed_at_and_reopening_clears_it(coach_api):
    pid = coach_api.post("/api/v1/patients", json=NEW_PATIENT).json["id"]
    closed = coach_api.patch(f"/api/v1/patients/{pid}", json={"status": "closed"}).json
    assert closed["closed_at"] is not None
    reopened = coach_api.patch(f"/api/v1/patients/{pid}", json={"status": "engaged"}).json
    assert reopened["closed_at"] is None


def test_list_filters_by_status_and_search(coach_api, factory, coach):
    factory.patient(coach, first_name="Marisol", last_name="Quintero", phone="+13125550150", status="active")
    factory.patient(coach, first_name="Dev", last_name="Okafor", phone="+17735550151", status="referred")
    assert [p["first_name"] for p in coach_api.get("/api/v1/patients?status=active").json] == ["Marisol"]
    assert len(coach_api.get("/api/v1/patients?status=active&status=referred").json) == 2
    assert [p["first_name"] for p in coach_api.get("/api/v1/patients?q=quint").json] == ["Marisol"]
    assert [p["first_name"] for p in coach_api.get("/api/v1/patients?q=Dev Oka").json] == ["Dev"]
    assert [p["first_name"] for p in coach_api.get("/api/v1/patients?q=555-0151").json] == ["Dev"]
    assert coach_api.get("/api/v1/patients?q=%25").json == []  # LIKE wildcards are literal


def test_updated_since_returns_only_changes_in_update_order(coach_api, factory, coach, app):
    old, recent = factory.patient(coach), factory.patient(coach)
    with app.app_context():
        db.session.execute(sa.update(Patient).where(Patient.id == old.id)
                           .values(updated_at=utcnow() - timedelta(days=3)))
        db.session.commit()
    since = (utcnow() - timedelta(days=1)).isoformat()
    response = coach_api.get("/api/v1/patients", query_string={"updated_since": since})
    assert [p["id"] for p in response.json] == [recent.id]
    coach_api.patch(f"/api/v1/patients/{old.id}", json={"acuity": "high"})
    response = coach_api.get("/api/v1/patients", query_string={"updated_since": since})
    assert [p["id"] for p in response.json] == [recent.id, old.id]


def test_pagination_defaults_and_limits(coach_api, factory, coach):
    factory.patients(coach, 30)
    first = coach_api.get("/api/v1/patients")
    assert len(first.json) == 25
    meta = json.loads(first.headers["X-Pagination"])
    assert meta["total"] == 30 and meta["total_pages"] == 2 and meta["next_page"] == 2
    assert len(coach_api.get("/api/v1/patients?page=2").json) == 5
    past_the_end = coach_api.get("/api/v1/patients?page=3")
    assert past_the_end.json == [] and json.loads(past_the_end.headers["X-Pagination"])["total"] == 30
    assert len(coach_api.get("/api/v1/patients?page_size=100").json) == 30
    too_big = coach_api.get("/api/v1/patients?page_size=101")
    assert too_big.status_code == 422 and "page_size" in too_big.json["errors"]
    assert coach_api.get("/api/v1/patients?page=0").status_code == 422
    unknown = coach_api.get("/api/v1/patients?sort=name")
    assert unknown.status_code == 422 and "sort" in unknown.json["errors"]


def test_list_statement_count_does_not_grow_with_page_size(coach_api, factory, coach, count_statements):
    factory.patients(coach, 40)
    with count_statements() as small:
        assert len(coach_api.get("/api/v1/patients?page_size=5").json) == 5
    with count_statements() as large:
        assert len(coach_api.get("/api/v1/patients?page_size=40").json) == 40
    assert len(small) == len(large)
    assert len(large) <= 6  # user, session check, count, page, audit insert (+ SAVEPOINT-free commit)


def test_concurrent_retries_with_one_key_create_one_patient(app, coach_api):
    """A phone on a flaky network fires the same request several times at once."""
    from concurrent.futures import ThreadPoolExecutor

    headers = {**coach_api.headers, "Idempotency-Key": "burst-1"}

    def send(_):
        return app.test_client().post("/api/v1/patients", json=NEW_PATIENT, headers=headers)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(send, range(6)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json["id"] for r in responses}) == 1
    assert count_patients(app) == 1
