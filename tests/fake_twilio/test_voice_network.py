"""Whole phone calls through the fake Twilio Voice network, on its virtual clock.

A tiny Flask app (not the project's) answers the webhooks through its test client
and checks their signatures; it calls the real ``twilio`` SDK, pointed at the fake,
from inside its handlers, the way a real voice app does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from flask import Flask, Response, request
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from fake_twilio import (
    APPLICATION_ERROR,
    Answers,
    Busy,
    Caller,
    Fails,
    FakeTwilio,
    NoAnswer,
    Voicemail,
    VoiceNetworkError,
    rfc2822,
)

TWILIO_API = "https://api.twilio.com"
START = datetime(2025, 3, 4, 15, 0, 0, tzinfo=UTC)
BASE = "http://localhost"
NUMBER = "+13125550100"  # the app's number
CALLER = "+13125550142"
GUEST = "+13125550143"
AGENT = "+13125550111"
COACH = "+13125550122"


class BaseUrlHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sent to the fake instead of api.twilio.com."""

    def __init__(self, base_url: str):
        super().__init__(timeout=10)
        self.base_url = base_url.rstrip("/")
        self.session.trust_env = False

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        return super().request(method, url, params=params, data=data, headers=headers, auth=auth, timeout=timeout,
                               allow_redirects=allow_redirects)


class TinyApp:
    """A minimal voice app: each test maps paths to handlers that answer TwiML (None: an empty 204).

    Every webhook's signature is checked with RequestValidator; ``received`` keeps
    each request's path and parameters (form and query string).
    """

    def __init__(self, fake: FakeTwilio):
        self.twilio = Client(fake.account_sid, fake.auth_token, http_client=BaseUrlHttpClient(fake.base_url))
        self.routes: dict[str, Callable[[dict[str, str]], Any]] = {}
        self.received: list[tuple[str, dict[str, str]]] = []
        self.rejected: list[str] = []
        validator = RequestValidator(fake.auth_token)
        flask = Flask("tiny_voice_app")

        @flask.route("/<path:path>", methods=["GET", "POST"])
        def webhook(path):
            if not validator.validate(request.url, request.form.to_dict(), request.headers.get("X-Twilio-Signature")):
                self.rejected.append(request.url)
                return "bad signature", 403
            params = request.values.to_dict()
            self.received.append(("/" + path, params))
            handler = self.routes.get("/" + path)
            answer = handler(params) if handler else None
            if answer is None:
                return "", 204
            return answer if isinstance(answer, tuple) else Response(answer, mimetype="text/xml")

        client = flask.test_client()
        self.post = lambda url, data, headers: client.post(url, data=data, headers=headers)
        self.get = lambda url, headers: client.get(url, headers=headers)

    def route(self, path: str):
        def register(handler):
            self.routes[path] = handler
            return handler

        return register

    def answer(self, path: str, twiml: str) -> None:
        """Answer ``path`` with fixed TwiML."""
        self.routes[path] = lambda params: twiml

    def params(self, path: str) -> list[dict[str, str]]:
        return [params for received, params in self.received if received == path]


@pytest.fixture
def fake():
    with FakeTwilio(clock=lambda: START) as server:
        yield server
        assert server.errors == []


@pytest.fixture
def app(fake):
    tiny = TinyApp(fake)
    fake.post = tiny.post  # the voice network delivers through the fake's transport...
    fake.voice.get = tiny.get  # ...and GET webhooks through this one
    fake.voice.number(NUMBER, voice_url=f"{BASE}/voice/incoming", status_callback=f"{BASE}/voice/status")
    yield tiny
    assert tiny.rejected == []


@pytest.fixture
def net(fake, app):
    return fake.voice


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def conference_events(app: TinyApp) -> list[tuple[str, str | None]]:
    return [(p["StatusCallbackEvent"], p.get("CallSid")) for p in app.params("/voice/conference-events")]


# -- <Dial><Number> ------------------------------------------------------------


def screened_dial(app: TinyApp, timeout: int = 20) -> None:
    app.answer(
        "/voice/incoming",
        f'<Response><Say>Connecting you</Say><Dial action="/voice/dial-done" timeout="{timeout}" '
        f'callerId="{NUMBER}"><Number url="/voice/screen">{AGENT}</Number></Dial></Response>',
    )
    app.answer(
        "/voice/screen",
        '<Response><Gather numDigits="1" action="/voice/screen-result"><Say>Press 1 to accept</Say></Gather>'
        "<Hangup/></Response>",
    )

    @app.route("/voice/screen-result")
    def screen_result(params):
        if params["Digits"] == "1":
            return "<Response><Say>Connecting</Say></Response>"
        return "<Response><Hangup/></Response>"

    app.answer("/voice/dial-done", "<Response><Say>Goodbye</Say><Hangup/></Response>")


