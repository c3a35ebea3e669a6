"""The outbox worker with the real twilio SDK against the fake Twilio server."""

from __future__ import annotations

import inspect
import zoneinfo
from datetime import datetime, timedelta

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.jobs.runner import run_unit
from backend.messaging.dispatch import claim_due, dispatch_due
from backend.messaging.models import Message, MessageDirection, MessageStatus
from backend.patients.models import Patient
from backend.tasks.models import Task, TaskKind
from tests.messaging.conftest import FROM_NUMBER

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def queue(app, patient, body="See you soon", **kw) -> int:
    with app.app_context():
        message = Message(program_id=patient.program_id, patient_id=patient.id, direction=MessageDirection.OUTBOUND,
                          body=body, scheduled_for=kw.pop("scheduled_for", utcnow() - timedelta(seconds=1)),
                          status=kw.pop("status", MessageStatus.QUEUED), **kw)
        db.session.add(message)
        db.session.commit()
        return message.id


def load(app, message_id) -> Message:
    with app.app_context():
        return db.session.get(Message, message_id)


def run(app, fn, *args, **kwargs):
    """Call `fn` as an entry point would: one unit of work, handed `Steps` when it commits in steps."""
    with app.app_context():
        if "steps" in inspect.signature(fn).parameters:
            return run_unit(lambda steps: fn(steps, *args, **kwargs), steps=True)
        return run_unit(lambda: fn(*args, **kwargs))


def test_due_message_is_sent_once_with_the_sdks_request(app, twilio, factory, coach):
    patient = factory.patient(coach)
    mid = queue(app, patient, body="Thinking of you today")
    assert run(app, dispatch_due) == {"sent": 1}
    (request,) = twilio.requests
    assert request.is_create and request.form["To"] == patient.phone and request.form["From"] == FROM_NUMBER
    assert request.form["Body"] == "Thinking of you today"
    assert request.form["StatusCallback"] == f"http://localhost/webhooks/twilio/sms/status?message={mid}&attempt=1"
    message = load(app, mid)
    assert message.status == "sent" and message.twilio_sid in twilio.messages and message.attempts == 1
    assert run(app, dispatch_due) == {}
    assert len(twilio.requests) == 1


def test_a_frozen_clock_at_2330_chicago_defers_to_0800(app, twilio, factory, coach):
    patient = factory.patient(coach, timezone="America/Chicago")
    late = datetime(2030, 1, 15, 23, 30, tzinfo=CHICAGO)
    mid = queue(app, patient, scheduled_for=late - timedelta(minutes=1))
    assert run(app, claim_due, 10, now=late) == []
    message = load(app, mid)
    assert message.status == "queued" and message.reason == "quiet_hours"
    assert message.scheduled_for.astimezone(CHICAGO) == datetime(2030, 1, 16, 8, 0, tzinfo=CHICAGO)
    assert twilio.requests == []


def test_quiet_hours_use_the_patients_own_zone(app, twilio, factory, coach):
    patient = factory.patient(coach, timezone="America/Los_Angeles")
    at = datetime(2030, 1, 15, 21, 30, tzinfo=zoneinfo.ZoneInfo("America/Los_Angeles"))
    queue(app, patient, scheduled_for=at - timedelta(minutes=1))
    assert run(app, claim_due, 10, now=at) == []
    assert len(run(app, claim_due, 10, now=at.replace(hour=8, minute=0) + timedelta(days=1))) == 1


def test_opted_out_patient_never_reaches_twilio(app, twilio, factory, coach):
    patient = factory.patient(coach, sms_opted_out=True)
    mid = queue(app, patient)
    run(app, dispatch_due)
    assert twilio.requests == [] and load(app, mid).status == "cancelled"


def test_21610_opts_the_patient_out_and_cancels_pending(app, twilio, factory, coach):
    patient = factory.patient(coach)
    twilio.respond_for(patient.phone, code=21610)
    first = queue(app, patient, body="One")
    later = queue(app, patient, body="Two", status=MessageStatus.SCHEDULED,
                  scheduled_for=utcnow() + timedelta(days=2))
    run(app, dispatch_due)
    assert load(app, first).status == "failed" and load(app, first).error_code == 21610
    assert load(app, later).status == "cancelled" and load(app, later).reason == "sms_opted_out"
    with app.app_context():
        assert db.session.get(Patient, patient.id).sms_opted_out is True


