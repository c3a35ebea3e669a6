"""Whole warm-line calls: the fake phone network dials the programme's number, executes the TwiML the app
answers as Twilio does, and plays each phone as scripted (rings out, presses 1, is busy, is a machine)."""

from __future__ import annotations

import sqlalchemy as sa

from backend.contacts.models import Contact
from backend.database import db
from backend.tasks.models import Task
from backend.voice.models import Call, CallLeg, LineState
from fake_twilio.voice import Answers, Busy, Caller, Fails, NoAnswer, Voicemail
from tests.voice.conftest import LINE, set_line, stored

SCREEN_KNOWN = "Bridgeline warm line, number on file. Press 1 to take the call."
SCREEN_NEW = "Bridgeline warm line, new caller. Press 1 to take the call."


def the_call(app) -> Call:
    calls = stored(app, Call)
    assert len(calls) == 1
    return calls[0]


def legs(app, call) -> list[tuple[int, str]]:
    return [(leg.user_id, leg.outcome) for leg in stored(app, CallLeg, call_id=call.id)]


def free_lines(app) -> bool:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).where(LineState.busy_call_id.is_not(None))) == 0


def test_first_coach_lets_it_ring_second_presses_1_and_takes_the_call(app, net, factory, coaches, login):
    first, second, third = coaches
    patient = factory.patient(first, first_name="Lucía", last_name="García")
    net.phone(first.phone, NoAnswer())
    net.phone(second.phone, Answers(after=3, press="1"))
    net.phone(third.phone, Answers(after=1, press="1"))
    caller_sid = net.dial(from_=patient.phone, to=LINE, caller=Caller(stay=150))
    net.run()

    assert net.errors == []
    call = the_call(app)
    assert (call.outcome, call.coach_id, call.patient_id) == ("answered", second.id, patient.id)
    # The patient's own coach is rung first (continuity); then the least utilised; the third never rings.
    assert legs(app, call) == [(first.id, "no_answer"), (second.id, "accepted")]
    assert net.calls_to(third.phone) == []
    rung = net.calls_to(first.phone)[0]
    assert rung.status == "no-answer"
    taken = net.calls_to(second.phone)[0]
    # The coach's phone shows the programme's number; the whisper says "number on file", never a name.
    assert taken.from_ == LINE and SCREEN_KNOWN in taken.heard
    assert not any("Luc" in text or "Garc" in text for text in taken.heard)
    # Caller and coach were in one conference; the caller heard ringing (not silence) while they waited.
    conference = net.conference(f"bridgeline-call-{call.id}")
    assert {p.call_sid for p in conference.participants} == {caller_sid, taken.sid}
    assert any(url.endswith("/voice/ringback.wav") for url in net.call(caller_sid).played)
    assert free_lines(app)
    # The call is on the patient's timeline (one entry, standing for the contact it wrote), and the contact
    # counts for "last contact" and the burnout signals with its length.
    coach_api = login(first)
    timeline = coach_api.get(f"/api/v1/patients/{patient.id}/timeline").json
    assert [(e["kind"], e["data"]["direction"], e["data"]["outcome"], e["data"]["coach_id"]) for e in timeline
            if e["kind"] in ("call", "contact")] == [("call", "inbound", "answered", second.id)]
    contacts = coach_api.get(f"/api/v1/patients/{patient.id}/contacts").json
    assert [(c["kind"], c["direction"], c["outcome"], c["coach_id"], c["duration_minutes"]) for c in contacts] == [
        ("phone", "inbound", "reached", second.id, 3)]


def test_a_new_caller_is_announced_as_new_and_gets_a_callback_task_when_missed(app, net, coaches, supervisor):
    for coach in coaches:
        net.phone(coach.phone, NoAnswer())
    net.dial(from_="+16305550142", to=LINE, caller=Caller(record_seconds=0))
    net.run()

    assert net.errors == []
    call = the_call(app)
    # Three coaches rung one after another (the default N), then voicemail; nobody left a message.
    assert [outcome for _, outcome in legs(app, call)] == ["no_answer"] * 3
    assert call.outcome == "missed" and call.patient_id is None
    task = stored(app, Task)[0]
    assert task.kind == "call_back" and task.assignee_id == coaches[0].id and "+16305550142" in task.note
    assert call.callback_task_id == task.id
    assert free_lines(app)


