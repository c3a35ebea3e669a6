"""Patients and the warm line in a real browser (Debian's chromium): search and open a patient; watch a live
call and close the line; every page checked with axe-core at 1440 and 820 px, with screenshots."""

from __future__ import annotations

from datetime import timedelta

from backend.database import db, utcnow
from backend.voice.models import CallLeg, CallOutcome, CallStatus, LegOutcome, LineState
from tests.admin.browser import NARROW, WIDE, accessible, at_width, browser_only, log_in, no_overflow, screenshot
from tests.admin.test_warm_line_page import COACH_PHONES, add_call
from tests.handoffs.test_handoffs import setup_handoff

pytestmark = browser_only


def check_both_widths(page, name: str) -> None:
    """axe-core with nothing serious at 1440 and at 820 px, no sideways scrolling, a screenshot of each."""
    accessible(page)
    screenshot(page, f"{name}-wide")
    at_width(page, NARROW)
    no_overflow(page)
    accessible(page)
    screenshot(page, f"{name}-narrow")
    at_width(page, WIDE)


def test_supervisor_searches_patients_and_opens_one(page, live_server, supervisor, coach, other_coach, factory,
                                                     coach_api, supervisor_api):
    patient, _, service_id = setup_handoff(coach_api, supervisor_api, factory, coach, first_name="Lucía",
                                           last_name="García", preferred_name="Lu", status="engaged")
    coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id, "kind": "warm"})
    factory.contact(patient, coach, note="Met in the emergency department", duration_minutes=25)
    factory.patient(other_coach, first_name="Mateo", last_name="García", status="active")
    for n in range(8):
        factory.patient(coach, first_name=f"Person{n}", last_name="Example")
    log_in(page, live_server, supervisor.email)

    page.click("nav >> text=Patients")
    page.wait_for_url(f"{live_server}/admin/patients")
    assert page.get_by_role("heading", level=1).inner_text() == "Patients"
    assert page.get_by_role("heading", level=2).inner_text() == "All patients (10)"
    check_both_widths(page, "patients-search")

    page.get_by_label("Name or phone").fill("garc")
    page.get_by_label("Coach").select_option(str(coach.id))
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(f"{live_server}/admin/patients?q=garc&status=&coach_id={coach.id}")
    assert page.get_by_role("heading", level=2).inner_text() == "1 patient found"
    assert page.get_by_label("Name or phone").input_value() == "garc"
    check_both_widths(page, "patients-results")

    page.get_by_role("link", name="García, Lucía").click()
    page.wait_for_url(f"{live_server}/admin/patients/{patient.id}")
    assert page.get_by_role("heading", level=1).inner_text() == "Lucía García"
    assert page.get_by_test_id("status").inner_text() == "engaged"
    assert page.get_by_test_id("coach").inner_text() == coach.full_name
    assert page.get_by_text("Met in the emergency department").is_visible()
    assert "Arrange treatment and follow up on attendance" in page.locator("[data-testid^=consent-]").inner_text()
    assert page.get_by_text("Warm handoff to Northside Health, Northside Intake").is_visible()
    check_both_widths(page, "patients-patient")
    page.get_by_role("link", name="Patients", exact=True).first.click()
    page.wait_for_url(f"{live_server}/admin/patients")


def test_the_warm_line_shows_a_live_call_refreshes_in_place_and_the_override_closes_the_line(
        app, page, live_server, supervisor, program, factory):
    coaches = [factory.user("coach", program, full_name=name, on_shift=True, phone=COACH_PHONES[i])
               for i, name in enumerate(("Ana Rivera", "Ben Okafor", "Cleo Park"))]
    patient = factory.patient(coaches[0])
    now = utcnow()
    for days in range(7):  # a week of calls for the figures and the chart
        for n in range(days % 3 + 1):
            add_call(app, program.id, now - timedelta(days=days, minutes=30 + n),
                     legs=[(coaches[n % 3].id, LegOutcome.ACCEPTED)])
        if days % 2:
            add_call(app, program.id, now - timedelta(days=days, minutes=10), CallOutcome.MISSED,
                     number=f"+163055501{days:02d}", legs=[(coaches[2].id, LegOutcome.NO_ANSWER)])
    task = factory.task(coaches[1], title="Call back the caller ending 0142", due_at=now - timedelta(minutes=5))
    add_call(app, program.id, now - timedelta(minutes=40), CallOutcome.VOICEMAIL, number="+16305550142",
             callback_task_id=task.id, voicemail_sid="RE" + "2" * 32)
    talking = add_call(app, program.id, now - timedelta(minutes=3), None, status=CallStatus.IN_PROGRESS,
                       patient_id=patient.id, coach_id=coaches[0].id, number=patient.phone,
                       legs=[(coaches[0].id, LegOutcome.ACCEPTED)])
    with app.app_context():
        db.session.add(LineState(user_id=coaches[0].id, program_id=program.id, busy_call_id=talking))
        db.session.add(LineState(user_id=coaches[2].id, program_id=program.id, taking_calls=False))
        db.session.commit()
    log_in(page, live_server, supervisor.email)

    page.click("nav >> text=Warm line")
    page.wait_for_url(f"{live_server}/admin/warm-line")
    assert page.get_by_role("heading", level=1).inner_text() == "Warm line"
    live_call = page.get_by_test_id(f"live-call-{talking}")
    assert "in progress" in live_call.inner_text() and "Ana Rivera" in live_call.inner_text()
    assert page.get_by_test_id(f"line-{coaches[0].id}").get_by_text("On a call").is_visible()
    assert page.get_by_test_id(f"line-{coaches[2].id}").get_by_text("Away").is_visible()
    assert page.get_by_test_id("week-table").is_visible() and page.locator("svg[role=img]").is_visible()
    assert page.get_by_test_id("callback-state").first.inner_text() == "overdue"
    assert page.get_by_test_id("line-status").inner_text() == "Open" or "closed" in page.content().lower()
    check_both_widths(page, "warm-line")

    # A new caller rings: the live section shows it without a reload (htmx, every 5 seconds).
    with app.app_context():
        ringing = add_call(app, program.id, utcnow(), None, status=CallStatus.RINGING)
        db.session.add(CallLeg(call_id=ringing, kind="coach", position=1, user_id=coaches[1].id,
                               number=COACH_PHONES[1], rung_at=utcnow()))
        db.session.commit()
    page.get_by_test_id(f"live-call-{ringing}").wait_for(timeout=12_000)
    assert page.get_by_test_id(f"line-{coaches[1].id}").get_by_text("Ringing").is_visible()
    assert page.url == f"{live_server}/admin/warm-line"

    page.get_by_label("The line", exact=True).select_option("closed")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{live_server}/admin/warm-line")
    assert page.get_by_test_id("line-status").inner_text() == "Closed"
    assert page.get_by_role("alert").inner_text() == "The line is closed now until you clear it."
    check_both_widths(page, "warm-line-closed")
