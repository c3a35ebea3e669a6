"""The panel's warm-line page: the live board (refreshed without audit rows), today's and the last 7 days'
figures with their chart, each coach's rings, missed calls and their callbacks, and the open/closed override."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import time_machine

from backend import create_app
from backend.audit.models import AuditEvent
from backend.database import db, utcnow
from backend.programs.models import WarmLine
from backend.tasks.models import TaskKind, TaskStatus
from backend.voice.models import (
    Call,
    CallDirection,
    CallLeg,
    CallOutcome,
    CallStatus,
    LegKind,
    LegOutcome,
    LineState,
)
from fake_twilio.voice import Caller, NoAnswer
from tests.admin.conftest import csrf_token
from tests.conftest import flush_test_redis, twilio_config
from tests.factories import PASSWORD

LINE = "+13125550100"  # the factory's first programme owns it
BASE = "http://localhost"
COACH_PHONES = [f"+131255501{n}" for n in range(11, 40)]
# 12:00 in Chicago on Tuesday 16 June 2026: the default hours are open; the last 7 days are 10-16 June.
MIDDAY_IN_CHICAGO = datetime(2026, 6, 16, 17, 0, tzinfo=UTC)
ROOM = 156  # the chart's bar height for the busiest bar (see admin/warm_line.py)


@pytest.fixture
def app(database_url, twilio):
    """The app sending to the fake Twilio (as tests/voice does), so the phone network can call it."""
    flush_test_redis()
    app = create_app(twilio_config(database_url, twilio, PUBLIC_BASE_URL=BASE))
    yield app
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture(autouse=True)
def midday_clock():
    """Midday in Chicago (ticking on): "today" and the last 7 days never straddle a midnight mid-test."""
    with time_machine.travel(MIDDAY_IN_CHICAGO, tick=True) as traveller:
        yield traveller


@pytest.fixture
def net(twilio, client, program):
    """The fake phone network, with the programme's line pointed at the app's voice webhooks."""

    def post(url, data, headers):
        parts = urlsplit(url)
        response = client.post(parts.path + (f"?{parts.query}" if parts.query else ""), data=data, headers=headers)
        return response.status_code, response.get_data(as_text=True)

    def get(url, headers):
        parts = urlsplit(url)
        response = client.get(parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
        return response.status_code, response.get_data(as_text=True)

    network = twilio.voice
    network.post, network.get = post, get
    network.number(LINE, voice_url=f"{BASE}/webhooks/twilio/voice",
                   status_callback=f"{BASE}/webhooks/twilio/voice/status")
    return network


@pytest.fixture
def coaches(factory, program, supervisor):
    """Three coaches on shift with phones."""
    return [factory.user("coach", program, email=f"ring{i}@example.test", phone=COACH_PHONES[i], on_shift=True,
                         supervisor_id=supervisor.id, full_name=f"Coach Number {i}") for i in range(3)]


def add_call(app, program_id: int, at: datetime, outcome: CallOutcome | None = CallOutcome.ANSWERED, *,
             status: CallStatus = CallStatus.COMPLETED, direction: CallDirection = CallDirection.INBOUND,
             number: str = "+16305550142", legs=(), **kw) -> int:
    """A call row (and its coach legs: (user_id, LegOutcome or None while ringing)), as the webhooks leave it."""
    with app.app_context():
        call = Call(program_id=program_id, direction=direction, status=status, outcome=outcome, program_number=LINE,
                    external_number=number, started_at=at, **kw)
        if outcome == CallOutcome.ANSWERED or status == CallStatus.IN_PROGRESS:
            call.answered_at = call.answered_at or at + timedelta(seconds=12)
        db.session.add(call)
        db.session.flush()
        for position, (user_id, leg_outcome) in enumerate(legs, 1):
            db.session.add(CallLeg(call_id=call.id, kind=LegKind.COACH, position=position, user_id=user_id,
                                   number=COACH_PHONES[0], outcome=leg_outcome, rung_at=at,
                                   ended_at=None if leg_outcome is None else at + timedelta(seconds=15)))
        db.session.commit()
        return call.id


def audit_rows(app, **where) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AuditEvent).filter_by(**where).order_by(AuditEvent.id)))
        db.session.expunge_all()
        return rows


def section(page: str, testid: str) -> str:
    """The HTML of one row (or element) by its data-testid."""
    return page.split(f'data-testid="{testid}"', 1)[1].split("</tr>", 1)[0]


def cells(row: str) -> list[str]:
    """The text of each <td> in a row's HTML."""
    return [re.sub(r"<[^>]+>", "", cell.split(">", 1)[1].split("</td>", 1)[0]).strip()
            for cell in row.split("<td")[1:]]


