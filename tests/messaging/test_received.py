"""What patients send that is not plain text: MMS photos (kept as Twilio's URLs, shown through our own scoped,
audited endpoint) and texts from numbers that match no patient (a supervisor assigns or dismisses them)."""

from __future__ import annotations

import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.database import db
from backend.messaging.models import Message
from backend.tasks.models import Task
from tests.messaging.conftest import FROM_NUMBER
from tests.messaging.test_webhooks import INBOUND_URL

PHOTO = b"\x89PNG\r\n\x1a\nfake photo bytes"


def mms(twilio, via_client, from_, body="", photos=1, url=None):
    urls = [url or twilio.add_media("image/jpeg", PHOTO) for _ in range(photos)]
    extra = {"NumMedia": str(photos), **{f"MediaUrl{n}": u for n, u in enumerate(urls)},
             **{f"MediaContentType{n}": "image/jpeg" for n in range(photos)}}
    return twilio.inbound(INBOUND_URL, from_, FROM_NUMBER, body, post=via_client, extra=extra)


def test_a_photo_only_reply_reaches_the_coach_as_a_photo(app, twilio, via_client, factory, coach, login):
    patient = factory.patient(coach)
    status, _ = mms(twilio, via_client, patient.phone, photos=2)
    assert status == 200
    [message] = [m for m in login(coach).get(f"/api/v1/patients/{patient.id}/messages").json]
    assert message["media"] == [{"index": 0, "content_type": "image/jpeg"}, {"index": 1, "content_type": "image/jpeg"}]
    assert "url" not in str(message["media"])  # the app never gets Twilio's raw URL
    with app.app_context():
        task = db.session.scalar(sa.select(Task))
    assert task.title == "Photo from your patient" and task.assignee_id == coach.id
    timeline = login(coach).get(f"/api/v1/patients/{patient.id}/timeline").json
    assert [e["data"]["media"][0]["content_type"] for e in timeline if e["kind"] == "message"] == ["image/jpeg"]
    photo = login(coach).get(f"/api/v1/messages/{message['id']}/media/0")
    assert photo.status_code == 200 and photo.data == PHOTO and photo.mimetype == "image/jpeg"
    assert login(coach).get(f"/api/v1/messages/{message['id']}/media/5").status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.resource == "message_media",
                                                                  AuditEvent.outcome == "success")) == 1


def test_another_coach_cannot_see_the_photo_and_foreign_urls_are_not_kept(app, twilio, via_client, factory, coach,
                                                                           other_coach, login):
    patient = factory.patient(coach)
    mms(twilio, via_client, patient.phone, body="look", url="https://evil.example.org/a.jpg")
    with app.app_context():
        message = db.session.scalar(sa.select(Message))
    assert message.media is None and message.body == "look"
    mms(twilio, via_client, patient.phone)
    with app.app_context():
        photo_id = db.session.scalar(sa.select(Message.id).where(Message.media.is_not(None)))
    assert login(other_coach).get(f"/api/v1/messages/{photo_id}/media/0").status_code == 404


def test_supervisors_see_texts_from_unknown_numbers_and_assign_or_dismiss_them(app, twilio, via_client, factory,
                                                                               coach, supervisor, login):
    patient = factory.patient(coach)
    twilio.inbound(INBOUND_URL, "+16305550190", FROM_NUMBER, "this is Ana, new phone", post=via_client)
    twilio.inbound(INBOUND_URL, "+16305550191", FROM_NUMBER, "wrong number?", post=via_client)
    lead = login(supervisor)
    unknown = lead.get("/api/v1/messages/unknown").json
    assert [(t["from_number"], t["body"]) for t in unknown] == [("+16305550191", "wrong number?"),
                                                                 ("+16305550190", "this is Ana, new phone")]
    assert login(coach).get("/api/v1/messages/unknown").status_code == 403
    ana, wrong = unknown[1]["id"], unknown[0]["id"]
    assigned = lead.post(f"/api/v1/messages/{ana}/assign", json={"patient_id": patient.id})
    assert assigned.status_code == 200 and assigned.json["patient_id"] == patient.id
    assert lead.post(f"/api/v1/messages/{wrong}/dismiss").status_code == 200
    assert lead.get("/api/v1/messages/unknown").json == []
    with app.app_context():
        assert db.session.scalar(sa.select(Task.title).where(Task.assignee_id == coach.id)) == \
            "Text reply from your patient"
        actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.resource == "unknown_text")))
    assert {"list", "assign", "dismiss"} <= actions
