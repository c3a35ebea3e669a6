"""Voice webhooks as entry points: signed, filed with the programme that owns the dialled number, and TwiML
always -- an internal error apologises and takes a voicemail instead of a 500 or silence."""

from __future__ import annotations

from backend.voice import routing
from backend.voice.models import Call
from fake_twilio.voice import Answers, Caller
from tests.voice.conftest import INCOMING, LINE, stored


def test_a_forged_call_is_refused_and_records_nothing(app, client, twilio):
    params = {"CallSid": "CA" + "9" * 32, "From": "+16305550170", "To": LINE}
    forged = client.post("/webhooks/twilio/voice", data=params,
                         headers={"X-Twilio-Signature": twilio.sign(INCOMING, params, auth_token="wrong")})
    assert forged.status_code == 403 and forged.mimetype == "text/xml" and "<Hangup" in forged.text
    assert stored(app, Call) == []


def test_a_call_to_a_number_no_programme_owns_is_not_filed(app, client, twilio, program):
    params = {"CallSid": "CA" + "8" * 32, "From": "+16305550171", "To": "+13125550177"}
    response = client.post("/webhooks/twilio/voice", data=params,
                           headers={"X-Twilio-Signature": twilio.sign(INCOMING, params)})
    assert response.status_code == 404 and "not in service" in response.text
    assert stored(app, Call) == []


def test_the_same_phone_in_two_programmes_reaches_only_the_dialled_one(app, net, factory, program, coaches):
    other = factory.program("Other Hospital")  # owns the next factory line
    other_coach = factory.user("coach", other, email="elsewhere@example.test", phone="+13125550138", on_shift=True)
    mine = factory.patient(coaches[0], phone="+16305550172")
    theirs = factory.patient(other_coach, phone="+16305550172")
    net.number(other.phone, voice_url=INCOMING, status_callback=INCOMING + "/status")
    net.phone(other_coach.phone, Answers(press="1"))
    net.dial(from_="+16305550172", to=other.phone, caller=Caller(stay=20))
    net.run()
    [call] = stored(app, Call)
    assert (call.program_id, call.patient_id, call.coach_id) == (other.id, theirs.id, other_coach.id)
    assert all(net.calls_to(c.phone) == [] for c in coaches) and mine.id != theirs.id


def test_an_internal_error_apologises_and_takes_a_voicemail(app, net, coaches, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the database fell over")

    monkeypatch.setattr(routing, "answer_incoming", broken)
    caller = net.dial(from_="+16305550173", to=LINE, caller=Caller(record_seconds=15))
    net.run()
    assert net.errors == []
    heard = " ".join(net.call(caller).heard)
    assert "something went wrong on our side" in heard and "9 8 8" in heard
    # The message still reaches a person: the call is filed late, with its voicemail and a callback task.
    [call] = stored(app, Call)
    assert (call.outcome, call.voicemail_seconds, call.program_number) == ("voicemail", 15, LINE)
    assert call.callback_task_id is not None
