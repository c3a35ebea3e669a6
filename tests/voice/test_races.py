"""Races, with real threads and connections: callers racing for coaches, coaches racing for a caller."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from backend.database import db
from backend.voice.models import Call, CallLeg, LineState
from tests.voice.conftest import COACH_PHONES, INCOMING, LINE, stored

pytestmark = pytest.mark.slow


def signed_post(app, twilio, url, params):
    """POST a webhook as Twilio would: signed for the public URL, through a client of its own."""
    headers = {"X-Twilio-Signature": twilio.sign(url, params)}
    response = app.test_client().post(url.removeprefix("http://localhost"), data=params, headers=headers)
    return response.status_code, response.get_data(as_text=True)


def inbound(n: int) -> dict:
    return {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": "AC" + "0" * 32, "From": f"+1630555{n:04d}",
            "To": LINE, "CallStatus": "ringing", "Direction": "inbound"}


def test_twenty_callers_at_once_with_five_free_coaches(app, twilio, factory, program, supervisor):
    coaches = [factory.user("coach", program, email=f"race{i}@example.test", phone=COACH_PHONES[i], on_shift=True)
               for i in range(5)]
    calls = [inbound(100 + n) for n in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda params: signed_post(app, twilio, INCOMING, params), calls))

    # Every caller got TwiML (never a 500): five wait for their coach, fifteen hear the voicemail greeting.
    assert all(status == 200 and "<Response>" in body for status, body in answers)
    waiting = [body for _, body in answers if "<Conference" in body]
    assert len(waiting) == 5 and sum("<Record" in body for _, body in answers) == 15
    legs = stored(app, CallLeg)
    assert sorted(leg.user_id for leg in legs) == sorted(c.id for c in coaches)  # each coach rung exactly once
    with app.app_context():
        held = dict(db.session.execute(sa.select(LineState.user_id, LineState.busy_call_id)).all())
    assert sorted(held) == sorted(c.id for c in coaches) and len(set(held.values())) == 5
    assert {leg.call_id for leg in legs} == set(held.values())
    rung = [r.form["To"] for r in twilio.requests if r.path.endswith("/Calls.json")]
    assert sorted(rung) == sorted(c.phone for c in coaches)
    assert len(stored(app, Call)) == 20


def test_two_coaches_pressing_1_for_one_caller_connect_only_the_one_being_rung(app, twilio, factory, program):
    first, second = [factory.user("coach", program, email=f"both{i}@example.test", phone=COACH_PHONES[i],
                                  on_shift=True) for i in range(2)]
    params = inbound(300)
    signed_post(app, twilio, INCOMING, params)
    [leg1] = stored(app, CallLeg)
    # The first coach's phone rang out; the app rings the second. Then both press 1 at the same moment.
    signed_post(app, twilio, f"http://localhost/webhooks/twilio/voice/legs/{leg1.id}/status",
                {"CallSid": "CA" + "1" * 32, "CallStatus": "no-answer", "SequenceNumber": "3"})
    leg2 = stored(app, CallLeg)[1]
    accepts = [(leg1.id, "CA" + "1" * 32), (leg2.id, "CA" + "2" * 32)] * 5
    with ThreadPoolExecutor(max_workers=10) as pool:
        bodies = list(pool.map(lambda item: signed_post(
            app, twilio, f"http://localhost/webhooks/twilio/voice/legs/{item[0]}/accept",
            {"CallSid": item[1], "Digits": "1"})[1], accepts))
    joined = [leg for (leg, _), body in zip(accepts, bodies, strict=True) if "<Conference" in body]
    assert joined == [leg2.id]  # once: the retries of the winner hear "no longer waiting" too
    [call] = stored(app, Call)
    assert call.coach_id == second.id and call.status == "in_progress"
    assert [leg.outcome for leg in stored(app, CallLeg)] == ["no_answer", "accepted"]


def test_a_late_ringing_callback_never_overwrites_the_end_of_a_leg(app, twilio, factory, program):
    factory.user("coach", program, email="late@example.test", phone=COACH_PHONES[0], on_shift=True)
    factory.user("coach", program, email="late2@example.test", phone=COACH_PHONES[1], on_shift=True)
    signed_post(app, twilio, INCOMING, inbound(400))
    [leg] = stored(app, CallLeg)
    url = f"http://localhost/webhooks/twilio/voice/legs/{leg.id}/status"
    signed_post(app, twilio, url, {"CallSid": "CA" + "3" * 32, "CallStatus": "busy", "SequenceNumber": "2"})
    signed_post(app, twilio, url, {"CallSid": "CA" + "3" * 32, "CallStatus": "ringing", "SequenceNumber": "1"})
    signed_post(app, twilio, url, {"CallSid": "CA" + "3" * 32, "CallStatus": "busy", "SequenceNumber": "2"})
    first = stored(app, CallLeg)[0]
    assert first.outcome == "busy" and first.ended_at is not None and first.last_sequence == 2
    assert len(stored(app, CallLeg)) == 2  # the next coach was rung once, not once per retry
