"""The line's hours (time zone, overnight slots, override), texts that arrive while it is closed, the callback
due time, and the job that ends calls whose last webhook never came."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from backend.database import db
from backend.messaging.models import Message
from backend.programs.hours import is_open, next_opening, spoken_hours
from backend.programs.models import Program, WarmLine
from backend.tasks.models import Task
from backend.voice.models import Call, LineState
from fake_twilio.voice import Caller, NoAnswer
from tests.conftest import run_named_job
from tests.voice.conftest import LINE, set_line, stored

SMS_URL = "http://localhost/webhooks/twilio/sms"
CHICAGO_NIGHT = datetime(2026, 6, 17, 6, 30, tzinfo=UTC)  # 01:30 on Wednesday in Chicago


def test_hours_follow_the_programmes_time_zone_and_run_past_midnight(app, program):
    set_line(app, program.id, hours=[{"weekday": 1, "opens": "20:00", "closes": "02:00"}])  # Tuesday night
    with app.app_context():
        row = db.session.get(Program, program.id)
        assert is_open(row, datetime(2026, 6, 17, 3, 0, tzinfo=UTC))  # 22:00 Tuesday in Chicago
        assert is_open(row, datetime(2026, 6, 17, 6, 30, tzinfo=UTC))  # 01:30 Wednesday: still Tuesday's slot
        assert not is_open(row, datetime(2026, 6, 17, 7, 30, tzinfo=UTC))  # 02:30: closed
        assert next_opening(row, datetime(2026, 6, 17, 7, 30, tzinfo=UTC)) == datetime(2026, 6, 24, 1, 0,
                                                                                      tzinfo=UTC)
        line = db.session.get(WarmLine, program.id)
        assert spoken_hours(line, "en") == "Tuesday 20:00 to 02:00"
        assert spoken_hours(line, "es") == "martes 20:00 a 02:00"


def test_a_text_while_closed_gets_one_answer_per_12_hours_and_a_task_due_at_opening(app, twilio, client, factory,
                                                                                  coaches, midday_clock):
    midday_clock.move_to(CHICAGO_NIGHT)
    patient = factory.patient(coaches[0], language="es")

    def text(body):
        return twilio.inbound(SMS_URL, patient.phone, LINE, body, post=lambda url, data, headers: (
            lambda r: (r.status_code, r.get_data(as_text=True)))(client.post("/webhooks/twilio/sms", data=data,
                                                                               headers=headers)))

    status, first = text("hola, ¿estás?")
    assert status == 200 and "estamos cerrados" in first and "988" in first and "08:00" in first
    status, second = text("¿hola?")
    assert status == 200 and "<Message>" not in second  # once per 12 hours, not once per text
    # Each text still reaches the coach, due when the line opens (08:00 in Chicago), not in the night.
    assert [t.due_at.replace(microsecond=0) for t in stored(app, Task)] == [datetime(2026, 6, 17, 13, 0,
                                                                                  tzinfo=UTC)] * 2
    with app.app_context():
        answers = db.session.scalars(sa.select(Message.body).where(Message.template_key == "line_closed")).all()
    assert len(answers) == 1
    midday_clock.move_to(CHICAGO_NIGHT + timedelta(hours=13))  # open again: a text just reaches the coach
    status, later = text("gracias")
    assert "<Message>" not in later


def test_a_missed_call_is_due_back_within_the_programmes_time(app, net, coaches, midday_clock):
    for coach in coaches:
        net.phone(coach.phone, NoAnswer())
    net.dial(from_="+16305550180", to=LINE, caller=Caller(record_seconds=0))
    net.run()
    task = stored(app, Task)[0]
    assert timedelta(minutes=29) < task.due_at - datetime(2026, 6, 16, 17, 0, tzinfo=UTC) < timedelta(minutes=31)


def test_calls_that_lost_their_last_webhook_are_ended_and_free_their_coach(app, net, coaches, midday_clock):
    net.phone(coaches[0].phone, NoAnswer())
    net.dial(from_="+16305550181", to=LINE, caller=Caller())
    net.run(until=1)  # the first coach is ringing; then Twilio's callbacks are lost
    with app.app_context():
        assert db.session.scalar(sa.select(LineState.busy_call_id).where(LineState.user_id == coaches[0].id))
    run_named_job(app, "end_lost_calls")
    assert stored(app, Call)[0].status == "ringing"  # not yet: the caller may still be waiting
    midday_clock.shift(10 * 60)
    run_named_job(app, "end_lost_calls")
    call = stored(app, Call)[0]
    assert call.status == "completed" and call.outcome == "abandoned" and call.callback_task_id is not None
    with app.app_context():
        assert db.session.scalar(sa.select(LineState.busy_call_id).where(LineState.user_id == coaches[0].id)) is None


def test_closed_until_a_time_inside_the_hours_reopens_the_line_then(app, program):
    until = datetime(2026, 6, 16, 23, 30, tzinfo=UTC)  # 18:30 in Chicago, inside the default 08:00-22:00
    set_line(app, program.id, override="closed", override_until=until)
    with app.app_context():
        row = db.session.get(Program, program.id)
        assert not is_open(row, datetime(2026, 6, 16, 20, 0, tzinfo=UTC))
        assert next_opening(row, datetime(2026, 6, 16, 20, 0, tzinfo=UTC)) == until
        assert is_open(row, until + timedelta(minutes=1))
