"""The supervisors' queues: waiting patients, overdue follow-ups, reassigning a task, and escalation."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.caseload.models import Assignment
from backend.database import db, utcnow
from backend.patients.models import Patient
from backend.tasks.models import Task, TaskKind, TaskStatus
from tests.admin.conftest import csrf_token
from tests.audit.test_audit import events
from tests.conftest import run_named_job
from tests.factories import PASSWORD

REASON = "Only coach who speaks Spanish today"


def stored(app, model, row_id):
    with app.app_context():
        return db.session.get(model, row_id)


def late_task(factory, holder, patient=None, hours=30, **kw):
    return factory.task(holder, patient, due_at=utcnow() - timedelta(hours=hours), **kw)


# -- waiting patients --

def test_waiting_patients_are_listed_oldest_first_with_each_coachs_room(app, panel_login, client, supervisor,
                                                                        coach, other_coach, factory):
    newer = factory.patient(None, program_id=coach.program_id, first_name="Newer",
                            created_at=utcnow() - timedelta(hours=2))
    older = factory.patient(None, program_id=coach.program_id, first_name="Older",
                            created_at=utcnow() - timedelta(days=3))
    factory.patient(None, program_id=coach.program_id, first_name="Closed", status="closed")
    factory.patient(coach, first_name="Placed")
    factory.patients(other_coach, 25)
    panel_login(supervisor.email, PASSWORD)
    response = client.get("/admin/waiting")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "2 waiting" in page
    assert page.index(f'data-testid="waiting-{older.id}"') < page.index(f'data-testid="waiting-{newer.id}"')
    assert "Closed Example" not in page and "Placed Example" not in page
    assert f"{coach.full_name} · off shift · 1 of 25 · room for 24" in page
    assert f"{other_coach.full_name} · off shift · 25 of 25 · full" in page
    (listed,) = events(app, action="list", resource="patient")
    assert listed.details == {"patient_ids": [older.id, newer.id], "filters": ["unassigned"]}


def test_nobody_waiting_is_a_friendly_page(panel_login, client, supervisor):
    panel_login(supervisor.email, PASSWORD)
    page = client.get("/admin/waiting").get_data(as_text=True)
    assert "Nobody is waiting: every open patient has a coach." in page
    assert "No active coaches in this programme yet." in page


def test_assigning_a_waiting_patient_keeps_the_cap_unless_a_reason_is_given(app, panel_login, client, supervisor,
                                                                            coach, other_coach, factory):
    first = factory.patient(None, program_id=coach.program_id, first_name="Ana", last_name="Ruiz")
    second = factory.patient(None, program_id=coach.program_id)
    factory.patients(other_coach, 25)
    panel_login(supervisor.email, PASSWORD)
    token = csrf_token(client.get("/admin/waiting").get_data(as_text=True))

    done = client.post(f"/admin/waiting/{first.id}/assign", data={"csrf_token": token, "coach_id": coach.id},
                       follow_redirects=True)
    assert done.status_code == 200 and f"Ana Ruiz is now with {coach.full_name}." in done.get_data(as_text=True)
    assert stored(app, Patient, first.id).coach_id == coach.id
    (assigned,) = events(app, action="assign", resource="patient", patient_id=first.id)
    assert assigned.user_id == supervisor.id and assigned.details["override"] is False

    full = client.post(f"/admin/waiting/{second.id}/assign", data={"csrf_token": token, "coach_id": other_coach.id})
    page = full.get_data(as_text=True)
    assert full.status_code == 409 and "This coach&#39;s caseload is full." in page
    assert f'<option value="{other_coach.id}" selected>' in page  # the choice is kept on its row
    assert stored(app, Patient, second.id).coach_id is None
    assert events(app, action="assign", patient_id=second.id)[0].outcome == "caseload_cap_reached"

    over = client.post(f"/admin/waiting/{second.id}/assign", data={
        "csrf_token": token, "coach_id": other_coach.id, "override_reason": REASON}, follow_redirects=True)
    assert "The cap override is recorded with your reason." in over.get_data(as_text=True)
    assert stored(app, Patient, second.id).coach_id == other_coach.id
    with app.app_context():
        assert db.session.scalar(sa.select(Assignment.override_reason).where(
            Assignment.patient_id == second.id)) == REASON


def test_bad_assignments_are_refused_and_change_nothing(app, panel_login, client, supervisor, coach, factory):
    waiting = factory.patient(None, program_id=coach.program_id)
    elsewhere = factory.program("Elsewhere")
    their_coach = factory.user("coach", elsewhere)
    their_patient = factory.patient(None, program_id=elsewhere.id)
    panel_login(supervisor.email, PASSWORD)
    token = csrf_token(client.get("/admin/waiting").get_data(as_text=True))
    blank = client.post(f"/admin/waiting/{waiting.id}/assign", data={"csrf_token": token, "coach_id": "",
                                                                     "override_reason": "typed text"})
    page = blank.get_data(as_text=True)
    assert blank.status_code == 422 and f'id="coach-{waiting.id}-error"' in page and 'value="typed text"' in page
    stranger = client.post(f"/admin/waiting/{waiting.id}/assign", data={"csrf_token": token,
                                                                        "coach_id": their_coach.id})
    assert stranger.status_code == 422 and "Not an active coach of your programme." in stranger.get_data(as_text=True)
    short = client.post(f"/admin/waiting/{waiting.id}/assign", data={
        "csrf_token": token, "coach_id": coach.id, "override_reason": "busy"})
    assert short.status_code == 422 and "Give a reason of at least 10 characters." in short.get_data(as_text=True)
    theirs = client.post(f"/admin/waiting/{their_patient.id}/assign", data={"csrf_token": token, "coach_id": coach.id})
    assert theirs.status_code == 404 and "Not found" in theirs.get_data(as_text=True)
    assert stored(app, Patient, waiting.id).coach_id is None and stored(app, Patient, their_patient.id).coach_id is None


def test_queues_are_for_supervisors(panel_login, client, admin_user, coach, factory):
    waiting = factory.patient(None, program_id=coach.program_id)
    task = late_task(factory, coach)
    panel_login(admin_user.email, PASSWORD)
    for url in ("/admin/waiting", "/admin/overdue"):
        response = client.get(url)
        assert response.status_code == 403 and "Not for your role" in response.get_data(as_text=True)
    token = csrf_token(client.get("/admin/password").get_data(as_text=True))
    assert client.post(f"/admin/waiting/{waiting.id}/assign", data={"csrf_token": token,
                                                                    "coach_id": coach.id}).status_code == 403
    assert client.post(f"/admin/tasks/{task.id}/reassign", data={"csrf_token": token,
                                                                 "assignee_id": coach.id}).status_code == 403


# -- overdue follow-ups --

def test_overdue_tasks_are_grouped_by_coach_oldest_first(app, panel_login, client, supervisor, coach, other_coach,
                                                         factory):
    patient = factory.patient(coach, first_name="Rosa")
    recent = late_task(factory, coach, patient, hours=2, title="Recent")
    oldest = late_task(factory, other_coach, hours=50, title="Oldest")
    middle = late_task(factory, coach, patient, hours=20, title="Middle")
    factory.task(coach, patient, title="Not yet due")
    late_task(factory, coach, patient, title="Done already", status=TaskStatus.DONE)
    panel_login(supervisor.email, PASSWORD)
    page = client.get("/admin/overdue").get_data(as_text=True)
    assert "Not yet due" not in page and "Done already" not in page and "Escalated to you" not in page
    order = [page.index(marker) for marker in (f'data-testid="group-{other_coach.id}"', f"task-{oldest.id}",
                                               f'data-testid="group-{coach.id}"', f"task-{middle.id}",
                                               f"task-{recent.id}")]
    assert order == sorted(order) and "2 days" in page and "20 h" in page
    (listed,) = events(app, action="list", resource="task")
    assert listed.details == {"task_ids": [oldest.id, middle.id, recent.id], "patient_ids": [patient.id]}


def test_nothing_overdue_is_a_friendly_page(panel_login, client, supervisor):
    panel_login(supervisor.email, PASSWORD)
    assert "Nothing is overdue" in client.get("/admin/overdue").get_data(as_text=True)


def test_an_overdue_task_is_given_to_another_coach(app, panel_login, client, supervisor, coach, other_coach, factory):
    task = late_task(factory, coach, factory.patient(coach), title="Call about intake")
    panel_login(supervisor.email, PASSWORD)
    token = csrf_token(client.get("/admin/overdue").get_data(as_text=True))
    response = client.post(f"/admin/tasks/{task.id}/reassign", data={"csrf_token": token,
                                                                     "assignee_id": other_coach.id},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and f"“Call about intake” is now {other_coach.full_name}&#39;s." in page
    assert f'data-testid="group-{other_coach.id}"' in page
    assert stored(app, Task, task.id).assignee_id == other_coach.id
    (moved,) = events(app, action="reassign", resource="task")
    assert moved.details == {"from": coach.id, "to": other_coach.id} and moved.patient_id == task.patient_id


def test_bad_task_reassignments_are_refused(app, panel_login, client, supervisor, coach, factory):
    task = late_task(factory, coach)
    closed = late_task(factory, coach, title="Closed", status=TaskStatus.CANCELLED)
    elsewhere = factory.program("Elsewhere")
    their_coach = factory.user("coach", elsewhere)
    their_task = late_task(factory, their_coach)
    panel_login(supervisor.email, PASSWORD)
    token = csrf_token(client.get("/admin/overdue").get_data(as_text=True))
    blank = client.post(f"/admin/tasks/{task.id}/reassign", data={"csrf_token": token, "assignee_id": ""})
    assert blank.status_code == 422 and f'id="assignee-{task.id}-error"' in blank.get_data(as_text=True)
    stranger = client.post(f"/admin/tasks/{task.id}/reassign", data={"csrf_token": token,
                                                                     "assignee_id": their_coach.id})
    page = stranger.get_data(as_text=True)
    assert stranger.status_code == 422 and "Not an active coach of your programme." in page
    assert f'id="assignee-{task.id}-error"' in page
    done = client.post(f"/admin/tasks/{closed.id}/reassign", data={"csrf_token": token, "assignee_id": coach.id})
    assert done.status_code == 409 and "Only an open task can be given to someone else." in done.get_data(as_text=True)
    theirs = client.post(f"/admin/tasks/{their_task.id}/reassign", data={"csrf_token": token,
                                                                         "assignee_id": coach.id})
    assert theirs.status_code == 404
    assert stored(app, Task, task.id).assignee_id == coach.id
    assert stored(app, Task, their_task.id).assignee_id == their_coach.id
    assert [e.outcome for e in events(app, action="reassign")] == ["validation_error", "task_not_open"]


def test_the_api_gives_a_task_to_another_coach(app, supervisor_api, coach_api, coach, other_coach, factory, login):
    task = late_task(factory, coach)
    assert coach_api.post(f"/api/v1/tasks/{task.id}/assignment",
                          json={"assignee_id": other_coach.id}).status_code == 403
    bad = supervisor_api.post(f"/api/v1/tasks/{task.id}/assignment", json={"assignee_id": "someone"})
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"assignee_id"}
    given = supervisor_api.post(f"/api/v1/tasks/{task.id}/assignment", json={"assignee_id": other_coach.id})
    assert given.status_code == 200 and given.json["assignee_id"] == other_coach.id and given.json["overdue"] is True
    elsewhere = login(factory.user("supervisor", factory.program("Elsewhere")))
    assert elsewhere.post(f"/api/v1/tasks/{task.id}/assignment",
                          json={"assignee_id": coach.id}).status_code == 404
    assert stored(app, Task, task.id).assignee_id == other_coach.id
    assert [e.outcome for e in events(app, action="reassign")] == ["forbidden", "validation_error", "success",
                                                                   "not_found"]


# -- escalation --

def test_tasks_overdue_past_the_programmes_time_escalate_once(app, panel_login, client, supervisor, coach,
                                                              factory, program):
    patient = factory.patient(coach)
    late = late_task(factory, coach, patient, hours=30, title="Call back")
    recent = late_task(factory, coach, patient, hours=3, title="Text back")
    late_task(factory, coach, hours=80, kind=TaskKind.WELLNESS_CHECK_IN, title="Weekly check-in")
    late_task(factory, supervisor, hours=80, title="Supervisor's own")
    unsupervised = factory.user("coach", program, full_name="Lone Coach")
    no_one = late_task(factory, unsupervised, hours=40, title="Nobody's coach")

    assert run_named_job(app, "escalate_overdue_tasks") == 2
    assert run_named_job(app, "escalate_overdue_tasks") == 0  # each task escalates once
    with app.app_context():
        reviews = list(db.session.scalars(sa.select(Task).where(Task.kind == TaskKind.REVIEW).order_by(Task.id)))
        escalated = {t.id: t.escalation_task_id for t in db.session.scalars(
            sa.select(Task).where(Task.escalated_at.is_not(None)))}
    assert [(r.assignee_id, r.patient_id, r.title) for r in reviews] == [  # the oldest first
        (supervisor.id, None, "Overdue follow-up of Lone Coach: Nobody's coach"),  # the least busy supervisor
        (supervisor.id, patient.id, f"Overdue follow-up of {coach.full_name}: Call back")]
    assert escalated == {no_one.id: reviews[0].id, late.id: reviews[1].id}
    assert [e.resource_id for e in events(app, action="escalate", resource="task")] == [str(no_one.id), str(late.id)]

    panel_login(supervisor.email, PASSWORD)
    page = client.get("/admin/overdue").get_data(as_text=True)
    top = page[page.index('data-testid="escalated-to-me"'):page.index('id="team-heading"')]
    assert f"task-{late.id}" in top and f"task-{no_one.id}" in top and f"task-{recent.id}" not in top
    assert "escalated</span>" in top and "more than 24 hours" in page


def test_the_programme_sets_when_tasks_escalate(app, admin_api, supervisor_api, coach, factory):
    recent = late_task(factory, coach, hours=3)
    assert supervisor_api.get("/api/v1/program/caseload-policy").json["escalate_overdue_after_hours"] == 24
    bad = admin_api.patch("/api/v1/program/caseload-policy", json={"escalate_overdue_after_hours": 0})
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"escalate_overdue_after_hours"}
    assert run_named_job(app, "escalate_overdue_tasks") == 0
    assert admin_api.patch("/api/v1/program/caseload-policy",
                           json={"escalate_overdue_after_hours": 2}).status_code == 200
    assert run_named_job(app, "escalate_overdue_tasks") == 1
    assert stored(app, Task, recent.id).escalated_at is not None


def test_escalating_is_not_an_edit_of_the_coachs_task(app, coach_api, coach, supervisor, factory):
    task = late_task(factory, coach, hours=30)
    assert run_named_job(app, "escalate_overdue_tasks") == 1
    escalated = stored(app, Task, task.id)
    assert escalated.version == task.version and escalated.escalation_task_id is not None
    done = coach_api.patch(f"/api/v1/tasks/{task.id}", json={"status": "done"})
    assert done.status_code == 200 and done.json["status"] == "done"