def test_screened_dial_bridges_when_the_callee_presses_1(net, app):
    screened_dial(app)
    net.phone(AGENT, Answers(after=3, press="1", stay=60))

    sid = net.dial(from_=CALLER, to=NUMBER)
    net.run()

    caller, [agent] = net.call(sid), net.calls_to(AGENT)
    assert (agent.parent_sid, agent.direction, agent.from_) == (sid, "outbound-dial", NUMBER)
    assert agent.heard == ("Press 1 to accept", "Connecting") and agent.pressed == ("1",)
    [screen] = app.params("/voice/screen")
    assert screen["CallSid"] == agent.sid and screen["ParentCallSid"] == sid and screen["CallStatus"] == "in-progress"
    [done] = app.params("/voice/dial-done")
    assert done["DialCallStatus"] == "completed" and done["DialCallSid"] == agent.sid
    assert done["DialBridged"] == "true" and done["DialCallDuration"] == str(agent.duration)
    # answered 3 s after the dial, screened ~2.8 s, then bridged for the 60 s the agent stays
    assert agent.answer_time - agent.start_time == timedelta(seconds=3)
    assert agent.duration == 63 and agent.status == "completed"
    assert caller.heard == ("Connecting you", "Goodbye") and caller.status == "completed"
    [final] = app.params("/voice/status")
    assert final["CallSid"] == sid and final["CallStatus"] == "completed"
    assert net.errors == []


def test_screening_that_hangs_up_is_no_answer_for_the_caller(net, app):
    screened_dial(app)
    net.phone(AGENT, Answers(after=2, press="2"))

    sid = net.dial(from_=CALLER, to=NUMBER)
    net.run()

    [agent] = net.calls_to(AGENT)
    assert agent.pressed == ("2",) and agent.status == "completed"
    [done] = app.params("/voice/dial-done")
    assert (done["DialCallStatus"], done["DialBridged"]) == ("no-answer", "false")
    assert net.call(sid).heard == ("Connecting you", "Goodbye")
    assert net.errors == []


def test_no_answer_ends_the_dial_after_its_timeout_in_virtual_time(net, app):
    screened_dial(app, timeout=600)
    net.phone(AGENT, NoAnswer())

    started = time.monotonic()
    net.dial(from_=CALLER, to=NUMBER)
    net.run()

    assert time.monotonic() - started < 60  # ten virtual minutes, no real wait
    [agent] = net.calls_to(AGENT)
    assert agent.status == "no-answer" and agent.answer_time is None
    assert agent.end_time - agent.start_time == timedelta(seconds=600)
    [done] = app.params("/voice/dial-done")
    assert (done["DialCallStatus"], done["DialCallDuration"]) == ("no-answer", "0")
    [hook] = net.webhooks_to("/voice/dial-done")
    assert hook.at == agent.end_time
    assert app.params("/voice/screen") == []
    assert net.errors == []


@pytest.mark.parametrize(
    ("script", "status", "rings"),
    [(Busy(), "busy", 0), (Fails(), "failed", 0), (Answers(after=25), "no-answer", 20), (NoAnswer(), "no-answer", 20)],
)
def test_dial_outcomes_reach_the_dial_action(net, app, script, status, rings):
    screened_dial(app, timeout=20)
    net.phone(AGENT, script)

    net.dial(from_=CALLER, to=NUMBER)
    net.run()

    [agent] = net.calls_to(AGENT)
    assert agent.status == status
    assert agent.end_time - agent.start_time == timedelta(seconds=rings)
    [done] = app.params("/voice/dial-done")
    assert done["DialCallStatus"] == status and done["DialCallSid"] == agent.sid
    assert net.errors == []


