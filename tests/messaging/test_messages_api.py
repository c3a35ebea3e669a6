"""Texting a patient from the app: consent, privacy, scheduling, plans, cancelling."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.messaging.models import Message

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def messages(app, **where):
    with app.app_context():
        stmt = sa.select(Message).order_by(Message.scheduled_for, Message.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(Message, key) == value)
        return list(db.session.scalars(stmt))


def test_template_message_is_queued_in_the_patients_language(coach_api, factory, coach):
    patient = factory.patient(coach, first_name="Lucía", language="es")
    response = coach_api.post(f"/api/v1/patients/{patient.id}/messages", json={"template_key": "check_in"})
    assert response.status_code == 202
    body = response.json
    assert body["status"] == "queued" and body["direction"] == "outbound"
    assert body["body"].startswith("Hola Lucía, soy Staff")
    assert "(312) 555-0100" in body["body"]


def test_no_consent_or_opt_out_is_refused_and_nothing_is_queued(app, coach_api, factory, coach):
    no_consent = factory.patient(coach, sms_consent=False)
    opted_out = factory.patient(coach, sms_opted_out=True)
    no_phone = factory.patient(coach, phone=None)
    for patient, code in ((no_consent, "sms_consent_missing"), (opted_out, "sms_opted_out"),
                          (no_phone, "phone_missing")):
        response = coach_api.post(f"/api/v1/patients/{patient.id}/messages", json={"body": "Hi there"})
        assert response.status_code == 409 and response.json["error"] == code
    assert messages(app) == []


def test_sensitive_free_text_needs_confirmation(app, coach_api, factory, coach):
    patient = factory.patient(coach)
    url = f"/api/v1/patients/{patient.id}/messages"
    refused = coach_api.post(url, json={"body": "Did you get to the methadone clinic?"})
    assert refused.status_code == 422 and refused.json["error"] == "sensitive_content"
    assert "methadone" in refused.json["errors"]["body"][0]
    assert messages(app) == []
    confirmed = coach_api.post(url, json={"body": "Did you get to the methadone clinic?", "confirm_sensitive": True})
    assert confirmed.status_code == 202


def test_body_or_template_but_not_both(coach_api, factory, coach):
    url = f"/api/v1/patients/{factory.patient(coach).id}/messages"
    assert coach_api.post(url, json={}).status_code == 422
    assert coach_api.post(url, json={"body": "Hi", "template_key": "check_in"}).status_code == 422
    assert coach_api.post(url, json={"template_key": "nope"}).status_code == 422


def test_scheduled_message_can_be_cancelled_once(coach_api, factory, coach):
    patient = factory.patient(coach)
    later = (utcnow() + timedelta(days=1)).isoformat()
    created = coach_api.post(f"/api/v1/patients/{patient.id}/messages",
                             json={"body": "See you tomorrow", "send_at": later})
    assert created.json["status"] == "scheduled"
    cancelled = coach_api.delete(f"/api/v1/messages/{created.json['id']}")
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    again = coach_api.delete(f"/api/v1/messages/{created.json['id']}")
    assert again.status_code == 409 and again.json["error"] == "not_cancellable"


def test_another_coachs_message_is_not_found(login, factory, coach, other_coach):
    theirs = factory.patient(other_coach)
    created = login(other_coach).post(f"/api/v1/patients/{theirs.id}/messages", json={"body": "Hello"}).json
    response = login(coach).delete(f"/api/v1/messages/{created['id']}")
    assert response.status_code == 404


def test_after_ed_visit_plan_schedules_five_texts_at_ten_local(app, coach_api, factory, coach):
    patient = factory.patient(coach, timezone="America/Chicago")
    anchor = datetime(2030, 3, 5, 23, 30, tzinfo=CHICAGO)  # discharged late on 5 March, Chicago time
    response = coach_api.post(f"/api/v1/patients/{patient.id}/follow-ups",
                              json={"plan_key": "after_ed_visit", "anchor_at": anchor.isoformat()})
    assert response.status_code == 201
    due = [datetime.fromisoformat(m["scheduled_for"]).astimezone(CHICAGO) for m in response.json]
    assert [(d.month, d.day, d.hour) for d in due] == [(3, 6, 10), (3, 8, 10), (3, 12, 10), (3, 19, 10), (4, 4, 10)]
    assert {m["status"] for m in response.json} == {"scheduled"}


def test_new_anchor_reschedules_and_old_texts_are_cancelled(app, coach_api, factory, coach):
    patient = factory.patient(coach)
    url = f"/api/v1/patients/{patient.id}/follow-ups"
    coach_api.post(url, json={"plan_key": "after_ed_visit", "anchor_at": "2030-03-05T15:00:00Z"})
    coach_api.post(url, json={"plan_key": "after_ed_visit", "anchor_at": "2030-03-09T15:00:00Z"})
    rows = messages(app, patient_id=patient.id)
    assert sum(1 for m in rows if m.status == "cancelled" and m.reason == "rescheduled") == 5
    assert sum(1 for m in rows if m.status == "scheduled") == 5


def test_closing_the_patient_cancels_pending_texts_with_a_reason(app, coach_api, factory, coach):
    patient = factory.patient(coach)
    coach_api.post(f"/api/v1/patients/{patient.id}/follow-ups",
                   json={"plan_key": "after_ed_visit", "anchor_at": "2030-03-05T15:00:00Z"})
    coach_api.patch(f"/api/v1/patients/{patient.id}", json={"status": "closed"})
    listed = coach_api.get(f"/api/v1/patients/{patient.id}/messages").json
    assert {(m["status"], m["reason"]) for m in listed} == {("cancelled", "patient_closed")}


def test_messages_show_in_the_timeline(coach_api, factory, coach):
    patient = factory.patient(coach)
    coach_api.post(f"/api/v1/patients/{patient.id}/messages", json={"body": "Hello from the ED"})
    # Queued, not yet sent: it is upcoming until it goes out.
    assert coach_api.get(f"/api/v1/patients/{patient.id}/timeline?kind=message").json == []
    entries = coach_api.get(f"/api/v1/patients/{patient.id}/timeline?kind=message&when=upcoming").json
    assert [e["data"]["body"] for e in entries] == ["Hello from the ED"]


def test_admin_sets_quiet_hours_and_a_safe_display_name(admin_api, coach_api):
    assert coach_api.get("/api/v1/program/messaging-policy").json["quiet_start_hour"] == 21
    changed = admin_api.patch("/api/v1/program/messaging-policy", json={"quiet_start_hour": 20, "quiet_end_hour": 9})
    assert changed.status_code == 200 and changed.json["quiet_start_hour"] == 20
    unsafe = admin_api.patch("/api/v1/program/messaging-policy", json={"sms_display_name": "Lakeside Rehab"})
    assert unsafe.status_code == 422 and "sms_display_name" in unsafe.json["errors"]
    assert admin_api.patch("/api/v1/program/messaging-policy", json={"quiet_start_hour": 25}).status_code == 422
    assert coach_api.patch("/api/v1/program/messaging-policy", json={"quiet_start_hour": 22}).status_code == 403
    assert coach_api.get("/api/v1/program/messaging-policy").json["quiet_end_hour"] == 9
    # One hour moved onto the stored other would switch quiet hours off: refused, nothing changed.
    same = admin_api.patch("/api/v1/program/messaging-policy", json={"quiet_start_hour": 9})
    assert same.status_code == 422 and "quiet_start_hour" in same.json["errors"]
    assert coach_api.get("/api/v1/program/messaging-policy").json["quiet_start_hour"] == 20