def test_a_429_with_a_longer_retry_after_waits_as_long_as_twilio_asks(app, twilio, factory, coach):
    patient = factory.patient(coach)
    twilio.respond_for(patient.phone, code=20429, times=1, retry_after=600)  # in the header, as Twilio sends it
    mid = queue(app, patient)
    run(app, dispatch_due)
    message = load(app, mid)
    assert message.status == "queued" and message.reason == "retry 1 after 429"
    assert timedelta(minutes=9) < message.scheduled_for - utcnow() <= timedelta(minutes=10)


def test_429_then_success_retries_after_a_minute(app, twilio, factory, coach):
    patient = factory.patient(coach)
    twilio.respond_for(patient.phone, code=20429, times=1)
    mid = queue(app, patient)
    run(app, dispatch_due)
    message = load(app, mid)
    assert message.status == "queued" and message.error_code == 20429
    assert timedelta(seconds=50) < message.scheduled_for - utcnow() <= timedelta(minutes=1)
    assert run(app, claim_due, 10) == []  # not yet
    with app.app_context():  # the minute has passed
        db.session.execute(sa.update(Message).where(Message.id == mid)
                           .values(scheduled_for=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    run(app, dispatch_due)
    assert load(app, mid).status == "sent" and load(app, mid).attempts == 2
    assert len(twilio.requests_to(patient.phone)) == 2


def test_server_errors_give_up_after_three_retries(app, twilio, factory, coach):
    patient = factory.patient(coach)
    twilio.respond_for(patient.phone, status=500)
    mid = queue(app, patient)
    for _ in range(4):
        with app.app_context():
            db.session.execute(sa.update(Message).where(Message.status == MessageStatus.QUEUED)
                               .values(scheduled_for=utcnow() - timedelta(seconds=1)))
            db.session.commit()
        run(app, dispatch_due)
    message = load(app, mid)
    assert message.status == "failed" and message.attempts == 4 and message.reason == "gave up after retries"


def test_invalid_number_flags_the_phone_and_tasks_the_coach(app, twilio, factory, coach):
    patient = factory.patient(coach)
    twilio.respond_for(patient.phone, code=21211)
    mid = queue(app, patient)
    run(app, dispatch_due)
    assert load(app, mid).status == "failed" and load(app, mid).reason == "invalid_phone"
    with app.app_context():
        assert db.session.get(Patient, patient.id).phone_flagged_at is not None
        task = db.session.scalar(sa.select(Task).where(Task.kind == TaskKind.CHECK_PHONE_NUMBER))
    assert task.assignee_id == coach.id


def test_expired_messages_are_never_sent(app, twilio, factory, coach):
    patient = factory.patient(coach)
    mid = queue(app, patient, expires_at=utcnow() - timedelta(minutes=1), plan_key="after_ed_visit")
    run(app, dispatch_due)
    assert load(app, mid).status == "expired" and twilio.requests == []


def test_loop_guard_blocks_the_fourth_identical_text_in_an_hour(app, twilio, factory, coach):
    patient = factory.patient(coach)
    ids = [queue(app, patient, body="Are you there?") for _ in range(4)]
    for _ in range(4):
        run(app, dispatch_due, batch=1)
    assert [load(app, i).status for i in ids] == ["sent", "sent", "sent", "blocked"]
    assert load(app, ids[3]).reason.startswith("loop_guard")
    assert len(twilio.requests) == 3


def test_console_gateway_marks_sent_without_an_account(database_url, factory, coach, caplog):
    import logging

    from backend import create_app
    from tests.conftest import app_config
    from tests.factories import Factory

    console_app = create_app(app_config(database_url))
    patient = Factory(console_app).patient(coach)
    caplog.set_level(logging.INFO, logger="bridgeline.sms")
    mid = queue(console_app, patient, body="Hello there")
    assert run(console_app, dispatch_due) == {"sent": 1}
    assert load(console_app, mid).twilio_sid.startswith("SMconsole")
    assert patient.phone not in caplog.text and "Hello there" not in caplog.text