def test_caller_hanging_up_during_a_bridge_ends_both_and_still_requests_the_dial_action(net, app):
    app.answer("/voice/incoming", f'<Response><Dial action="/voice/dial-done">{AGENT}</Dial></Response>')
    app.answer("/voice/dial-done", "<Response><Say>Not heard</Say></Response>")
    net.phone(AGENT, Answers(after=4))

    sid = net.dial(from_=CALLER, to=NUMBER, caller=Caller(stay=30))
    net.run()

    caller, [agent] = net.call(sid), net.calls_to(AGENT)
    assert agent.from_ == CALLER  # no callerId: the caller's own number, as Twilio does
    assert (caller.status, agent.status) == ("completed", "completed")
    assert caller.end_time == agent.end_time == at(34)
    [done] = app.params("/voice/dial-done")
    assert (done["CallStatus"], done["DialCallStatus"], done["DialCallDuration"]) == ("completed", "completed", "30")
    assert caller.heard == ()
    assert net.errors == []


def test_rest_redirect_of_the_dialled_leg_ends_the_dial_for_the_caller(net, app):
    app.answer("/voice/incoming", f'<Response><Dial action="/voice/dial-done">{AGENT}</Dial></Response>')
    app.answer("/voice/dial-done", "<Response><Say>Goodbye</Say></Response>")
    net.phone(AGENT, Answers(after=2))

    sid = net.dial(from_=CALLER, to=NUMBER)
    net.run()  # bridged; neither side hangs up: quiet
    [agent] = net.calls_to(AGENT)
    assert (net.call(sid).status, agent.status) == ("in-progress", "in-progress")

    app.twilio.calls(agent.sid).update(twiml="<Response><Say>Transferring you</Say></Response>")
    net.run()

    [done] = app.params("/voice/dial-done")
    assert (done["DialCallStatus"], done["DialCallSid"]) == ("completed", agent.sid)
    assert net.call(agent.sid).heard == ("Transferring you",) and net.call(agent.sid).status == "completed"
    assert net.call(sid).heard == ("Goodbye",) and net.call(sid).status == "completed"
    assert net.errors == []


# -- conferences ---------------------------------------------------------------


def coach_flow(app: TinyApp, state: dict[str, str]) -> None:
    """The caller waits in a conference while the app calls a coach, who presses 1 to join."""

    @app.route("/voice/incoming")
    def incoming(params):
        room = f"call-{params['CallSid']}"
        coach = app.twilio.calls.create(
            to=COACH,
            from_=NUMBER,
            url=f"{BASE}/voice/coach?room={room}",
            status_callback=f"{BASE}/voice/coach-status",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
        )
        state["coach"], state["room"] = coach.sid, room
        return (
            '<Response><Say>Please hold</Say><Dial action="/voice/after-conference">'
            '<Conference startConferenceOnEnter="false" endConferenceOnExit="true" waitUrl="/voice/wait" '
            'statusCallback="/voice/conference-events" statusCallbackEvent="start end join leave">'
            f"{room}</Conference></Dial></Response>"
        )

    app.answer(
        "/voice/wait",
        "<Response><Say>Your call is important to us</Say><Play>https://example.test/music.mp3</Play></Response>",
    )
    app.routes["/voice/coach"] = lambda params: (
        f'<Response><Gather numDigits="1" action="/voice/coach-accept?room={params["room"]}">'
        "<Say>Press 1 to join</Say></Gather><Hangup/></Response>"
    )
    app.routes["/voice/coach-accept"] = lambda params: (
        f'<Response><Dial><Conference startConferenceOnEnter="true">{params["room"]}</Conference></Dial></Response>'
    )
    app.answer("/voice/after-conference", "<Response><Say>Thanks</Say></Response>")


def test_coach_called_through_rest_gathers_then_joins_the_waiting_caller(net, app):
    state: dict[str, str] = {}
    coach_flow(app, state)
    net.phone(COACH, Answers(after=2, press="1"))

    sid = net.dial(from_=CALLER, to=NUMBER, caller=Caller(stay=120))
    net.run()

    conference = net.conferences[state["room"]]
    assert conference.status == "completed"
    assert conference.reason_ended == "participant-with-end-conference-on-exit-left"
    assert [p.call_sid for p in conference.participants] == [sid, state["coach"]]
    assert conference.started is not None and conference.started == conference.participants[1].joined
    assert conference_events(app) == [
        ("participant-join", sid),
        ("participant-join", state["coach"]),
        ("conference-start", None),
        ("participant-leave", sid),
        ("participant-leave", state["coach"]),
        ("conference-end", None),
    ]
    caller, coach = net.call(sid), net.call(state["coach"])
    assert caller.heard == ("Please hold", "Your call is important to us")  # wait music stops when it starts
    assert caller.played == ("https://example.test/music.mp3",)
    assert coach.heard == ("Press 1 to join",) and coach.pressed == ("1",)
    assert caller.status == coach.status == "completed"
    assert caller.end_time == coach.end_time
    # the caller hung up: the Dial action is still requested, its answer is not played
    [after] = app.params("/voice/after-conference")
    assert (after["CallStatus"], after["DialCallStatus"]) == ("completed", "answered")
    statuses = app.params("/voice/coach-status")
    assert [p["CallStatus"] for p in statuses] == ["initiated", "ringing", "in-progress", "completed"]
    assert net.errors == []


