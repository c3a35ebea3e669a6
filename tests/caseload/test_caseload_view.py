"""What a coach and a supervisor see of a caseload."""

from __future__ import annotations

from datetime import timedelta

from backend.database import utcnow


def test_my_caseload_weighs_active_patients_by_acuity(coach_api, factory, coach):
    factory.patient(coach, acuity="low", status="engaged")
    factory.patient(coach, acuity="standard", status="active")
    factory.patient(coach, acuity="high", status="referred")
    factory.patient(coach, acuity="high", status="closed")
    factory.patient(coach, acuity="high", status="declined")
    body = coach_api.get("/api/v1/me/caseload").json
    assert body["cap"] == 25 and body["load"] == 3.0 and body["utilisation"] == 0.12
    assert body["active_patients"] == 3
    assert body["counts_by_status"] == {"referred": 1, "engaged": 1, "active": 1, "linked": 0,
                                        "closed": 1, "declined": 1}
    assert sorted(p["weight"] for p in body["patients"]) == [0.5, 1.0, 1.5]


def test_caseload_shows_days_since_contact_and_overdue_tasks(coach_api, factory, coach):
    quiet = factory.patient(coach, last_name="Quiet")
    busy = factory.patient(coach, last_name="Busy")
    factory.contact(busy, coach, occurred_at=utcnow() - timedelta(days=4, hours=1))
    factory.task(coach, busy, due_at=utcnow() - timedelta(hours=3))
    factory.task(coach, busy, due_at=utcnow() + timedelta(hours=3))
    rows = {p["id"]: p for p in coach_api.get("/api/v1/me/caseload").json["patients"]}
    assert rows[busy.id]["days_since_last_contact"] == 4 and rows[busy.id]["overdue_tasks"] == 1
    assert rows[quiet.id]["days_since_last_contact"] is None and rows[quiet.id]["overdue_tasks"] == 0


def test_supervisor_reads_a_coachs_caseload_and_coach_cannot(supervisor_api, coach_api, coach, other_coach, factory):
    factory.patient(other_coach)
    assert supervisor_api.get(f"/api/v1/coaches/{other_coach.id}/caseload").json["active_patients"] == 1
    assert coach_api.get(f"/api/v1/coaches/{other_coach.id}/caseload").status_code == 403
    stranger = factory.user("coach", factory.program("Elsewhere"))
    assert supervisor_api.get(f"/api/v1/coaches/{stranger.id}/caseload").status_code == 404


def test_caseload_read_is_audited_with_the_patients_shown(app, coach_api, factory, coach):
    from tests.audit.test_audit import events

    shown = factory.patient(coach)
    coach_api.get("/api/v1/me/caseload")
    (event,) = events(app, resource="caseload")
    assert event.details["patient_ids"] == [shown.id]


def test_supervisor_sets_a_coachs_cap_within_sane_bounds(supervisor_api, coach):
    for bad in (0, 201, -3, "ten"):
        response = supervisor_api.patch(f"/api/v1/coaches/{coach.id}/caseload", json={"cap": bad})
        assert response.status_code == 422 and "cap" in response.json["errors"]
    assert supervisor_api.patch(f"/api/v1/coaches/{coach.id}/caseload", json={"cap": 12}).json["cap"] == 12
    assert supervisor_api.patch(f"/api/v1/coaches/{coach.id}/caseload", json={"cap": None}).json["cap"] == 25


def test_admin_tunes_the_programme_policy(admin_api, supervisor_api, coach_api):
    assert supervisor_api.get("/api/v1/program/caseload-policy").json["weight_high"] == 1.5
    changed = admin_api.patch("/api/v1/program/caseload-policy", json={"default_cap": 18, "weight_high": 2})
    assert changed.status_code == 200 and changed.json["default_cap"] == 18 and changed.json["weight_high"] == 2.0
    assert coach_api.get("/api/v1/me/caseload").json["cap"] == 18
    bad = admin_api.patch("/api/v1/program/caseload-policy", json={"default_cap": 0, "weight_low": -1})
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"default_cap", "weight_low"}
    assert supervisor_api.patch("/api/v1/program/caseload-policy", json={"default_cap": 30}).status_code == 403
    assert admin_api.get("/api/v1/program/caseload-policy").json["default_cap"] == 18


def test_caseload_rows_say_what_the_one_tap_actions_can_do(coach_api, factory, coach):
    from datetime import UTC, datetime

    factory.patient(coach, first_name="Text", phone="+17735550161", sms_consent=True)
    factory.patient(coach, first_name="Stopped", phone="+17735550162", sms_consent=True, sms_opted_out=True)
    factory.patient(coach, first_name="Flagged", phone="+17735550163",
                    phone_flagged_at=datetime(2026, 1, 1, tzinfo=UTC))
    factory.patient(coach, first_name="Nophone", phone=None)
    rows = {p["first_name"]: p for p in coach_api.get("/api/v1/me/caseload").json["patients"]}
    assert (rows["Text"]["can_text"], rows["Text"]["can_call"], rows["Text"]["phone_last4"]) == (True, True, "0161")
    assert (rows["Stopped"]["can_text"], rows["Stopped"]["can_call"]) == (False, True)
    assert (rows["Flagged"]["can_text"], rows["Flagged"]["can_call"]) == (False, False)
    assert (rows["Nophone"]["can_call"], rows["Nophone"]["phone_last4"]) == (False, None)
