"""Twilio webhooks: signatures, keywords, replies for the coach, delivery receipts."""

from __future__ import annotations

import re

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.messaging.dispatch import claim_due, dispatch_due, record_sent, send_claimed
from backend.messaging.models import Message, MessageDirection, MessageStatus
from backend.patients.models import Patient
from backend.tasks.models import Task
from tests.messaging.conftest import FROM_NUMBER
from tests.messaging.test_dispatch import load, queue, run

INBOUND_URL = "http://localhost/webhooks/twilio/sms"
STATUS_URL = "http://localhost/webhooks/twilio/sms/status"


def patient_row(app, patient_id) -> Patient:
    with app.app_context():
        return db.session.get(Patient, patient_id)


def all_messages(app) -> list[Message]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Message)))


def test_forged_or_missing_signature_is_403_and_records_nothing(app, client, twilio, via_client, factory, coach):
    patient = factory.patient(coach)
    status, body = twilio.inbound(INBOUND_URL, patient.phone, FROM_NUMBER, "hello", auth_token="wrong-token",
                                  post=via_client)
    assert status == 403 and "<Response" in body and "<Message>" not in body
    assert client.post("/webhooks/twilio/sms", data={"From": patient.phone, "Body": "hi"}).status_code == 403
    assert all_messages(app) == []


def test_every_webhook_route_refuses_an_unsigned_request(app, client):
    routes = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/webhooks/")]
    assert len(routes) >= 10  # texts and calls
    for rule in routes:
        url = re.sub(r"<[^>]+>", "1", rule.rule)
        response = client.post(url, data={"From": "+17735550101", "To": "+13125550100", "Body": "hi"})
        assert response.status_code == 403, rule.rule
        assert response.mimetype == "text/xml" and "<Response" in response.text  # TwiML even when refused
    assert all_messages(app) == []


def test_stop_opts_out_and_cancels_pending(app, twilio, via_client, factory, coach, admin_api):
    patient = factory.patient(coach)
    pending = queue(app, patient, status=MessageStatus.SCHEDULED, scheduled_for=utcnow())
    status, body = twilio.inbound(INBOUND_URL, patient.phone, FROM_NUMBER, " Stop ", post=via_client)
    assert status == 200 and "<Response />" in body
    assert patient_row(app, patient.id).sms_opted_out is True
    assert load(app, pending).status == "cancelled" and load(app, pending).reason == "sms_opted_out"
    run(app, dispatch_due)
    assert twilio.requests == []
    # The patient's STOP has no staff actor, yet it is in the programme's audit trail.
    events = admin_api.get("/api/v1/audit-events").json
    assert [(e["action"], e["patient_id"]) for e in events if e["resource"] == "sms"] == [("opt_out", patient.id)]


def test_spanish_keyword_and_start(app, twilio, via_client, factory, coach):
    patient = factory.patient(coach, language="es")
    twilio.inbound(INBOUND_URL, patient.phone, FROM_NUMBER, "ALTO", post=via_client)
    assert patient_row(app, patient.id).sms_opted_out is True
    twilio.inbound(INBOUND_URL, patient.phone, FROM_NUMBER, "start", post=via_client)
    assert patient_row(app, patient.id).sms_opted_out is False


def test_help_answers_with_the_programme_name_and_phone(app, twilio, via_client, factory, coach):
    app.config["TWILIO_HANDLED_KEYWORDS"] = frozenset()  # a number whose keyword handling is off at Twilio
    patient = factory.patient(coach)
    status, body = twilio.inbound(INBOUND_URL, patient.phone, FROM_NUMBER, "help", post=via_client)
    assert status == 200 and "<Message>Test Programme: reply to reach your coach" in body
    assert "(312) 555-0100" in body


