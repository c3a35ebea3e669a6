"""What the timeline shows first: what happened (newest first), texts still to go out on request, cancelled
texts hidden unless asked for, opt-out and opt-in and handoff status changes as events; reminders rebuilt only
when the appointment itself changes."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.messaging.models import Message, MessageDirection, MessageStatus
from tests.consent.test_consent import consent_body, make_partner


def text(app, patient, status, when, body):
    with app.app_context():
        db.session.add(Message(program_id=patient.program_id, patient_id=patient.id, body=body, status=status,
                               direction=MessageDirection.OUTBOUND, scheduled_for=when))
        db.session.commit()


def test_what_happened_first_and_upcoming_texts_apart(app, coach_api, factory, coach):
    patient = factory.patient(coach)
    now = utcnow()
    text(app, patient, MessageStatus.DELIVERED, now - timedelta(days=1), "sent yesterday")
    text(app, patient, MessageStatus.SCHEDULED, now + timedelta(days=3), "in three days")
    text(app, patient, MessageStatus.SCHEDULED, now + timedelta(days=1), "tomorrow")
    text(app, patient, MessageStatus.CANCELLED, now + timedelta(days=2), "superseded reminder")
    url = f"/api/v1/patients/{patient.id}/timeline?kind=message"
    assert [e["data"]["body"] for e in coach_api.get(url).json] == ["sent yesterday"]
    assert [e["data"]["body"] for e in coach_api.get(url + "&when=upcoming").json] == ["tomorrow", "in three days"]
    assert [e["data"]["body"] for e in coach_api.get(url + "&include_cancelled=true").json] == [
        "superseded reminder", "sent yesterday"]
    assert coach_api.get(url + "&when=someday").status_code == 422


def test_opt_out_and_opt_in_are_events_on_the_timeline(app, coach_api, factory, coach, client):
    from backend.messaging import service as messaging
    from backend.patients.models import Patient

    patient = factory.patient(coach)
    with app.app_context():
        row = db.session.get(Patient, patient.id)
        messaging.opt_out([row], via="keyword")
        messaging.opt_out([row], via="keyword")  # a second STOP changes nothing, so no second event
        messaging.opt_in([row])
        db.session.commit()
    events = coach_api.get(f"/api/v1/patients/{patient.id}/timeline?kind=patient_event").json
    assert [e["data"]["kind"] for e in events] == ["sms_opted_in", "sms_opted_out"]


def test_handoff_status_changes_are_events_and_leave_the_reminders_alone(app, coach_api, supervisor_api, factory,
                                                                           coach):
    org_id, service_id = make_partner(supervisor_api)
    patient = factory.patient(coach)
    coach_api.post(f"/api/v1/patients/{patient.id}/consents", json=consent_body(org_id))
    appointment = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    handoff = coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id,
                                                       "kind": "warm", "appointment_at": appointment.isoformat()}).json

    def reminders():
        with app.app_context():
            return db.session.execute(sa.select(Message.status, sa.func.count()).where(
                Message.template_key == "appointment_reminder").group_by(Message.status)).all()

    before = reminders()
    assert coach_api.patch(f"/api/v1/handoffs/{handoff['id']}", json={"status": "accepted"}).status_code == 200
    assert reminders() == before  # nothing cancelled and recreated for a status change
    events = coach_api.get(f"/api/v1/patients/{patient.id}/timeline?kind=patient_event").json
    assert events[0]["data"]["kind"] == "handoff_status_changed"
    assert (events[0]["data"]["details"]["from"], events[0]["data"]["details"]["to"]) == ("requested", "accepted")
    later = (appointment + timedelta(days=1)).isoformat()
    coach_api.patch(f"/api/v1/handoffs/{handoff['id']}", json={"appointment_at": later})
    assert dict(reminders()).get("cancelled") == dict(before).get("scheduled")  # a new time: rebuilt once
