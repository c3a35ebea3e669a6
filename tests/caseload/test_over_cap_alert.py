"""A reopen or a higher acuity that takes a coach over cap stands, and their supervisor gets a review task."""

from __future__ import annotations

import sqlalchemy as sa

from backend.database import db
from backend.patients.models import PatientStatus
from backend.tasks.models import Task, TaskKind
from backend.users.models import User


def review_tasks(app, supervisor_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Task.title).where(Task.assignee_id == supervisor_id,
                                                                   Task.kind == TaskKind.REVIEW)))


def set_cap(app, coach_id: int, cap: int) -> None:
    with app.app_context():
        db.session.execute(sa.update(User).where(User.id == coach_id).values(caseload_cap=cap))
        db.session.commit()


def test_a_reopen_over_cap_is_kept_and_the_supervisor_is_told_once(app, coach, supervisor, coach_api, factory):
    set_cap(app, coach.id, 2)
    factory.patients(coach, 2, status=PatientStatus.ACTIVE)
    returning = factory.patient(coach, status=PatientStatus.CLOSED)
    response = coach_api.patch(f"/api/v1/patients/{returning.id}", json={"status": "active"})
    assert response.status_code == 200 and response.json["status"] == "active"
    assert review_tasks(app, supervisor.id) == [f"{coach.full_name} is over their cap (3 of 2): review the caseload"]
    other = factory.patient(coach, status=PatientStatus.CLOSED)
    assert coach_api.patch(f"/api/v1/patients/{other.id}", json={"status": "active"}).status_code == 200
    assert len(review_tasks(app, supervisor.id)) == 1  # already over cap: the open task covers it


def test_a_higher_acuity_that_crosses_the_cap_tells_the_supervisor(app, coach, supervisor, coach_api, factory):
    set_cap(app, coach.id, 2)
    first, _second = factory.patients(coach, 2, status=PatientStatus.ACTIVE)
    assert review_tasks(app, supervisor.id) == []  # exactly at cap is not over it
    assert coach_api.patch(f"/api/v1/patients/{first.id}", json={"acuity": "high"}).status_code == 200
    assert review_tasks(app, supervisor.id) == [
        f"{coach.full_name} is over their cap (2.5 of 2): review the caseload"]


def test_changes_that_lower_the_load_tell_nobody(app, coach, supervisor, coach_api, factory):
    set_cap(app, coach.id, 1)
    patients = factory.patients(coach, 3, status=PatientStatus.ACTIVE)  # already over cap (assigned by a lead)
    assert coach_api.patch(f"/api/v1/patients/{patients[0].id}", json={"status": "closed"}).status_code == 200
    assert coach_api.patch(f"/api/v1/patients/{patients[1].id}", json={"acuity": "low"}).status_code == 200
    assert review_tasks(app, supervisor.id) == []