def test_caller_hanging_up_while_the_coach_rings_lets_the_app_cancel_the_coach(net, app):
    state: dict[str, str] = {}
    coach_flow(app, state)
    net.phone(COACH, NoAnswer())

    @app.route("/voice/status")
    def status(params):
        if params["CallStatus"] == "completed":
            app.twilio.calls(state["coach"]).update(status="canceled")

    sid = net.dial(from_=CALLER, to=NUMBER, caller=Caller(hang_up_after=10))
    net.run()

    [final] = app.params("/voice/status")
    assert (final["CallSid"], final["CallStatus"], final["CallDuration"]) == (sid, "completed", "10")
    coach = net.call(state["coach"])
    assert coach.status == "canceled" and coach.end_time == at(10)
    assert [p["CallStatus"] for p in app.params("/voice/coach-status")] == ["initiated", "ringing", "canceled"]
    assert app.params("/voice/coach") == []
    assert net.conferences[state["room"]].status == "completed"
    assert net.errors == []


def test_rest_redirect_of_a_call_waiting_in_a_conference(net, app):
    app.answer(
        "/voice/incoming",
        '<Response><Dial action="/voice/after-conference"><Conference startConferenceOnEnter="false" waitUrl="" '
        'statusCallback="/voice/conference-events" statusCallbackEvent="join leave end">queue-1</Conference>'
        "</Dial><Say>After the dial</Say></Response>",
    )
    app.answer("/voice/voicemail", "<Response><Say>Please leave a message</Say><Hangup/></Response>")

    sid = net.dial(from_=CALLER, to=NUMBER)
    net.run()  # waits in silence: nothing left to happen
    waiting = net.conferences["queue-1"]
    assert waiting.status == "init" and [p.call_sid for p in waiting.present] == [sid]

    call = app.twilio.calls(sid).update(url=f"{BASE}/voice/voicemail", method="POST")
    assert call.status == "in-progress"
    net.run()

    assert conference_events(app) == [("participant-join", sid), ("participant-leave", sid), ("conference-end", None)]
    assert net.conferences["queue-1"].reason_ended == "last-participant-left"
    caller = net.call(sid)
    assert caller.heard == ("Please leave a message",) and caller.status == "completed"
    assert app.params("/voice/after-conference") == []  # a redirect replaces the Dial: no action
    [update] = net.webhooks_to("/voice/voicemail")
    assert update.kind == "update" and update.params["CallStatus"] == "in-progress"
    assert net.errors == []


def test_participants_api_by_friendly_name_with_hold_and_unhold(net, app):
    app.answer(
        "/voice/incoming",
        '<Response><Dial><Conference statusCallback="/voice/conference-events" '
        'statusCallbackEvent="start end join leave hold">room-7</Conference></Dial></Response>',
    )
    net.phone(AGENT, Answers(after=2))
    sid = net.dial(from_=CALLER, to=NUMBER)
    net.run()
    room = net.conferences["room-7"]
    assert room.status == "in-progress"

    created = app.twilio.conferences("room-7").participants.create(
        from_=NUMBER, to=AGENT, label="agent", status_callback=f"{BASE}/voice/agent-status",
        status_callback_event=["answered", "completed"],
    )
    assert (created.status, created.conference_sid, created.label) == ("queued", room.sid, "agent")
    net.run()

    agent_sid = created.call_sid
    assert [p.call_sid for p in net.conferences["room-7"].present] == [sid, agent_sid]
    participants = app.twilio.conferences(room.sid).participants
    assert participants("agent").update(hold=True).hold is True
    net.run()
    assert participants(agent_sid).fetch().hold is True and net.conference("room-7").participants[1].hold
    participants("agent").update(hold=False)
    net.run()
    assert sorted(p.call_sid for p in participants.list()) == sorted([sid, agent_sid])
    assert participants("agent").delete() is True
    net.run()
    assert net.call(agent_sid).status == "completed"  # kicked: a Participants API call has no TwiML to go on with
    assert app.twilio.conferences(room.sid).fetch().status == "in-progress"

    net.hang_up(sid)
    net.run()

    assert conference_events(app) == [
        ("participant-join", sid),
        ("conference-start", None),
        ("participant-join", agent_sid),
        ("participant-hold", agent_sid),
        ("participant-unhold", agent_sid),
        ("participant-leave", agent_sid),
        ("participant-leave", sid),
        ("conference-end", None),
    ]
    hold = app.params("/voice/conference-events")[3]
    assert (hold["Hold"], hold["ParticipantLabel"], hold["ConferenceSid"]) == ("true", "agent", room.sid)
    assert [p["CallStatus"] for p in app.params("/voice/agent-status")] == ["in-progress", "completed"]
    listed = app.twilio.conferences.list(friendly_name="room-7")
    assert [(c.sid, c.status) for c in listed] == [(room.sid, "completed")]
    with pytest.raises(TwilioRestException) as raised:
        participants("agent").fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)
    assert net.errors == []


