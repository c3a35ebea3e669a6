"""A coach's tasks: what to do, by when, and what is overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.database import utcnow


def test_my_tasks_lists_open_tasks_soonest_first_with_overdue_flag(coach_api, factory, coach, other_coach):
    patient = factory.patient(coach)
    late = factory.task(coach, patient, title="Late", due_at=utcnow() - timedelta(hours=2))
    soon = factory.task(coach, patient, title="Soon", due_at=utcnow() + timedelta(hours=2))
    factory.task(coach, patient, title="Done", status="done")
    factory.task(other_coach, title="Not mine")
    tasks = coach_api.get("/api/v1/me/tasks").json
    assert [(t["id"], t["overdue"]) for t in tasks] == [(late.id, True), (soon.id, False)]
    assert [t["title"] for t in coach_api.get("/api/v1/me/tasks?status=done").json] == ["Done"]


def test_create_complete_and_reopen_a_task(coach_api, factory, coach):
    patient = factory.patient(coach)
    created = coach_api.post(f"/api/v1/patients/{patient.id}/tasks", json={
        "title": "Confirm intake", "kind": "confirm_appointment", "due_at": "2030-03-01T15:00:00Z"})
    assert created.status_code == 201
    assert created.json["assignee_id"] == coach.id and created.json["status"] == "open"
    done = coach_api.patch(f"/api/v1/tasks/{created.json['id']}", json={"status": "done"})
    assert done.status_code == 200 and done.json["completed_at"] is not None
    reopened = coach_api.patch(f"/api/v1/tasks/{created.json['id']}", json={"status": "open"})
    assert reopened.json["completed_at"] is None


def test_coach_assigns_tasks_only_to_themselves(coach_api, supervisor_api, factory, coach, other_coach):
    patient = factory.patient(coach)
    body = {"title": "Call", "due_at": "2030-01-01T10:00:00Z", "assignee_id": other_coach.id}
    refused = coach_api.post(f"/api/v1/patients/{patient.id}/tasks", json=body)
    assert refused.status_code == 403
    assigned = supervisor_api.post(f"/api/v1/patients/{patient.id}/tasks", json=body)
    assert assigned.status_code == 201 and assigned.json["assignee_id"] == other_coach.id


def test_bad_task_updates_are_refused(coach_api, factory, coach):
    task = factory.task(coach, factory.patient(coach))
    response = coach_api.patch(f"/api/v1/tasks/{task.id}", json={"status": "finished", "assignee_id": 3})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"status", "assignee_id"}
    assert coach_api.patch("/api/v1/tasks/999999", json={"status": "done"}).status_code == 404


def test_my_tasks_today_overdue_and_upcoming_in_the_programmes_time_zone(login, factory, coach):
    import time_machine

    with time_machine.travel(datetime(2026, 6, 16, 17, 0, tzinfo=UTC), tick=True):  # 12:00 in Chicago
        api = login(coach)
        patient = factory.patient(coach)
        now = datetime.now(UTC)
        factory.task(coach, patient, title="late", due_at=now - timedelta(hours=2))
        factory.task(coach, patient, title="tonight", due_at=now + timedelta(hours=8))  # 20:00 in Chicago
        factory.task(coach, patient, title="after midnight", due_at=now + timedelta(hours=14))  # 02:00 tomorrow

        def titles(due):
            return [t["title"] for t in api.get(f"/api/v1/me/tasks?due={due}").json]

        assert titles("today") == ["late", "tonight"]
        assert titles("overdue") == ["late"]
        assert titles("upcoming") == ["after midnight"]
        assert api.get("/api/v1/me/tasks?due=someday").status_code == 422


def test_task_lists_carry_the_patients_short_name(coach_api, factory, coach):
    patient = factory.patient(coach, first_name="Lucía", preferred_name="Lucy", last_name="García")
    factory.task(coach, patient, title="Call back")
    [task] = coach_api.get("/api/v1/me/tasks").json
    assert task["patient_name"] == "Lucy G."
