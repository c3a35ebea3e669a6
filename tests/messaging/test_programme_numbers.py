"""Each programme texts from its own number, and what comes back to a number is that programme's alone.

The same phone can be a patient in two programmes (a patient seen at two hospitals,
a shared family phone). A reply, a STOP or a HELP sent to one programme's number
must never touch the other programme's patient, coach or audit trail.
"""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.database import db
from backend.messaging.dispatch import dispatch_due
from backend.messaging.models import Message
from backend.patients.models import Patient
from backend.programs.models import Program, ProgramNumber
from backend.tasks.models import Task
from tests.messaging.test_dispatch import load, queue, run

INBOUND_URL = "http://localhost/webhooks/twilio/sms"
SHARED_PHONE = "+17735550142"


@pytest.fixture
def two_programmes(factory, coach, program):
    """Programme 1 (the `coach` fixture's) and programme 2, each with a patient on the same phone."""
    north = factory.program("Northside Programme")
    north_coach = factory.user("coach", north)
    ours = factory.patient(coach, phone=SHARED_PHONE)
    theirs = factory.patient(north_coach, phone=SHARED_PHONE)
    return {"ours": (program, coach, ours), "theirs": (north, north_coach, theirs)}


def rows(app, model, *where):
    with app.app_context():
        return list(db.session.scalars(sa.select(model).where(*where)))


def test_a_reply_is_filed_in_the_programme_whose_number_it_was_sent_to(app, twilio, via_client, two_programmes):
    program, coach, ours = two_programmes["ours"]
    north, north_coach, theirs = two_programmes["theirs"]
    # The other programme's patient is the most recently updated one: the old lookup picked it.
    with app.app_context():
        db.session.get(Patient, theirs.id).preferred_name = "Touched"
        db.session.commit()

    status, _ = twilio.inbound(INBOUND_URL, SHARED_PHONE, program.phone, "running late today", post=via_client)

    assert status == 200
    (message,) = rows(app, Message)
    assert (message.program_id, message.patient_id) == (program.id, ours.id)
    (task,) = rows(app, Task)
    assert (task.program_id, task.assignee_id, task.patient_id) == (program.id, coach.id, ours.id)
    assert rows(app, AuditEvent, AuditEvent.program_id == north.id) == []


def test_the_same_phone_texting_the_other_programme_reaches_that_programme(app, twilio, via_client,
                                                                         two_programmes):
    north, north_coach, theirs = two_programmes["theirs"]
    twilio.inbound(INBOUND_URL, SHARED_PHONE, north.phone, "hi", post=via_client)
    (message,) = rows(app, Message)
    assert (message.program_id, message.patient_id) == (north.id, theirs.id)
    (task,) = rows(app, Task)
    assert task.assignee_id == north_coach.id


def test_stop_opts_out_only_the_patient_of_the_programme_it_was_sent_to(app, twilio, via_client, two_programmes):
    program, _, ours = two_programmes["ours"]
    north, _, theirs = two_programmes["theirs"]
    pending_theirs = queue(app, theirs, status="scheduled")

    twilio.inbound(INBOUND_URL, SHARED_PHONE, program.phone, "STOP", post=via_client)

    assert rows(app, Patient, Patient.id == ours.id)[0].sms_opted_out is True
    assert rows(app, Patient, Patient.id == theirs.id)[0].sms_opted_out is False
    assert load(app, pending_theirs).status == "scheduled"
    audited = rows(app, AuditEvent, AuditEvent.resource == "sms")
    assert [(e.program_id, e.patient_id) for e in audited] == [(program.id, ours.id)]

    twilio.inbound(INBOUND_URL, SHARED_PHONE, north.phone, "START", post=via_client)  # START there: nothing here
    assert rows(app, Patient, Patient.id == ours.id)[0].sms_opted_out is True


def test_help_names_the_programme_that_owns_the_number(twilio, via_client, two_programmes):
    north, _, _ = two_programmes["theirs"]
    _, body = twilio.inbound(INBOUND_URL, SHARED_PHONE, north.phone, "AYUDA", post=via_client)
    assert "Northside Programme" in body and "(312) 555-0199" in body


def test_a_number_no_programme_owns_is_refused_and_logged_without_the_sender(app, twilio, via_client,
                                                                            two_programmes, caplog):
    caplog.set_level(logging.INFO)
    status, body = twilio.inbound(INBOUND_URL, SHARED_PHONE, "+13125550177", "is anyone there", post=via_client)
    assert status == 404 and "<Response" in body and "Message" not in body
    assert rows(app, Message) == [] and rows(app, Task) == []
    assert "belongs to no programme" in caplog.text
    assert SHARED_PHONE not in caplog.text and "5550142" not in caplog.text and "is anyone there" not in caplog.text


def test_a_messaging_service_routes_to_the_programme_that_owns_it(app, twilio, via_client, two_programmes):
    north, _, theirs = two_programmes["theirs"]
    with app.app_context():
        db.session.get(Program, north.id).messaging_service_sid = "MG" + "1" * 32
        db.session.commit()
    # A number in the service's pool that we never registered: the service names the programme.
    twilio.inbound(INBOUND_URL, SHARED_PHONE, "+13125550178", "hello", post=via_client,
                   extra={"MessagingServiceSid": "MG" + "1" * 32})
    (message,) = rows(app, Message)
    assert (message.program_id, message.patient_id) == (north.id, theirs.id)


def test_each_programme_texts_from_its_own_sender(app, twilio, two_programmes):
    program, _, ours = two_programmes["ours"]
    north, _, theirs = two_programmes["theirs"]
    first, second = queue(app, ours, body="From the first"), queue(app, theirs, body="From the second")
    assert run(app, dispatch_due) == {"sent": 2}
    sent = {r.form["Body"]: r.form for r in twilio.requests if r.is_create}
    assert sent["From the first"]["From"] == program.phone and sent["From the second"]["From"] == north.phone
    assert load(app, first).from_number == program.phone and load(app, second).from_number == north.phone

    with app.app_context():
        db.session.get(Program, north.id).messaging_service_sid = "MG" + "2" * 32
        db.session.commit()
    queue(app, theirs, body="Through the service")
    run(app, dispatch_due)
    form = next(r.form for r in twilio.requests if r.is_create and r.form["Body"] == "Through the service")
    assert form["MessagingServiceSid"] == "MG" + "2" * 32 and "From" not in form


def test_a_programme_without_its_own_number_sends_from_the_deployment_default(app, twilio, coach, factory):
    patient = factory.patient(coach)
    with app.app_context():
        db.session.execute(sa.delete(ProgramNumber))
        db.session.commit()
    queue(app, patient)
    run(app, dispatch_due)
    (request,) = [r for r in twilio.requests if r.is_create]
    assert request.form["From"] == app.config["TWILIO_FROM_NUMBER"]