def test_end_conference_on_exit_ends_it_for_everyone_else(net, app):
    @app.route("/voice/incoming")
    def incoming(params):
        host = params["From"] == CALLER
        return (
            '<Response><Dial action="/voice/after-conference"><Conference '
            f'endConferenceOnExit="{str(host).lower()}" startConferenceOnEnter="{str(host).lower()}" '
            'statusCallback="/voice/conference-events" statusCallbackEvent="start end join leave">team'
            "</Conference></Dial></Response>"
        )

    app.answer("/voice/after-conference", "<Response><Say>The host has left</Say></Response>")

    guest = net.dial(from_=GUEST, to=NUMBER)
    host = net.dial(from_=CALLER, to=NUMBER, caller=Caller(stay=30))
    net.run()

    team = net.conferences["team"]
    assert team.status == "completed" and team.reason_ended == "participant-with-end-conference-on-exit-left"
    assert team.ended == at(30)
    assert conference_events(app) == [
        ("participant-join", guest),
        ("participant-join", host),
        ("conference-start", None),
        ("participant-leave", host),
        ("participant-leave", guest),
        ("conference-end", None),
    ]
    after = {params["CallSid"]: params for params in app.params("/voice/after-conference")}
    assert (after[guest]["CallStatus"], after[guest]["DialCallStatus"]) == ("in-progress", "answered")
    assert after[guest]["DialCallDuration"] == "30"
    assert net.call(guest).heard == ("The host has left",) and net.call(guest).status == "completed"
    assert after[host]["CallStatus"] == "completed" and net.call(host).heard == ()
    assert net.errors == []


# -- <Record> ------------------------------------------------------------------


def test_record_makes_a_recording_the_app_can_fetch_download_and_delete(fake, net, app):
    app.answer(
        "/voice/incoming",
        '<Response><Say>Leave a message after the beep</Say><Record maxLength="30" action="/voice/recorded" '
        'recordingStatusCallback="/voice/recording-status"/><Say>Not reached</Say></Response>',
    )
    app.answer("/voice/recorded", "<Response><Say>Thank you</Say><Hangup/></Response>")

    sid = net.dial(from_=CALLER, to=NUMBER, caller=Caller(record_seconds=20))
    net.run()

    [recording] = net.recordings.values()
    assert (recording.call_sid, recording.duration, recording.deleted) == (sid, 20, False)
    assert recording.url == f"{TWILIO_API}/2010-04-01/Accounts/{fake.account_sid}/Recordings/{recording.sid}"
    [action] = app.params("/voice/recorded")
    assert (action["RecordingSid"], action["RecordingUrl"], action["RecordingDuration"]) == (
        recording.sid, recording.url, "20",
    )
    assert "Digits" not in action
    [status] = app.params("/voice/recording-status")
    assert (status["RecordingStatus"], status["RecordingDuration"], status["CallSid"]) == ("completed", "20", sid)
    assert net.call(sid).heard == ("Leave a message after the beep", "Thank you")

    fetched = app.twilio.recordings(recording.sid).fetch()
    assert (fetched.call_sid, fetched.duration, fetched.status) == (sid, "20", "completed")
    session = requests.Session()
    session.trust_env = False
    media = fake.base_url + recording.url[len(TWILIO_API):]
    wav = session.get(media + ".wav", auth=(fake.account_sid, fake.auth_token), timeout=10)
    assert wav.status_code == 200 and wav.headers["Content-Type"] == "audio/x-wav"
    assert wav.content.startswith(b"RIFF") and b"WAVE" in wav.content[:12]
    mp3 = session.get(media + ".mp3", auth=(fake.account_sid, fake.auth_token), timeout=10)
    assert mp3.status_code == 200 and mp3.headers["Content-Type"] == "audio/mpeg"
    assert session.get(media + ".wav", timeout=10).status_code == 401

    assert app.twilio.recordings(recording.sid).delete() is True
    assert net.recordings[recording.sid].deleted
    with pytest.raises(TwilioRestException) as raised:
        app.twilio.recordings(recording.sid).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)
    assert session.get(media + ".wav", auth=(fake.account_sid, fake.auth_token), timeout=10).status_code == 404
    assert net.errors == []


