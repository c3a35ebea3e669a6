"""Texts from unknown numbers in the panel: read (audited), filed with a patient, put aside."""

from __future__ import annotations

import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.database import db, utcnow
from backend.messaging.models import Message, MessageDirection, MessageStatus
from tests.admin.browser import accessible, at_width, browser_only, log_in, no_overflow, screenshot
from tests.admin.conftest import csrf_token
from tests.factories import PASSWORD


def unknown_text(app, program_id, number, body):
    with app.app_context():
        message = Message(program_id=program_id, direction=MessageDirection.INBOUND, from_number=number,
                          to_number="+13125550100", body=body, status=MessageStatus.RECEIVED,
                          scheduled_for=utcnow(), sent_at=utcnow())
        db.session.add(message)
        db.session.commit()
        return message.id


def test_supervisor_files_one_text_and_puts_another_aside(app, panel_login, client, supervisor, coach, factory):
    patient = factory.patient(coach)
    ana = unknown_text(app, supervisor.program_id, "+16305550192", "this is Ana from my new phone")
    spam = unknown_text(app, supervisor.program_id, "+16305550193", "WIN A PRIZE")
    panel_login(supervisor.email, PASSWORD)
    page = client.get("/admin/unknown-texts").get_data(as_text=True)
    assert "+16305550192" in page and "this is Ana from my new phone" in page and "WIN A PRIZE" in page
    token = csrf_token(page)
    refused = client.post(f"/admin/unknown-texts/{ana}/assign", data={"patient_id": "abc", "csrf_token": token})
    assert refused.status_code == 422 and "Not a valid integer." in refused.get_data(as_text=True)
    filed = client.post(f"/admin/unknown-texts/{ana}/assign", data={"patient_id": patient.id, "csrf_token": token})
    assert filed.status_code == 302
    client.post(f"/admin/unknown-texts/{spam}/dismiss", data={"csrf_token": token})
    page = client.get("/admin/unknown-texts").get_data(as_text=True)
    assert "No texts from unknown numbers are waiting." in page
    with app.app_context():
        assert db.session.get(Message, ana).patient_id == patient.id
        assert db.session.get(Message, spam).dismissed_by_id == supervisor.id
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.resource == "unknown_text")).all()
    assert {"list", "assign", "dismiss"} <= set(actions)


def test_a_patient_of_another_programme_cannot_be_given_the_text(app, panel_login, client, supervisor, factory):
    elsewhere = factory.program("Other Hospital")
    foreign = factory.patient(factory.user("coach", elsewhere))
    text = unknown_text(app, supervisor.program_id, "+16305550194", "hi")
    panel_login(supervisor.email, PASSWORD)
    token = csrf_token(client.get("/admin/unknown-texts").get_data(as_text=True))
    response = client.post(f"/admin/unknown-texts/{text}/assign", data={"patient_id": foreign.id, "csrf_token": token},
                           follow_redirects=True)
    assert "The patient was not found." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Message, text).patient_id is None


@browser_only[0]
@browser_only[1]
def test_the_page_in_the_browser(app, page, live_server, supervisor, coach, factory):
    patient = factory.patient(coach)
    unknown_text(app, supervisor.program_id, "+16305550195", "new phone, it's me")
    log_in(page, live_server, supervisor.email)
    page.click("nav >> text=Unknown texts")
    page.wait_for_url(f"{live_server}/admin/unknown-texts")
    accessible(page)
    screenshot(page, "inbox-wide")
    at_width(page, 820)
    no_overflow(page)
    accessible(page)
    page.fill("input[name=patient_id]", str(patient.id))
    page.click("button:has-text('File')")
    page.wait_for_url(f"{live_server}/admin/unknown-texts")
    assert "filed with the patient" in page.get_by_role("alert").inner_text()