def test_each_keyword_gets_exactly_one_confirmation_in_the_patients_language(app, twilio, via_client, factory,
                                                                             coach):
    english, spanish = factory.patient(coach), factory.patient(coach, language="es")
    # Twilio answers its own keywords (STOP, START, HELP): the product stays silent, never a second answer.
    for word in ("STOP", "START", "HELP"):
        _, body = twilio.inbound(INBOUND_URL, english.phone, FROM_NUMBER, word, post=via_client)
        assert "<Message>" not in body, word
    assert patient_row(app, english.id).sms_opted_out is False
    # Twilio does not know the Spanish ones: the product answers, in Spanish, and only in Spanish.
    _, body = twilio.inbound(INBOUND_URL, spanish.phone, FROM_NUMBER, "Alto", post=via_client)
    assert "ya no recibirás más mensajes" in body and "INICIAR" in body
    assert patient_row(app, spanish.id).sms_opted_out is True
    _, body = twilio.inbound(INBOUND_URL, spanish.phone, FROM_NUMBER, "iniciar", post=via_client)
    assert "volverás a recibir" in body and patient_row(app, spanish.id).sms_opted_out is False
    _, body = twilio.inbound(INBOUND_URL, spanish.phone, FROM_NUMBER, "AYUDA", post=via_client)
    assert "responde para hablar con tu coach" in body and "Your" not in body


def test_help_never_names_a_programme_that_reveals_treatment(app, twilio, via_client, factory):
    program = factory.program("Northside Recovery Program")
    coach = factory.user("coach", program)
    patient = factory.patient(coach)
    _, body = twilio.inbound(INBOUND_URL, patient.phone, FROM_NUMBER, "INFO", post=via_client)
    assert "<Message>" not in body  # Twilio answers INFO itself
    app.config["TWILIO_HANDLED_KEYWORDS"] = frozenset()
    _, body = twilio.inbound(INBOUND_URL, patient.phone, FROM_NUMBER, "HELP", post=via_client)
    assert "Recovery" not in body and "Your care team" in body


def test_a_sentence_with_stop_is_a_message_for_the_coach(app, twilio, via_client, factory, coach):
    patient = factory.patient(coach)
    twilio.inbound(INBOUND_URL, patient.phone, FROM_NUMBER, "stop please, I'm at work", post=via_client)
    assert patient_row(app, patient.id).sms_opted_out is False
    (message,) = all_messages(app)
    assert message.direction == MessageDirection.INBOUND and message.patient_id == patient.id
    with app.app_context():
        task = db.session.scalar(sa.select(Task).where(Task.patient_id == patient.id))
    assert task.assignee_id == coach.id and "reply" in task.title


def test_reply_shows_in_the_timeline(coach_api, twilio, via_client, factory, coach):
    patient = factory.patient(coach)
    twilio.inbound(INBOUND_URL, patient.phone, FROM_NUMBER, "Thanks, doing ok", post=via_client)
    entries = coach_api.get(f"/api/v1/patients/{patient.id}/timeline?kind=message").json
    assert [(e["data"]["direction"], e["data"]["body"]) for e in entries] == [("inbound", "Thanks, doing ok")]


def test_unknown_number_goes_to_a_supervisor(app, twilio, via_client, supervisor):
    twilio.inbound(INBOUND_URL, "+17735550188", FROM_NUMBER, "who is this?", post=via_client)
    (message,) = all_messages(app)
    assert message.patient_id is None
    with app.app_context():
        task = db.session.scalar(sa.select(Task))
    assert task.assignee_id == supervisor.id and task.title == "Text from an unknown number"


def test_twilio_retrying_a_webhook_stores_the_reply_once(app, twilio, via_client, factory, coach):
    patient = factory.patient(coach)
    for _ in range(2):
        twilio.inbound(INBOUND_URL, patient.phone, FROM_NUMBER, "hi", post=via_client, message_sid="SM" + "a" * 32)
    assert len(all_messages(app)) == 1