def test_hanging_up_during_record_still_requests_the_action_with_digits_hangup(net, app):
    app.answer(
        "/voice/incoming",
        '<Response><Say>Leave a message</Say><Record action="/voice/recorded"/></Response>',
    )
    app.answer("/voice/recorded", "<Response><Say>Not heard</Say></Response>")

    sid = net.dial(from_=CALLER, to=NUMBER, caller=Caller(record_seconds=60, hang_up_after=15))
    net.run()

    [recording] = net.recordings.values()
    assert recording.duration == 14  # "Leave a message" takes 1 s
    [action] = app.params("/voice/recorded")
    assert (action["Digits"], action["CallStatus"], action["RecordingDuration"]) == ("hangup", "completed", "14")
    assert net.call(sid).heard == ("Leave a message",)
    assert net.errors == []


# -- scripted phones and webhooks ------------------------------------------------


def test_voicemail_never_presses_and_says_nothing_into_record(net, app):
    app.answer(
        "/voice/outbound",
        '<Response><Gather numDigits="1" action="/voice/pressed"><Say>Press 1 to confirm</Say></Gather>'
        '<Say>We will call you back</Say><Record action="/voice/recorded" timeout="3"/><Say>Goodbye</Say>'
        "</Response>",
    )
    net.phone(AGENT, Voicemail(after=4))

    call = app.twilio.calls.create(to=AGENT, from_=NUMBER, url=f"{BASE}/voice/outbound")
    net.run()

    machine = net.call(call.sid)
    assert machine.heard == ("Press 1 to confirm", "We will call you back", "Goodbye")
    assert machine.pressed == () and machine.answer_time == at(4) and machine.status == "completed"
    assert app.params("/voice/pressed") == [] and app.params("/voice/recorded") == []
    assert net.recordings == {}  # an empty recording is dropped, as Twilio does
    assert net.errors == []


def test_status_callbacks_count_sequence_numbers_in_virtual_time(net, app):
    app.answer("/voice/outbound", '<Response><Say>Hello</Say><Pause length="10"/></Response>')
    net.phone(AGENT, Answers(after=5, stay=20))

    call = app.twilio.calls.create(
        to=AGENT, from_=NUMBER, url=f"{BASE}/voice/outbound", status_callback=f"{BASE}/voice/call-status",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
    )
    assert (call.status, call.direction, call.start_time) == ("queued", "outbound-api", None)
    net.run()

    callbacks = app.params("/voice/call-status")
    assert [p["CallStatus"] for p in callbacks] == ["initiated", "ringing", "in-progress", "completed"]
    assert [p["SequenceNumber"] for p in callbacks] == ["0", "1", "2", "3"]
    assert [p["Timestamp"] for p in callbacks] == [rfc2822(at(0)), rfc2822(at(0)), rfc2822(at(5)), rfc2822(at(15))]
    assert {p["CallbackSource"] for p in callbacks} == {"call-progress-events"}
    assert callbacks[-1]["CallDuration"] == "11"  # 10.33 s from answer to the end of the TwiML
    assert app.params("/voice/outbound")[0]["CallStatus"] == "in-progress"
    fetched = app.twilio.calls(call.sid).fetch()
    assert (fetched.status, fetched.duration, fetched.start_time) == ("completed", "11", at(0))
    assert fetched.end_time == at(15) and net.now() > at(15)
    assert [c.sid for c in app.twilio.calls.list(to=AGENT)] == [call.sid]
    assert net.errors == []