def local(hour: int, minute: int = 0, day: int = 16) -> datetime:
    """A moment in June 2026 on Chicago's clock (UTC-5), in UTC."""
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC) + timedelta(hours=5)


# -- the live board -------------------------------------------------------------------------------------------

def test_the_live_board_shows_each_coachs_line_and_the_calls_now_and_its_refresh_writes_no_audit_row(
        app, panel_login, client, supervisor, program, factory, coaches):
    free, ringing, on_call = coaches
    away = factory.user("coach", program, full_name="Coach Away", on_shift=True, phone=COACH_PHONES[5])
    off = factory.user("coach", program, full_name="Coach Off Shift", phone=COACH_PHONES[6])
    patient = factory.patient(on_call, first_name="Lucía", last_name="García")
    now = utcnow()
    rings = add_call(app, program.id, now - timedelta(seconds=20), None, status=CallStatus.RINGING,
                     legs=[(ringing.id, None)])
    talking = add_call(app, program.id, now - timedelta(seconds=125), None, status=CallStatus.IN_PROGRESS,
                       patient_id=patient.id, coach_id=on_call.id, number=patient.phone,
                       legs=[(on_call.id, LegOutcome.ACCEPTED)])
    with app.app_context():
        db.session.add_all([LineState(user_id=ringing.id, program_id=program.id, busy_call_id=rings),
                            LineState(user_id=on_call.id, program_id=program.id, busy_call_id=talking),
                            LineState(user_id=away.id, program_id=program.id, taking_calls=False)])
        db.session.commit()
    panel_login(supervisor.email, PASSWORD)

    page = client.get("/admin/warm-line").get_data(as_text=True)
    states = {coach.id: section(page, f"line-{coach.id}") for coach in (free, ringing, on_call, away)}
    assert "Free</span>" in states[free.id] and "Ringing</span>" in states[ringing.id]
    assert "On a call</span>" in states[on_call.id] and "Away</span>" in states[away.id]
    assert f'data-testid="line-{off.id}"' not in page
    assert cells(section(page, f"live-call-{rings}")) == ["ringing", "–", "new", "0:20"]
    live_row = cells(section(page, f"live-call-{talking}"))
    assert live_row[:3] == ["in progress", on_call.full_name, "known"] and live_row[3].startswith("2:0")
    assert "Lucía" not in page and "García" not in page
    assert 'hx-get="/admin/warm-line/live" hx-trigger="every 5s" hx-swap="outerHTML"' in page
    # The page view is audited once for the live board (as GET /api/v1/warm-line/live is).
    (live_read,) = [row for row in audit_rows(app, resource="call") if (row.details or {}).get("live")]
    assert live_read.details["call_ids"] == [talking, rings] and live_read.user_id == supervisor.id

    before = len(audit_rows(app))
    late = factory.user("coach", program, full_name="Coach Just Arrived", on_shift=True, phone=COACH_PHONES[7])
    for _ in range(3):
        partial = client.get("/admin/warm-line/live")
        fragment = partial.get_data(as_text=True)
        assert partial.status_code == 200
        assert '<section class="card live" id="warm-line-live"' in fragment and "<html" not in fragment
        assert "On a call</span>" in section(fragment, f"line-{on_call.id}")
        assert f'data-testid="live-call-{talking}"' in fragment
        assert "Free</span>" in section(fragment, f"line-{late.id}")
    assert len(audit_rows(app)) == before  # no patient in it: refreshing it leaves no audit rows
    with app.app_context():  # nor any other write: a coach new on shift is free without a line row made for them
        assert db.session.get(LineState, late.id) is None


def test_an_empty_line_says_so(panel_login, client, admin_user, program):
    panel_login(admin_user.email, PASSWORD)
    page = client.get("/admin/warm-line").get_data(as_text=True)
    assert "No coach is on shift: calls go to voicemail." in page and "No calls ringing or in progress." in page
    assert "No missed calls in the last 7 days." in page and "No coach was rung for a call" in page
    assert 'data-testid="line-status">Open<' in page


# -- figures --------------------------------------------------------------------------------------------------