def test_status_callbacks_are_monotonic_and_idempotent(app, twilio, via_client, factory, coach):
    patient = factory.patient(coach)
    mid = queue(app, patient)
    run(app, dispatch_due)
    sid = load(app, mid).twilio_sid
    assert twilio.send_status_callback(sid, "delivered", url=STATUS_URL, post=via_client)[0] == 200
    assert load(app, mid).status == "delivered"
    twilio.send_status_callback(sid, "sent", url=STATUS_URL, post=via_client)  # late and out of order
    twilio.send_status_callback(sid, "delivered", url=STATUS_URL, post=via_client)  # repeated
    assert load(app, mid).status == "delivered"


def test_a_receipt_that_beats_the_workers_batched_write_still_lands(app, twilio, via_client, factory, coach):
    patient = factory.patient(coach)
    mid = queue(app, patient)
    (item,) = run(app, claim_due, 10)
    status, sid = run(app, send_claimed, item)  # Twilio accepted it; the worker has not written the SID yet
    assert status == "sent" and load(app, mid).twilio_sid is None
    assert twilio.send_status_callback(sid, "delivered", post=via_client)[0] == 200  # to the URL the text named
    message = load(app, mid)
    assert (message.status, message.twilio_sid) == ("delivered", sid) and message.sent_at is not None
    run(app, record_sent, [(mid, sid)])  # the batch lands afterwards and changes nothing
    assert load(app, mid).status == "delivered"


def test_a_receipt_for_an_earlier_attempt_or_another_text_changes_nothing(app, twilio, via_client, factory,
                                                                          coach):
    patient = factory.patient(coach)
    mid, other = queue(app, patient), queue(app, patient, body="Another text")
    run(app, dispatch_due)
    sid = load(app, mid).twilio_sid
    for query in (f"message={mid}&attempt=2", f"message={other}&attempt=1"):
        twilio.send_status_callback(sid, "failed", url=f"{STATUS_URL}?{query}", post=via_client)
    assert load(app, mid).status == "sent" and load(app, other).status == "sent"


def test_unknown_sid_answers_200_and_changes_nothing(app, client, twilio, via_client):
    params = {"MessageSid": "SM" + "f" * 32, "MessageStatus": "delivered"}
    response = client.post("/webhooks/twilio/sms/status", data=params,
                           headers={"X-Twilio-Signature": twilio.sign(STATUS_URL, params)})
    assert response.status_code == 200 and all_messages(app) == []


def test_undelivered_30003_is_retried_once(app, twilio, via_client, factory, coach):
    patient = factory.patient(coach)
    mid = queue(app, patient)
    run(app, dispatch_due)
    twilio.send_status_callback(load(app, mid).twilio_sid, "undelivered", url=STATUS_URL, error_code=30003,
                                post=via_client)
    message = load(app, mid)
    assert message.status == "queued" and message.reason == "retry once: handset unreachable"


def test_a_reply_with_a_nul_character_is_kept_without_it(app, twilio, via_client, factory, coach):
    """A patient's words are never dropped: the NUL PostgreSQL cannot store is removed, the rest kept."""
    patient = factory.patient(coach)
    status, _ = twilio.inbound(INBOUND_URL, patient.phone, FROM_NUMBER, "on my\x00 way", post=via_client)
    assert status == 200
    (message,) = all_messages(app)
    assert message.body == "on my way" and message.patient_id == patient.id


def test_a_receipt_with_a_non_ascii_digit_error_code_changes_nothing(app, twilio, via_client, factory, coach):
    patient = factory.patient(coach)
    mid = queue(app, patient)
    run(app, dispatch_due)
    sid = load(app, mid).twilio_sid
    params = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "²"}
    status, _ = via_client_post(via_client, twilio, STATUS_URL, params)
    assert status == 200 and load(app, mid).error_code is None


def via_client_post(via_client, twilio, url, params):
    response = via_client(url, params, {"X-Twilio-Signature": twilio.sign(url, params)})
    return response.status_code, response.get_data(as_text=True)