def test_gather_action_with_get_is_signed_over_the_query_string(net, app):
    app.answer(
        "/voice/incoming",
        '<Response><Gather action="/voice/menu?step=2" method="GET" finishOnKey="#">'
        "<Say>Enter your code then hash</Say></Gather></Response>",
    )
    app.answer("/voice/menu", "<Response><Say>Thanks</Say></Response>")

    sid = net.dial(from_=CALLER, to=NUMBER, caller=Caller(press="42#"))
    net.run()

    [menu] = app.params("/voice/menu")
    assert (menu["step"], menu["Digits"], menu["FinishedOnKey"], menu["From"]) == ("2", "42", "#", CALLER)
    [hook] = net.webhooks_to("/voice/menu")
    assert hook.method == "GET" and "Digits=42" in hook.url
    assert net.call(sid).heard == ("Enter your code then hash", "Thanks")
    assert net.errors == []


def test_reject_busy_is_never_answered(net, app):
    app.answer("/voice/incoming", '<Response><Reject reason="busy"/></Response>')

    sid = net.dial(from_=CALLER, to=NUMBER)
    net.run()

    call = net.call(sid)
    assert (call.status, call.answer_time, call.duration) == ("busy", None, 0)
    [final] = app.params("/voice/status")
    assert (final["CallStatus"], final["CallDuration"]) == ("busy", "0")
    assert net.errors == []


def test_a_failing_webhook_is_an_application_error(net, app):
    app.answer("/voice/incoming", '<Response><Gather numDigits="1" action="/voice/broken"><Say>Hi</Say></Gather>'
                                  "</Response>")
    app.routes["/voice/broken"] = lambda params: ("no such page", 404)
    app.answer("/voice/outbound", "this is not TwiML")
    net.phone(AGENT, Answers(after=1))

    sid = net.dial(from_=CALLER, to=NUMBER, caller=Caller(press="1"))
    call = app.twilio.calls.create(to=AGENT, from_=NUMBER, url=f"{BASE}/voice/outbound")
    net.run()

    assert net.call(sid).heard == ("Hi", APPLICATION_ERROR) and net.call(sid).status == "completed"
    assert net.call(call.sid).heard == (APPLICATION_ERROR,)
    errors = net.errors
    assert len(errors) == 2
    assert any("11200" in error and "/voice/broken" in error for error in errors)
    assert any("12100" in error and "/voice/outbound" in error for error in errors)


def test_unknown_verbs_are_reported(net, app):
    app.answer("/voice/incoming", "<Response><Enqueue>support</Enqueue></Response>")

    sid = net.dial(from_=CALLER, to=NUMBER)
    net.run()

    assert net.call(sid).heard == (APPLICATION_ERROR,)
    [error] = net.errors
    assert "<Enqueue>" in error


def test_rest_errors(fake, net, app):
    net.refuse("+13125550199", code=13224)

    def create(**kwargs):
        with pytest.raises(TwilioRestException) as raised:
            app.twilio.calls.create(**{"from_": NUMBER, "url": f"{BASE}/voice/outbound", **kwargs})
        return raised.value.status, raised.value.code

    assert create(to="3125550111") == (400, 21211)
    assert create(to="+13125550199") == (400, 13224)
    assert create(to=AGENT, url="/relative") == (400, 21205)
    with pytest.raises(TwilioRestException) as raised:
        app.twilio.conferences("room-9").participants.create(from_=NUMBER, to="+13125550199")
    assert (raised.value.status, raised.value.code) == (400, 13224)
    for fetch in (
        lambda: app.twilio.calls("CA" + "0" * 32).fetch(),
        lambda: app.twilio.conferences("CF" + "0" * 32).fetch(),
        lambda: app.twilio.conferences("CF" + "0" * 32).participants.create(from_=NUMBER, to=AGENT),
        lambda: app.twilio.recordings("RE" + "0" * 32).fetch(),
    ):
        with pytest.raises(TwilioRestException) as raised:
            fetch()
        assert (raised.value.status, raised.value.code) == (404, 20404)

    app.answer("/voice/incoming", "<Response><Hangup/></Response>")
    sid = net.dial(from_=CALLER, to=NUMBER)
    net.run()
    with pytest.raises(TwilioRestException) as raised:
        app.twilio.calls(sid).update(url=f"{BASE}/voice/elsewhere")
    assert (raised.value.status, raised.value.code) == (400, 21220)
    assert app.twilio.calls(sid).update(status="completed").status == "completed"  # already over: unchanged
    assert net.errors == []