def test_today_and_the_last_7_days_per_local_day_with_the_chart_drawn_from_the_same_figures(
        app, panel_login, client, supervisor, program, factory, coaches):
    c0, c1, c2 = coaches
    at = local(11)
    add_call(app, program.id, at, legs=[(c0.id, LegOutcome.NO_ANSWER), (c1.id, LegOutcome.ACCEPTED)])
    add_call(app, program.id, at, legs=[(c1.id, LegOutcome.ACCEPTED)])
    add_call(app, program.id, at, CallOutcome.MISSED,
             legs=[(c0.id, LegOutcome.NO_ANSWER), (c1.id, LegOutcome.BUSY), (c2.id, LegOutcome.DECLINED)])
    add_call(app, program.id, at, CallOutcome.ABANDONED, legs=[(c0.id, LegOutcome.CANCELLED)])
    add_call(app, program.id, at, CallOutcome.VOICEMAIL, voicemail_sid="RE" + "0" * 32)
    add_call(app, program.id, local(7), CallOutcome.AFTER_HOURS, after_hours=True)
    add_call(app, program.id, local(23, 30, day=15), legs=[(c2.id, LegOutcome.ACCEPTED)])  # Monday, local
    add_call(app, program.id, local(0, 30, day=10), CallOutcome.MISSED)  # the first of the 7 days
    add_call(app, program.id, local(23, 30, day=9), legs=[(c0.id, LegOutcome.ACCEPTED)])  # 8 days ago: not shown
    add_call(app, program.id, at, CallOutcome.NO_ANSWER, direction=CallDirection.OUTBOUND, coach_id=c0.id)
    elsewhere = factory.program("Elsewhere")
    add_call(app, elsewhere.id, at, CallOutcome.MISSED)
    panel_login(supervisor.email, PASSWORD)

    page = client.get("/admin/warm-line").get_data(as_text=True)
    days = {day: cells(section(page, f"day-2026-06-{day}")) for day in range(10, 17)}
    assert days[10] == ["1", "0", "1", "0", "0"]
    assert all(days[day] == ["0"] * 5 for day in (11, 12, 13, 14))
    assert days[15] == ["1", "1", "0", "0", "0"]
    assert days[16] == ["6", "2", "2", "1", "1"]
    assert cells(page.split("<tfoot>")[1].split("</tfoot>")[0]) == ["8", "3", "3", "1", "1"]
    assert "Wed 10 Jun" in page and "Tue 16 Jun" in page
    # The chart: answered and missed bars per day, the busiest one full height, in the table's order.
    chart = page.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in chart and "<title" in chart
    heights = [int(rect.split('height="')[1].split('"')[0]) for rect in chart.split("<rect")[1:]]
    assert heights == [0, ROOM // 2, 0, 0, 0, 0, 0, 0, 0, 0, ROOM // 2, 0, ROOM, ROOM]
    assert chart.count('class="bar-answered"') == 7 and chart.count('class="bar-missed"') == 7
    # Today (the programme's day): the service's figures.
    assert 'data-testid="today-calls">6<' in page and 'data-testid="today-answered">2<' in page
    assert 'data-testid="today-missed">2<' in page and 'data-testid="today-voicemails">1<' in page
    # Each coach's rings: pressed 1 or not (a ring stopped because the caller hung up does not count).
    order = [int(part.split('"')[0]) for part in page.split('data-testid="coach-')[1:]]
    assert order == [c1.id, c2.id, c0.id]
    assert cells(section(page, f"coach-{c1.id}")) == ["2", "1", "2", "1"]
    assert cells(section(page, f"coach-{c2.id}")) == ["0", "1", "1", "1"]
    assert cells(section(page, f"coach-{c0.id}")) == ["0", "2", "0", "2"]


def test_the_7_days_follow_the_programmes_clock_across_a_daylight_saving_change(
        app, panel_login, client, supervisor, program, midday_clock):
    midday_clock.move_to(datetime(2026, 3, 10, 17, 0, tzinfo=UTC))  # noon in Chicago (CDT) on Tuesday 10 March
    add_call(app, program.id, datetime(2026, 3, 4, 6, 30, tzinfo=UTC), CallOutcome.MISSED)  # 00:30 CST, 4 March
    add_call(app, program.id, datetime(2026, 3, 4, 5, 30, tzinfo=UTC))  # 23:30 CST on 3 March: 8 days ago
    add_call(app, program.id, datetime(2026, 3, 9, 4, 30, tzinfo=UTC))  # 23:30 CDT on 8 March, after the change
    panel_login(supervisor.email, PASSWORD)
    page = client.get("/admin/warm-line").get_data(as_text=True)
    assert cells(section(page, "day-2026-03-04")) == ["1", "0", "1", "0", "0"]
    assert cells(section(page, "day-2026-03-08")) == ["1", "1", "0", "0", "0"]
    assert 'data-testid="day-2026-03-03"' not in page
    assert cells(page.split("<tfoot>")[1].split("</tfoot>")[0]) == ["2", "1", "1", "0", "0"]


def test_missed_calls_show_their_callbacks_state_and_only_the_numbers_last_4_digits(
        app, panel_login, client, supervisor, program, factory, coaches):
    c0, c1, _ = coaches
    now = utcnow()
    open_task = factory.task(c0, kind=TaskKind.CALL_BACK, due_at=now + timedelta(minutes=20))
    late_task = factory.task(c1, kind=TaskKind.CALL_BACK, due_at=now - timedelta(hours=1))
    done_task = factory.task(c1, kind=TaskKind.CALL_BACK, due_at=now - timedelta(hours=3),
                             status=TaskStatus.DONE, completed_at=now - timedelta(hours=4))
    patient = factory.patient(c0, phone="+18725550177")
    missed = add_call(app, program.id, now - timedelta(minutes=10), CallOutcome.MISSED, number="+16305550142",
                      callback_task_id=open_task.id)
    voicemail = add_call(app, program.id, now - timedelta(hours=2), CallOutcome.VOICEMAIL, number=patient.phone,
                         patient_id=patient.id, callback_task_id=late_task.id, voicemail_sid="RE" + "1" * 32)
    after = add_call(app, program.id, now - timedelta(days=2), CallOutcome.AFTER_HOURS, number="+17085550188",
                     callback_task_id=done_task.id)
    hung_up = add_call(app, program.id, now - timedelta(days=3), CallOutcome.ABANDONED, number="+16305550199")
    add_call(app, program.id, now - timedelta(days=9), CallOutcome.MISSED, number="+16305550111")  # too old
    add_call(app, program.id, now - timedelta(minutes=5), number="+16305550122")  # answered
    panel_login(supervisor.email, PASSWORD)

    page = client.get("/admin/warm-line").get_data(as_text=True)
    listed = [int(part.split('"')[0]) for part in page.split('data-testid="missed-')[1:]]
    assert listed == [missed, voicemail, after, hung_up]
    rows = {call_id: section(page, f"missed-{call_id}") for call_id in listed}
    assert "0142" in rows[missed] and "(new)" in rows[missed] and ">open<" in rows[missed]
    assert c0.full_name in rows[missed]
    assert "0177" in rows[voicemail] and "(known)" in rows[voicemail] and "message left" in rows[voicemail]
    assert ">overdue<" in rows[voicemail] and c1.full_name in rows[voicemail]
    assert ">done<" in rows[after] and "done 2026-06-1" in rows[after]
    assert "no task" in rows[hung_up]
    for number in ("6305550142", "8725550177", "7085550188", "6305550199", "555-0142", "555 0142"):
        assert number not in page  # only the last 4 digits of a caller's number, anywhere on the page
    # The list of call records is audited with the patients it concerns, and the tasks it shows.
    (calls_read,) = [row for row in audit_rows(app, action="list", resource="call")
                     if not (row.details or {}).get("live")]
    assert calls_read.details == {"call_ids": listed, "patient_ids": [patient.id]}
    (tasks_read,) = audit_rows(app, action="list", resource="task")
    assert sorted(tasks_read.details["task_ids"]) == sorted([open_task.id, late_task.id, done_task.id])


def test_missed_calls_come_in_pages(app, panel_login, client, supervisor, program):
    for n in range(23):
        add_call(app, program.id, utcnow() - timedelta(minutes=n + 1), CallOutcome.MISSED, number=f"+163055501{n:02d}")
    panel_login(supervisor.email, PASSWORD)
    first = client.get("/admin/warm-line").get_data(as_text=True)
    assert first.count('data-testid="missed-') == 20 and "Page 1 of 2" in first
    second = client.get("/admin/warm-line?page=2").get_data(as_text=True)
    assert second.count('data-testid="missed-') == 3 and "Page 2 of 2" in second


def test_a_missed_call_through_the_phone_network_shows_with_its_open_callback(
        app, net, panel_login, client, supervisor, coaches):
    for coach in coaches:
        net.phone(coach.phone, NoAnswer())
    net.dial(from_="+16305550142", to=LINE, caller=Caller(record_seconds=0))
    net.run()
    assert net.errors == []
    panel_login(supervisor.email, PASSWORD)

    page = client.get("/admin/warm-line").get_data(as_text=True)
    (call_id,) = [int(part.split('"')[0]) for part in page.split('data-testid="missed-')[1:]]
    row = section(page, f"missed-{call_id}")
    assert "0142" in row and "missed" in row and ">open<" in row and coaches[0].full_name in row
    assert "6305550142" not in page
    assert 'data-testid="today-missed">1<' in page and 'data-testid="today-calls">1<' in page
    for coach in coaches:  # each was rung once and did not answer
        assert cells(section(page, f"coach-{coach.id}")) == ["0", "1", "0", "1"]
    assert "No calls ringing or in progress." in page and 'data-testid="day-2026-06-16"' in page


# -- the override ---------------------------------------------------------------------------------------------

def stored_line(app, program_id: int) -> WarmLine | None:
    with app.app_context():
        line = db.session.get(WarmLine, program_id)
        db.session.expunge_all()
        return line


def post_override(client, **form):
    token = csrf_token(client.get("/admin/warm-line").get_data(as_text=True))
    return client.post("/admin/warm-line/override", data={"csrf_token": token, **form})


def test_closing_the_line_now_until_cleared_then_until_a_time_then_following_the_hours(
        app, panel_login, client, supervisor, program):
    panel_login(supervisor.email, PASSWORD)
    assert 'data-testid="line-status">Open<' in client.get("/admin/warm-line").get_data(as_text=True)

    response = post_override(client, state="closed", until="")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/warm-line")
    line = stored_line(app, program.id)
    assert (line.override, line.override_until) == ("closed", None)
    page = client.get("/admin/warm-line").get_data(as_text=True)
    assert 'data-testid="line-status">Closed<' in page and "by override (closed until cleared)" in page
    assert "The line is closed now until you clear it." in page
    assert '<option value="closed" selected>' in page
    (row,) = audit_rows(app, action="override", resource="warm_line")
    assert row.user_id == supervisor.id and row.details == {"state": "closed", "until": None}

    # The time is typed on the programme's clock (Chicago, UTC-5 in June) and stored in UTC.
    assert post_override(client, state="closed", until="2026-06-16T18:30").status_code == 302
    assert stored_line(app, program.id).override_until == datetime(2026, 6, 16, 23, 30, tzinfo=UTC)
    page = client.get("/admin/warm-line").get_data(as_text=True)
    assert "The line is closed now until 2026-06-16 18:30." in page and 'value="2026-06-16T18:30"' in page
    assert "by override (closed until 2026-06-16 18:30)" in page

    assert post_override(client, state="").status_code == 302
    assert stored_line(app, program.id).override is None
    page = client.get("/admin/warm-line").get_data(as_text=True)
    assert "The line follows its hours again: open now." in page and 'data-testid="line-status">Open<' in page
    assert [r.details["state"] for r in audit_rows(app, action="override")] == ["closed", "closed", None]


def test_an_admin_opens_the_line_out_of_hours(app, panel_login, client, admin_user, program, midday_clock):
    midday_clock.move_to(local(23))  # the default hours end at 22:00
    panel_login(admin_user.email, PASSWORD)
    assert 'data-testid="line-status">Closed<' in client.get("/admin/warm-line").get_data(as_text=True)
    assert post_override(client, state="open", until="2026-06-17T01:00").status_code == 302
    page = client.get("/admin/warm-line").get_data(as_text=True)
    assert 'data-testid="line-status">Open<' in page and "by override (open until 2026-06-17 01:00)" in page
    assert audit_rows(app, action="override")[0].user_id == admin_user.id


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"state": "sideways", "until": ""}, "state", "Must be one of: open, closed."),
    ({"state": "closed", "until": "tomorrow"}, "until", "Not a valid datetime."),
    ({"state": "closed", "until": "2026-06-16T08:00"}, "until", "Must be in the future."),
])
def test_bad_override_input_is_a_422_by_the_field_keeping_what_was_typed_and_changes_nothing(
        app, panel_login, client, supervisor, program, form, field, message):
    panel_login(supervisor.email, PASSWORD)
    response = post_override(client, **form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert page.split(f'id="f-{field}-error">')[1].split("</p>")[0] == message
    assert f'id="f-{field}" name="{field}"' in page and 'aria-invalid="true"' in page
    if field == "until":
        assert f'value="{form["until"]}"' in page and '<option value="closed" selected>' in page
    assert stored_line(app, program.id) is None and audit_rows(app, action="override") == []


def test_the_override_needs_the_forms_csrf_token(app, panel_login, client, supervisor, program):
    panel_login(supervisor.email, PASSWORD)
    response = client.post("/admin/warm-line/override", data={"state": "closed"})
    assert response.status_code == 400 and stored_line(app, program.id) is None


def test_the_warm_line_pages_need_a_panel_login(client, program):
    for path in ("/admin/warm-line", "/admin/warm-line/live"):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/warm-line/override", data={"state": "closed", "csrf_token": token})
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert stored_line(client.application, program.id) is None
