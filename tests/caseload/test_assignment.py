"""Manual and bulk assignment: caps hold unless a lead overrides with a written reason."""

from __future__ import annotations

from backend.database import db
from backend.users.models import User


def set_cap(app, user, cap):
    with app.app_context():
        db.session.get(User, user.id).caseload_cap = cap
        db.session.commit()


def test_assignment_within_cap(supervisor_api, factory, program, coach):
    patient = factory.patient(program_id=program.id)
    response = supervisor_api.post(f"/api/v1/patients/{patient.id}/assignment", json={"coach_id": coach.id})
    assert response.status_code == 200 and response.json["coach_id"] == coach.id


def test_full_caseload_answers_409_with_load_and_cap_and_changes_nothing(app, supervisor_api, factory, program, coach):
    set_cap(app, coach, 2)
    factory.patients(coach, 2)
    waiting = factory.patient(program_id=program.id)
    response = supervisor_api.post(f"/api/v1/patients/{waiting.id}/assignment", json={"coach_id": coach.id})
    assert response.status_code == 409
    assert response.json["error"] == "caseload_cap_reached"
    assert response.json["load"] == 2.0 and response.json["cap"] == 2 and response.json["coach_id"] == coach.id
    assert supervisor_api.get(f"/api/v1/patients/{waiting.id}").json["coach_id"] is None


def test_low_acuity_patient_still_fits_under_a_fractional_load(app, supervisor_api, factory, program, coach):
    set_cap(app, coach, 2)
    factory.patient(coach, acuity="high")
    low = factory.patient(program_id=program.id, acuity="low")
    high = factory.patient(program_id=program.id, acuity="high")
    assert supervisor_api.post(f"/api/v1/patients/{high.id}/assignment", json={"coach_id": coach.id}).status_code == 409
    assert supervisor_api.post(f"/api/v1/patients/{low.id}/assignment", json={"coach_id": coach.id}).status_code == 200


def test_supervisor_overrides_with_a_reason_and_it_shows(app, supervisor_api, factory, program, coach):
    from tests.audit.test_audit import events

    set_cap(app, coach, 1)
    factory.patient(coach)
    extra = factory.patient(program_id=program.id)
    short = supervisor_api.post(f"/api/v1/patients/{extra.id}/assignment",
                                json={"coach_id": coach.id, "override_reason": "busy"})
    assert short.status_code == 422 and "override_reason" in short.json["errors"]
    reason = "Patient already knows this coach from a previous visit"
    done = supervisor_api.post(f"/api/v1/patients/{extra.id}/assignment",
                               json={"coach_id": coach.id, "override_reason": reason})
    assert done.status_code == 200
    caseload = supervisor_api.get(f"/api/v1/coaches/{coach.id}/caseload").json
    assert caseload["utilisation"] == 2.0
    assert [o["override_reason"] for o in caseload["overrides"]] == [reason]
    (event,) = events(app, action="assign", patient_id=extra.id, outcome="success")
    assert event.details["override"] is True


def test_coach_never_overrides_and_only_assigns_to_themselves(app, coach_api, factory, coach, other_coach):
    mine = factory.patient(coach)
    response = coach_api.post(f"/api/v1/patients/{mine.id}/assignment",
                              json={"coach_id": coach.id, "override_reason": "I really want to keep them"})
    assert response.status_code == 403 and response.json["error"] == "override_not_allowed"
    response = coach_api.post(f"/api/v1/patients/{mine.id}/assignment", json={"coach_id": other_coach.id})
    assert response.status_code == 403
    assert coach_api.get(f"/api/v1/patients/{mine.id}").json["coach_id"] == coach.id


def test_bad_assignments(supervisor_api, factory, program, coach):
    closed = factory.patient(program_id=program.id, status="closed")
    response = supervisor_api.post(f"/api/v1/patients/{closed.id}/assignment", json={"coach_id": coach.id})
    assert response.status_code == 409 and response.json["error"] == "patient_closed"
    stranger = factory.user("coach", factory.program("Elsewhere"))
    open_patient = factory.patient(program_id=program.id)
    response = supervisor_api.post(f"/api/v1/patients/{open_patient.id}/assignment", json={"coach_id": stranger.id})
    assert response.status_code == 422 and "coach_id" in response.json["errors"]
    assert supervisor_api.get(f"/api/v1/patients/{open_patient.id}").json["coach_id"] is None


def test_closing_a_patient_frees_capacity_at_once(app, supervisor_api, factory, program, coach):
    set_cap(app, coach, 1)
    current = factory.patient(coach)
    waiting = factory.patient(program_id=program.id)
    url = f"/api/v1/patients/{waiting.id}/assignment"
    assert supervisor_api.post(url, json={"coach_id": coach.id}).status_code == 409
    supervisor_api.patch(f"/api/v1/patients/{current.id}", json={"status": "closed"})
    assert supervisor_api.post(url, json={"coach_id": coach.id}).status_code == 200


def test_bulk_move_is_all_or_nothing(app, supervisor_api, factory, program, coach, other_coach):
    set_cap(app, other_coach, 2)
    moving = factory.patients(coach, 3)
    ids = [p.id for p in moving]
    refused = supervisor_api.post("/api/v1/assignments/bulk", json={"coach_id": other_coach.id, "patient_ids": ids})
    assert refused.status_code == 409 and refused.json["error"] == "bulk_assignment_refused"
    assert [r["result"] for r in refused.json["results"]] == ["assigned", "assigned", "refused"]
    assert refused.json["results"][2]["error"] == "caseload_cap_reached"
    assert all(supervisor_api.get(f"/api/v1/patients/{i}").json["coach_id"] == coach.id for i in ids)
    moved = supervisor_api.post("/api/v1/assignments/bulk", json={
        "coach_id": other_coach.id, "patient_ids": ids, "override_reason": "Coach A is on leave for two weeks"})
    assert moved.status_code == 200 and [r["result"] for r in moved.json] == ["assigned"] * 3
    assert all(supervisor_api.get(f"/api/v1/patients/{i}").json["coach_id"] == other_coach.id for i in ids)


def test_bulk_reports_unknown_and_closed_patients(supervisor_api, coach_api, factory, program, coach, other_coach):
    closed = factory.patient(coach, status="closed")
    body = {"coach_id": other_coach.id, "patient_ids": [closed.id, 999999]}
    refused = supervisor_api.post("/api/v1/assignments/bulk", json=body)
    assert [r["error"] for r in refused.json["results"]] == ["patient_closed", "not_found"]
    assert coach_api.post("/api/v1/assignments/bulk", json=body).status_code == 403


def test_assignment_history_appears_in_the_timeline(supervisor_api, factory, program, coach):
    patient = factory.patient(program_id=program.id)
    supervisor_api.post(f"/api/v1/patients/{patient.id}/assignment", json={"coach_id": coach.id})
    entries = supervisor_api.get(f"/api/v1/patients/{patient.id}/timeline?kind=patient_event").json
    assert entries[0]["data"]["kind"] == "coach_changed"
    assert entries[0]["data"]["details"]["to"] == coach.id