def test_voicemail_machines_busy_and_failing_phones_never_take_the_call(app, net, factory, coaches):
    first, second, third = coaches
    net.phone(first.phone, Voicemail(after=1))
    net.phone(second.phone, Busy())
    net.phone(third.phone, Fails())
    caller = net.dial(from_="+16305550143", to=LINE, caller=Caller(record_seconds=25))
    net.run()

    assert net.errors == []
    call = the_call(app)
    assert legs(app, call) == [(first.id, "declined"), (second.id, "busy"), (third.id, "failed")]
    # The machine heard the whisper and nothing else: no caller ever reached a coach's voicemail.
    assert net.conference(f"bridgeline-call-{call.id}").participants[0].call_sid == caller
    assert len(net.conference(f"bridgeline-call-{call.id}").participants) == 1
    heard = net.call(caller).heard
    assert any("988" in text.replace(" ", "") for text in heard)
    assert call.outcome == "voicemail" and call.voicemail_seconds == 25 and call.voicemail_sid.startswith("RE")


def test_a_number_twilio_refuses_does_not_break_the_chain(app, net, coaches):
    first, second, _ = coaches
    net.refuse(first.phone, code=13224)
    net.phone(second.phone, Answers(press="1"))
    net.dial(from_="+16305550144", to=LINE, caller=Caller(stay=30))
    net.run()
    call = the_call(app)
    assert legs(app, call) == [(first.id, "failed"), (second.id, "accepted")]
    assert call.outcome == "answered"


def test_the_caller_hanging_up_while_a_coach_rings_cancels_the_coach_leg(app, net, coaches):
    first = coaches[0]
    net.phone(first.phone, Answers(after=10, press="1"))
    net.dial(from_="+16305550145", to=LINE, caller=Caller(hang_up_after=5))
    net.run()

    assert net.errors == []
    assert net.calls_to(first.phone)[0].status == "canceled"
    call = the_call(app)
    assert call.outcome == "abandoned" and legs(app, call) == [(first.id, "cancelled")]
    assert call.callback_task_id is not None
    assert free_lines(app)


def test_nobody_on_shift_goes_straight_to_voicemail_with_the_crisis_number(app, net, factory, program, supervisor):
    factory.user("coach", program, email="off@example.test", phone="+13125550131", on_shift=False)
    caller = net.dial(from_="+16305550146", to=LINE, caller=Caller(record_seconds=12))
    net.run()

    assert net.errors == []
    assert net.calls_to("+13125550131") == []
    heard = " ".join(net.call(caller).heard)
    assert "All our peers are on other calls" in heard and "9 8 8" in heard
    call = the_call(app)
    assert call.outcome == "voicemail"
    task = stored(app, Task)[0]
    assert task.assignee_id == supervisor.id and task.title == "Call back: voicemail on the warm line"


def test_a_coach_on_a_break_is_never_rung(app, net, coaches, login):
    first, second, _ = coaches
    assert login(first).put("/api/v1/me/line", json={"taking_calls": False}).json["taking_calls"] is False
    net.phone(second.phone, Answers(press="1"))
    net.dial(from_="+16305550147", to=LINE, caller=Caller(stay=10))
    net.run()
    assert net.calls_to(first.phone) == []
    assert the_call(app).coach_id == second.id


def test_closed_line_speaks_the_hours_in_the_callers_language_and_takes_a_message(app, net, factory, coaches,
                                                                                program):
    set_line(app, program.id, override="closed")
    patient = factory.patient(coaches[0], language="es")
    caller = net.dial(from_=patient.phone, to=LINE, caller=Caller(record_seconds=40))
    net.run()

    assert net.errors == []
    assert all(net.calls_to(c.phone) == [] for c in coaches)
    heard = " ".join(net.call(caller).heard)
    assert "La línea está cerrada" in heard and "todos los días, de 08:00 a 22:00" in heard
    assert "llame al 9 8 8" in heard
    call = the_call(app)
    assert call.after_hours and call.outcome == "voicemail" and call.voicemail_seconds == 40


def test_a_finished_call_writes_one_contact_and_twilio_retries_change_nothing(app, net, factory, coaches):
    patient = factory.patient(coaches[0])
    net.phone(coaches[0].phone, Answers(press="1"))
    caller = net.dial(from_=patient.phone, to=LINE, caller=Caller(stay=61))
    net.run()
    # Twilio retries every webhook of the call (the same signed requests again): nothing changes twice.
    for hook in net.webhooks:
        if hook.method == "POST":
            net.post(hook.url, dict(hook.params), dict(hook.headers))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Call)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CallLeg)) == 1
    assert len(net.calls_to(coaches[0].phone)) == 1
    assert the_call(app).outcome == "answered" and net.call(caller).status == "completed"
