"""The coach page, waiting patients and overdue follow-ups in a real browser (Debian's chromium)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.patients.models import Patient
from backend.tasks.models import Task
from backend.wellness.models import SupervisionSession
from tests.admin.browser import NARROW, WIDE, accessible, at_width, browser_only, log_in, no_overflow, screenshot
from tests.admin.test_coaches import snapshots
from tests.conftest import run_named_job

pytestmark = browser_only


def checked_at_both_widths(page, name: str) -> None:
    """axe-core at 1440 and 820 px, nothing wider than the window at 820, a screenshot at each."""
    at_width(page, WIDE)
    accessible(page)
    screenshot(page, f"{name}-wide")
    at_width(page, NARROW)
    accessible(page)
    no_overflow(page)
    screenshot(page, f"{name}-narrow")
    at_width(page, WIDE)


def test_a_waiting_patient_is_assigned_from_the_queue(app, page, live_server, supervisor, coach, other_coach,
                                                      factory):
    waiting = factory.patient(None, program_id=coach.program_id, first_name="Lucia", last_name="Mendez",
                              created_at=utcnow() - timedelta(days=2))
    factory.patient(None, program_id=coach.program_id, first_name="Sam", last_name="Reyes")
    factory.patients(other_coach, 25)
    log_in(page, live_server, supervisor.email)
    page.click("nav >> text=Waiting")
    page.wait_for_url(f"{live_server}/admin/waiting")
    assert page.get_by_role("heading", level=1).inner_text() == "Waiting for a coach"
    checked_at_both_widths(page, "queues-waiting")

    row = page.get_by_test_id(f"waiting-{waiting.id}")
    row.get_by_label("Coach for Lucia Mendez").select_option(str(other_coach.id))
    row.get_by_role("button", name="Assign Lucia Mendez").click()
    assert "This coach's caseload is full." in page.get_by_role("alert").first.inner_text()
    row = page.get_by_test_id(f"waiting-{waiting.id}")
    assert row.get_by_label("Coach for Lucia Mendez").input_value() == str(other_coach.id)
    accessible(page)  # the refused row, its error shown by its field

    row.get_by_label("Coach for Lucia Mendez").select_option(str(coach.id))
    row.get_by_role("button", name="Assign Lucia Mendez").click()
    page.wait_for_url(f"{live_server}/admin/waiting")
    assert page.get_by_role("alert").inner_text() == f"Lucia Mendez is now with {coach.full_name}."
    assert page.get_by_test_id(f"waiting-{waiting.id}").count() == 0
    with app.app_context():
        assert db.session.get(Patient, waiting.id).coach_id == coach.id


def test_patients_move_on_the_coach_page_over_the_cap_only_with_a_reason(app, page, live_server, supervisor, coach,
                                                                       other_coach, factory, login):
    first = factory.patient(coach, first_name="Ana", last_name="Ruiz", acuity="high")
    second = factory.patient(coach, first_name="Ben", last_name="Okoro")
    factory.patient(coach, first_name="Cal", last_name="Stays", acuity="low")
    factory.patients(other_coach, 24)
    factory.task(coach, first, title="Confirm intake", due_at=utcnow() - timedelta(hours=6))
    snapshots(app, coach, *[(d, 2 + d % 4) for d in range(0, 85, 3)])
    login(coach).post("/api/v1/me/wellness", json={"stress": 4, "energy": 2})
    log_in(page, live_server, supervisor.email)
    page.goto(f"{live_server}/admin/coaches/{coach.id}")
    assert page.get_by_role("heading", level=1).inner_text() == coach.full_name
    assert page.get_by_test_id("load-chart").is_visible() and page.get_by_test_id("wellness-chart").is_visible()
    checked_at_both_widths(page, "coaches-coach")
    page.get_by_role("link", name="Last 90 days").click()
    page.wait_for_url(f"{live_server}/admin/coaches/{coach.id}?days=90")
    assert page.get_by_test_id("history-table").locator("tbody tr").count() == 29

    page.get_by_label("Move Ana Ruiz").check()
    page.get_by_label("Move Ben Okoro").check()
    page.get_by_label("To coach").select_option(str(other_coach.id))
    page.get_by_role("button", name="Move selected patients").click()
    assert "Nothing was moved" in page.get_by_role("alert").first.inner_text()
    assert "would take them over it" in page.locator("#f-patient_ids-error").inner_text()
    assert page.get_by_label("Move Ana Ruiz").is_checked() and page.get_by_label("Move Ben Okoro").is_checked()
    assert not page.get_by_label("Move Cal Stays").is_checked()
    accessible(page)

    page.get_by_label("Reason to go over the cap (only if needed)").fill("Covering while Sam is on leave")
    page.get_by_role("button", name="Move selected patients").click()
    page.wait_for_url(f"{live_server}/admin/coaches/{coach.id}")
    assert page.get_by_role("alert").inner_text() == "Moved 2 patients. 1 over the cap, with your reason on record."
    assert page.get_by_test_id(f"patient-{first.id}").count() == 0
    with app.app_context():
        owners = set(db.session.scalars(sa.select(Patient.coach_id).where(Patient.id.in_([first.id, second.id]))))
    assert owners == {other_coach.id}


def test_a_supervision_session_is_recorded_on_the_coach_page(app, page, live_server, supervisor, coach):
    log_in(page, live_server, supervisor.email)
    page.goto(f"{live_server}/admin/coaches/{coach.id}")
    page.get_by_label("Minutes").fill("0")
    page.get_by_label("Notes").fill("Reviewed a hard week on nights.")
    page.get_by_role("button", name="Record session").click()
    assert "Must be greater than or equal to 1" in page.locator("#f-duration_minutes-error").inner_text()
    assert page.get_by_label("Notes").input_value() == "Reviewed a hard week on nights."
    accessible(page)
    page.get_by_label("Minutes").fill("50")
    page.get_by_label("Follow-ups").fill("Two days off next week\nCheck in on Friday")
    page.get_by_role("button", name="Record session").click()
    page.wait_for_url(f"{live_server}/admin/coaches/{coach.id}#supervision")
    assert page.get_by_role("alert").inner_text() == "Supervision session recorded."
    assert page.get_by_text("Reviewed a hard week on nights.").is_visible()
    assert page.get_by_text("Check in on Friday").is_visible()
    with app.app_context():
        assert db.session.scalar(sa.select(SupervisionSession.duration_minutes)) == 50


def test_an_overdue_task_is_given_to_another_coach(app, page, live_server, supervisor, coach, other_coach, factory):
    patient = factory.patient(coach, first_name="Rosa", last_name="Diaz")
    escalated = factory.task(coach, patient, title="Call back", due_at=utcnow() - timedelta(hours=30))
    other = factory.task(other_coach, title="Confirm appointment", due_at=utcnow() - timedelta(hours=3))
    assert run_named_job(app, "escalate_overdue_tasks") == 1
    log_in(page, live_server, supervisor.email)
    page.click("nav >> text=Overdue")
    page.wait_for_url(f"{live_server}/admin/overdue")
    assert page.get_by_test_id("escalated-to-me").get_by_test_id(f"task-{escalated.id}").is_visible()
    checked_at_both_widths(page, "queues-overdue")

    row = page.get_by_test_id(f"task-{other.id}")
    row.get_by_label("Coach for Confirm appointment").select_option(str(coach.id))
    row.get_by_role("button", name="Reassign Confirm appointment").click()
    page.wait_for_url(f"{live_server}/admin/overdue")
    assert page.get_by_role("alert").inner_text() == f"“Confirm appointment” is now {coach.full_name}'s."
    assert page.get_by_test_id(f"group-{coach.id}").get_by_test_id(f"task-{other.id}").is_visible()
    with app.app_context():
        assert db.session.get(Task, other.id).assignee_id == coach.id
