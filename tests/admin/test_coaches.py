"""The coach page: caseload, load against cap over time, wellness, supervision, tasks; moving patients away."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta

import sqlalchemy as sa

from backend.caseload.models import Assignment, CaseloadSnapshot
from backend.database import db, utcnow
from backend.patients.models import Patient
from backend.wellness.models import SupervisionSession
from tests.admin.conftest import csrf_token
from tests.audit.test_audit import events
from tests.factories import PASSWORD

REASON = "Covering for annual leave this week"


def snapshots(app, coach, *days_ago_and_load):
    """Daily snapshots of the coach's caseload, `days_ago` before today, load in whole units."""
    with app.app_context():
        today = utcnow().date()
        for days_ago, load in days_ago_and_load:
            db.session.add(CaseloadSnapshot(program_id=coach.program_id, coach_id=coach.id,
                                            day=today - timedelta(days=days_ago), load=load * 100, cap=25,
                                            active_patients=load, level="ok", reasons=[]))
        db.session.commit()


def history_rows(page: str) -> int:
    table = page[page.index('data-testid="history-table"'):]
    return table[:table.index("</table>")].count("<tr>")


def coach_of(app, patient_id):
    with app.app_context():
        return db.session.get(Patient, patient_id).coach_id


def test_coach_page_shows_caseload_history_tasks_and_wellness(app, panel_login, client, supervisor, coach,
                                                               factory, coach_api):
    high = factory.patient(coach, first_name="Marisol", last_name="Quintero", acuity="high")
    quiet = factory.patient(coach, first_name="Dev", last_name="Okafor", acuity="low")
    factory.contact(high, coach, occurred_at=utcnow() - timedelta(days=3, hours=2))
    late = factory.task(coach, high, title="Confirm intake", due_at=utcnow() - timedelta(hours=5))
    factory.task(coach, quiet, title="Text reminder", due_at=utcnow() + timedelta(hours=5))
    snapshots(app, coach, (1, 2), (10, 3), (60, 9))
    coach_api.post("/api/v1/me/wellness", json={"stress": 4, "energy": 2, "note": "Long week"})
    panel_login(supervisor.email, PASSWORD)

    response = client.get(f"/admin/coaches/{coach.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and f"<h1>{coach.full_name}</h1>" in page
    assert 'data-testid="load">2 / 25<' in page  # high 1.5 + low 0.5
    assert "Marisol Quintero" in page and "acuity-high" in page and "Dev Okafor" in page
    row = page[page.index(f'data-testid="patient-{high.id}"'):]
    assert '<td class="num">3</td>' in row[:row.index("</tr>")]  # days since last contact
    assert f'data-testid="task-{late.id}"' in page and "overdue</span>" in page
    assert history_rows(page) == 1 + 2  # header and the two snapshots of the last 30 days
    assert 'role="img"' in page and 'class="series series-load"' in page
    assert "Long week" in page and 'data-testid="check-ins"' in page  # the coach's own supervisor

    ninety = client.get(f"/admin/coaches/{coach.id}?days=90").get_data(as_text=True)
    assert history_rows(ninety) == 1 + 3

    (read,) = events(app, action="list", resource="caseload")[-1:]
    assert read.user_id == supervisor.id and sorted(read.details["patient_ids"]) == sorted([high.id, quiet.id])
    assert events(app, action="list", resource="task", user_id=supervisor.id)


def test_check_ins_are_for_the_coachs_own_supervisor_only(app, panel_login, client, factory, program, coach,
                                                          coach_api):
    coach_api.post("/api/v1/me/wellness", json={"stress": 5, "energy": 1, "note": "Private words"})
    colleague = factory.user("supervisor", program, email="colleague@example.test")
    panel_login(colleague.email, PASSWORD)
    page = client.get(f"/admin/coaches/{coach.id}").get_data(as_text=True)
    assert "Private words" not in page and 'data-testid="check-ins-private"' in page
    assert events(app, resource="wellness_check_in", action="list") == []


def test_a_coach_with_nothing_yet_shows_friendly_empty_states(panel_login, client, supervisor, coach):
    panel_login(supervisor.email, PASSWORD)
    page = client.get(f"/admin/coaches/{coach.id}").get_data(as_text=True)
    for text in ("has no active patients.", "No daily snapshots in the last 30 days yet",
                 "No open tasks.", "No check-ins yet.", "No supervision session recorded yet."):
        assert text in page, text


def test_the_page_and_its_forms_are_for_supervisors(panel_login, client, admin_user, coach, other_coach, factory):
    patient = factory.patient(coach)
    panel_login(admin_user.email, PASSWORD)
    response = client.get(f"/admin/coaches/{coach.id}")
    assert response.status_code == 403 and "Not for your role" in response.get_data(as_text=True)
    token = csrf_token(client.get("/admin/password").get_data(as_text=True))
    moved = client.post(f"/admin/coaches/{coach.id}/reassign", data={
        "csrf_token": token, "patient_ids": [patient.id], "coach_id": other_coach.id})
    assert moved.status_code == 403
    recorded = client.post(f"/admin/coaches/{coach.id}/supervision", data={
        "csrf_token": token, "held_at": "2026-01-05T10:30", "duration_minutes": "45"})
    assert recorded.status_code == 403


def test_another_programmes_coach_is_not_found(panel_login, client, supervisor, factory):
    stranger = factory.user("coach", factory.program("Elsewhere"))
    panel_login(supervisor.email, PASSWORD)
    missing = client.get(f"/admin/coaches/{stranger.id}")
    assert missing.status_code == 404 and "Not found" in missing.get_data(as_text=True)
    assert client.get(f"/admin/coaches/{supervisor.id}").status_code == 404  # not a coach


def test_moving_patients_over_the_cap_needs_a_reason(app, panel_login, client, supervisor, coach, other_coach,
                                                     factory):
    first, second = factory.patient(coach), factory.patient(coach)
    factory.patients(other_coach, 24)
    panel_login(supervisor.email, PASSWORD)
    token = csrf_token(client.get(f"/admin/coaches/{coach.id}").get_data(as_text=True))
    form = {"csrf_token": token, "patient_ids": [first.id, second.id], "coach_id": other_coach.id}

    refused = client.post(f"/admin/coaches/{coach.id}/reassign", data=form)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "Nothing was moved" in page
    assert "carries 24 of a cap of 25: 1 of these patients would take them over it" in page
    assert f'value="{first.id}" id="move-{first.id}" checked' in page  # the selection is kept
    assert f'value="{other_coach.id}" selected' in page
    assert coach_of(app, first.id) == coach.id and coach_of(app, second.id) == coach.id
    (refusal,) = events(app, action="assign", outcome="bulk_assignment_refused")
    assert refusal.user_id == supervisor.id

    moved = client.post(f"/admin/coaches/{coach.id}/reassign", data={**form, "override_reason": REASON},
                        follow_redirects=True)
    page = moved.get_data(as_text=True)
    assert moved.status_code == 200 and "Moved 2 patients. 1 over the cap, with your reason on record." in page
    assert coach_of(app, first.id) == other_coach.id and coach_of(app, second.id) == other_coach.id
    with app.app_context():
        reasons = list(db.session.scalars(sa.select(Assignment.override_reason).where(
            Assignment.patient_id.in_([first.id, second.id])).order_by(Assignment.id)))
    assert reasons == [None, REASON]
    audited = events(app, action="assign", resource="patient", outcome="success")
    assert [e.details["override"] for e in audited] == [False, True]


def test_bad_moves_are_shown_again_with_the_fields_errors(app, panel_login, client, supervisor, coach,
                                                          other_coach, factory):
    patient = factory.patient(coach)
    panel_login(supervisor.email, PASSWORD)
    token = csrf_token(client.get(f"/admin/coaches/{coach.id}").get_data(as_text=True))
    nobody = client.post(f"/admin/coaches/{coach.id}/reassign", data={"csrf_token": token, "coach_id": other_coach.id})
    page = nobody.get_data(as_text=True)
    assert nobody.status_code == 422 and 'id="f-patient_ids-error"' in page
    no_coach = client.post(f"/admin/coaches/{coach.id}/reassign",
                           data={"csrf_token": token, "patient_ids": [patient.id], "coach_id": ""})
    assert no_coach.status_code == 422 and 'id="f-coach_id-error"' in no_coach.get_data(as_text=True)
    short = client.post(f"/admin/coaches/{coach.id}/reassign", data={
        "csrf_token": token, "patient_ids": [patient.id], "coach_id": other_coach.id, "override_reason": "busy"})
    page = short.get_data(as_text=True)
    assert short.status_code == 422 and "Give a reason of at least 10 characters." in page
    assert 'id="f-override_reason-error"' in page and 'value="busy"' in page
    assert coach_of(app, patient.id) == coach.id
    stranger = factory.user("coach", factory.program("Elsewhere"))
    elsewhere = client.post(f"/admin/coaches/{stranger.id}/reassign", data={
        "csrf_token": token, "patient_ids": [patient.id], "coach_id": other_coach.id})
    assert elsewhere.status_code == 404 and coach_of(app, patient.id) == coach.id


def test_supervisor_records_a_session_with_follow_ups(app, panel_login, client, supervisor, coach):
    panel_login(supervisor.email, PASSWORD)
    page = client.get(f"/admin/coaches/{coach.id}").get_data(as_text=True)
    chicago = zoneinfo.ZoneInfo("America/Chicago")
    held = datetime.combine(utcnow().astimezone(chicago).date() - timedelta(days=3), time(10, 30), chicago)
    response = client.post(f"/admin/coaches/{coach.id}/supervision", data={
        "csrf_token": csrf_token(page), "held_at": held.strftime("%Y-%m-%dT%H:%M"), "duration_minutes": "45",
        "notes": "Talked about boundaries.", "follow_ups": "Book a day off\n\n  Shadow a night shift  \n"},
        follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Supervision session recorded." in page
    assert "Talked about boundaries." in page and "<li>Shadow a night shift</li>" in page
    with app.app_context():
        session = db.session.scalar(sa.select(SupervisionSession))
    assert session.follow_ups == ["Book a day off", "Shadow a night shift"] and session.duration_minutes == 45
    assert session.held_at == held  # the form's time is the programme's local time
    assert session.supervisor_id == supervisor.id
    (created,) = events(app, action="create", resource="supervision_session")
    assert created.resource_id == str(session.id)


def test_a_bad_session_is_refused_and_nothing_is_stored(app, panel_login, client, supervisor, coach):
    panel_login(supervisor.email, PASSWORD)
    token = csrf_token(client.get(f"/admin/coaches/{coach.id}").get_data(as_text=True))
    bad = client.post(f"/admin/coaches/{coach.id}/supervision", data={
        "csrf_token": token, "held_at": "yesterday", "duration_minutes": "600", "notes": "Kept as typed"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="f-held_at-error"' in page and 'id="f-duration_minutes-error"' in page
    assert "Kept as typed" in page
    long_line = client.post(f"/admin/coaches/{coach.id}/supervision", data={
        "csrf_token": token, "held_at": "2026-01-05T10:00", "duration_minutes": "30",
        "follow_ups": "Fine\n" + "x" * 501})
    page = long_line.get_data(as_text=True)
    assert long_line.status_code == 422 and "Item 2: Length must be between 1 and 500." in page
    future = client.post(f"/admin/coaches/{coach.id}/supervision", data={
        "csrf_token": token, "held_at": "2999-01-01T10:00", "duration_minutes": "30"})
    page = future.get_data(as_text=True)
    assert future.status_code == 422 and "Must not be in the future." in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SupervisionSession)) == 0
