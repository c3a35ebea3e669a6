"""Check-ins are private to the coach and their supervisor; supervision sessions are recorded."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.tasks.models import Task, TaskKind, TaskStatus
from tests.conftest import run_named_job

CHECK_IN = {"stress": 4, "energy": 2, "wants_supervisor_contact": False, "note": "Rough week with two overdoses"}


def test_coach_checks_in_and_sees_their_history(coach_api):
    scores = {"proqol_compassion_satisfaction": 38, "proqol_burnout": 27, "proqol_secondary_traumatic_stress": 24}
    created = coach_api.post("/api/v1/me/wellness", json={**CHECK_IN, **scores})
    assert created.status_code == 201 and created.json["proqol_burnout"] == 27
    assert [c["stress"] for c in coach_api.get("/api/v1/me/wellness").json] == [4]


def test_check_in_values_are_bounded(coach_api):
    response = coach_api.post("/api/v1/me/wellness", json={"stress": 6, "energy": 0, "proqol_burnout": 51})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"stress", "energy", "proqol_burnout"}
    assert coach_api.get("/api/v1/me/wellness").json == []


def test_asking_for_contact_gives_the_supervisor_a_task_within_a_day(app, coach_api, coach, supervisor):
    coach_api.post("/api/v1/me/wellness", json={**CHECK_IN, "wants_supervisor_contact": True})
    with app.app_context():
        task = db.session.scalar(sa.select(Task).where(Task.assignee_id == supervisor.id))
    assert task.due_at <= utcnow() + timedelta(hours=24)
    assert "overdoses" not in task.title  # the task never repeats the coach's note


def test_only_the_coachs_own_supervisor_reads_check_ins(coach_api, login, factory, program, coach, supervisor,
                                                        admin_api, other_coach):
    coach_api.post("/api/v1/me/wellness", json=CHECK_IN)
    assert login(supervisor).get(f"/api/v1/coaches/{coach.id}/wellness").json[0]["note"] == CHECK_IN["note"]
    another_supervisor = factory.user("supervisor", program)
    assert login(another_supervisor).get(f"/api/v1/coaches/{coach.id}/wellness").status_code == 404
    assert admin_api.get(f"/api/v1/coaches/{coach.id}/wellness").status_code == 404
    assert login(other_coach).get(f"/api/v1/coaches/{coach.id}/wellness").status_code == 404


def test_weekly_check_in_tasks_are_created_once_and_closed_by_checking_in(app, coach_api, coach, other_coach):
    assert run_named_job(app, "weekly_check_in_tasks") == 2
    assert run_named_job(app, "weekly_check_in_tasks") == 0
    coach_api.post("/api/v1/me/wellness", json=CHECK_IN)
    with app.app_context():
        status = db.session.scalar(sa.select(Task.status).where(Task.assignee_id == coach.id,
                                                                Task.kind == TaskKind.WELLNESS_CHECK_IN))
    assert status == TaskStatus.DONE


def test_supervisor_records_and_reads_supervision_sessions(supervisor_api, coach_api, coach):
    url = f"/api/v1/coaches/{coach.id}/supervision-sessions"
    held = (utcnow() - timedelta(hours=2)).isoformat()
    created = supervisor_api.post(url, json={"held_at": held, "duration_minutes": 45, "notes": "Talked boundaries",
                                             "follow_ups": ["Book a day off", "Shadow on Thursday"]})
    assert created.status_code == 201 and created.json["follow_ups"] == ["Book a day off", "Shadow on Thursday"]
    assert [s["duration_minutes"] for s in supervisor_api.get(url).json] == [45]
    assert coach_api.get(url).status_code == 403
    bad = supervisor_api.post(url, json={"held_at": (utcnow() + timedelta(days=2)).isoformat(),
                                         "duration_minutes": 0})
    assert bad.status_code == 422 and "duration_minutes" in bad.json["errors"]