def test_unscripted_phones_ring_out(net, app):
    call = app.twilio.calls.create(to=AGENT, from_=NUMBER, url=f"{BASE}/voice/outbound", timeout=15,
                                   status_callback=f"{BASE}/voice/call-status")
    net.run()

    record = net.call(call.sid)
    assert record.status == "no-answer" and record.end_time == at(15)
    [final] = app.params("/voice/call-status")
    assert (final["CallStatus"], final["SequenceNumber"]) == ("no-answer", "0")
    assert app.params("/voice/outbound") == []
    assert net.errors == []


def test_presses_can_differ_per_gather(net, app):
    app.answer(
        "/voice/incoming",
        '<Response><Gather numDigits="1" action="/voice/one"><Say>First</Say></Gather></Response>',
    )
    app.answer("/voice/one", '<Response><Gather numDigits="1" action="/voice/two"><Say>Second</Say></Gather>'
                             "<Say>Nothing pressed</Say></Response>")

    sid = net.dial(from_=CALLER, to=NUMBER, caller=Caller(press=["3", None]))
    net.run()

    assert [p["Digits"] for p in app.params("/voice/one")] == ["3"]
    assert app.params("/voice/two") == []
    assert net.call(sid).heard == ("First", "Second", "Nothing pressed")
    assert net.call(sid).pressed == ("3",)
    assert net.errors == []


def test_the_guard_stops_loops(net, app):
    app.answer("/voice/incoming", '<Response><Pause length="1"/><Redirect>/voice/incoming</Redirect></Response>')
    net.dial(from_=CALLER, to=NUMBER)
    with pytest.raises(VoiceNetworkError, match="more than 40 events"):
        net.run(max_events=40)

    net.reset()
    net.number(NUMBER, voice_url=f"{BASE}/voice/waiting")
    app.answer(
        "/voice/waiting",
        '<Response><Dial><Conference startConferenceOnEnter="false" waitUrl="/voice/music">alone</Conference>'
        "</Dial></Response>",
    )
    app.answer("/voice/music", "<Response><Play>https://example.test/music.mp3</Play></Response>")
    net.dial(from_=CALLER, to=NUMBER)  # waits for ever, hearing the music again and again
    with pytest.raises(VoiceNetworkError, match="virtual seconds"):
        net.run()
    assert len(app.params("/voice/music")) == 1  # fetched once, looped


def test_reset_forgets_calls(fake, net, app):
    app.answer("/voice/incoming", "<Response><Say>Hi</Say></Response>")
    net.dial(from_=CALLER, to=NUMBER)
    net.run()
    assert len(net.calls) == 1 and net.webhooks

    fake.reset()

    assert (net.calls, net.conferences, net.recordings, net.webhooks, net.errors) == ({}, {}, {}, [], [])
    with pytest.raises(ValueError, match="no voice_url"):
        net.dial(from_=CALLER, to=NUMBER)


def test_run_until_stops_the_clock_in_the_middle_of_a_call(net, app):
    app.answer("/voice/incoming", f"<Response><Dial>{AGENT}</Dial></Response>")
    net.phone(AGENT, Answers(after=5, stay=60))

    sid = net.dial(from_=CALLER, to=NUMBER)
    net.run(until=30)

    assert net.elapsed() == 30 and net.now() == at(30)
    [agent] = net.calls_to(AGENT)
    assert (net.call(sid).status, agent.status, agent.answer_time) == ("in-progress", "in-progress", at(5))
    net.run()
    assert net.call(agent.sid).end_time == at(65)
    assert net.call(sid).status == "completed" and net.call(sid).end_time == at(65)  # no more TwiML after <Dial>
    assert net.errors == []


def test_inline_twiml_and_a_new_url_for_a_call_still_ringing(net, app):
    net.phone(AGENT, Answers(after=3))
    net.phone(COACH, Answers(after=3))
    app.answer("/voice/second", "<Response><Say>Second thoughts</Say></Response>")

    inline = app.twilio.calls.create(to=AGENT, from_=NUMBER, twiml="<Response><Say>Inline hello</Say></Response>")
    ringing = app.twilio.calls.create(to=COACH, from_=NUMBER, url=f"{BASE}/voice/first")
    assert app.twilio.calls(ringing.sid).update(url=f"{BASE}/voice/second").status == "queued"
    net.run()

    assert net.call(inline.sid).heard == ("Inline hello",) and net.call(inline.sid).status == "completed"
    assert net.call(ringing.sid).heard == ("Second thoughts",) and app.params("/voice/first") == []
    assert net.errors == []
