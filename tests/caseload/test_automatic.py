"""Opt-out linkage: every eligible ED patient gets an on-shift coach, never over a cap."""

from __future__ import annotations

import sqlalchemy as sa

from backend.caseload.models import Assignment, AssignmentMethod
from backend.database import db, utcnow
from backend.tasks.models import Task

ED_PATIENT = {"first_name": "Eli", "last_name": "Ward", "source": "ed", "phone": "+13125550170"}


def make_coach(factory, program, supervisor, name, cap=None, on_shift=True):
    return factory.user("coach", program, full_name=name, caseload_cap=cap, on_shift=on_shift,
                        supervisor_id=supervisor.id)


def test_ed_patient_goes_to_the_least_utilised_on_shift_coach(supervisor_api, factory, program, supervisor):
    busy = make_coach(factory, program, supervisor, "Busy", cap=10)
    roomy = make_coach(factory, program, supervisor, "Roomy", cap=10)
    resting = make_coach(factory, program, supervisor, "Resting", cap=10, on_shift=False)
    factory.patients(busy, 4)
    factory.patients(roomy, 1)
    response = supervisor_api.post("/api/v1/patients", json=ED_PATIENT)
    assert response.status_code == 201 and response.json["coach_id"] == roomy.id
    assert resting.id != response.json["coach_id"]


def test_ties_go_to_the_coach_with_fewest_recent_assignments(app, supervisor_api, factory, program, supervisor):
    first = make_coach(factory, program, supervisor, "First")
    second = make_coach(factory, program, supervisor, "Second")
    given = factory.patient(program_id=program.id, status="closed")
    with app.app_context():
        db.session.add(Assignment(program_id=program.id, patient_id=given.id, coach_id=first.id,
                                  method=AssignmentMethod.MANUAL, load_before=0, cap=25, created_at=utcnow()))
        db.session.commit()
    assert supervisor_api.post("/api/v1/patients", json=ED_PATIENT).json["coach_id"] == second.id


def test_inpatient_counts_too_but_not_self_referrals_or_decliners(supervisor_api, factory, program, supervisor):
    coach = make_coach(factory, program, supervisor, "On shift")
    inpatient = supervisor_api.post("/api/v1/patients", json={**ED_PATIENT, "source": "inpatient"}).json
    assert inpatient["coach_id"] == coach.id
    assert supervisor_api.post("/api/v1/patients", json={**ED_PATIENT, "source": "self"}).json["coach_id"] is None
    declined = supervisor_api.post("/api/v1/patients", json={**ED_PATIENT, "declined_peer_support": True}).json
    assert declined["coach_id"] is None and declined["status"] == "declined"


def test_when_everyone_is_full_the_patient_waits_and_a_supervisor_gets_a_task(app, supervisor_api, factory,
                                                                                 program, supervisor):
    full = make_coach(factory, program, supervisor, "Full", cap=1)
    factory.patients(full, 1)
    created = supervisor_api.post("/api/v1/patients", json=ED_PATIENT).json
    assert created["coach_id"] is None
    queue = supervisor_api.get("/api/v1/team/unassigned").json
    assert [p["id"] for p in queue] == [created["id"]]
    with app.app_context():
        task = db.session.scalar(sa.select(Task).where(Task.patient_id == created["id"]))
    assert task.assignee_id == supervisor.id and "at their cap" in task.title
    assert task.due_at > utcnow()


def test_with_nobody_on_shift_the_patient_waits_too(app, supervisor_api, factory, program, supervisor):
    make_coach(factory, program, supervisor, "Off", on_shift=False)
    created = supervisor_api.post("/api/v1/patients", json=ED_PATIENT).json
    assert created["coach_id"] is None
    with app.app_context():
        task = db.session.scalar(sa.select(Task).where(Task.patient_id == created["id"]))
    assert "no coach is on shift" in task.title


def test_coach_at_cap_cannot_take_a_new_patient(app, login, factory, program, supervisor):
    coach = make_coach(factory, program, supervisor, "Full", cap=1)
    factory.patients(coach, 1)
    response = login(coach).post("/api/v1/patients", json=ED_PATIENT)
    assert response.status_code == 409 and response.json["error"] == "caseload_cap_reached"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


def test_unassigned_queue_is_for_leads(coach_api):
    assert coach_api.get("/api/v1/team/unassigned").status_code == 403
