"""A fake Twilio Voice platform and scripted phone network, driven by a virtual clock.

``FakeTwilio.voice`` is a :class:`VoiceNetwork`. A test configures the app's
numbers and scripts the phones, places calls into the app, then calls
:meth:`VoiceNetwork.run`, which plays the calls out in the caller's thread: it
delivers the (signed) webhooks, executes the TwiML the app answers the way
Twilio does (``twiml_runner.py``) and serves the Calls, Conferences,
Participants and Recordings REST API the app calls meanwhile (``voice_rest.py``).
Nothing waits for the wall clock: events sit in a priority queue ordered by
virtual time (then insertion order) and time jumps from one to the next::

    net = fake.voice
    net.number("+13125550100", voice_url="http://localhost/voice/incoming",
               status_callback="http://localhost/voice/status")
    net.phone("+13125550111", Answers(after=2, press="1"))
    sid = net.dial(from_="+13125550142", to="+13125550100", caller=Caller(stay=120))
    net.run()            # or net.run(until=60): stop the clock 60 virtual seconds in, act, run on
    assert net.call(sid).status == "completed" and net.errors == []

Threads: ``run()`` holds the network's lock while it processes an event and lets
go of it only while a webhook is being delivered. The app's REST requests arrive
on the fake server's threads (often from inside a webhook handler); they take the
lock, change state and queue events, and never deliver webhooks themselves, so
nothing deadlocks. Status callbacks and other notifications are queued too; only
webhooks whose answer is TwiML are delivered by the event that needs the answer.

Where Twilio's behaviour is uncertain or simplified, the fake does this:

* A ``<Number url>`` screening document that hangs up (or fails, or whose callee
  hangs up) means no bridge: the parent's ``DialCallStatus`` is ``no-answer``
  (what Twilio's call-screening tutorials rely on), ``DialBridged=false``.
* ``<Dial><Conference>`` ends with ``DialCallStatus=answered`` (Twilio's value
  "when calling a conference") and ``DialCallDuration`` = seconds in the conference.
* When the caller hangs up during a ``<Dial>`` (a number or a conference), the
  dialled leg is hung up (``canceled`` if still ringing) and the Dial ``action``
  is still requested with ``CallStatus=completed``; its answer is ignored. A REST
  redirect replaces the ``<Dial>`` instead: no action is requested. A
  ``<Record>`` cut by a hang-up requests its action with ``Digits=hangup``
  (answer ignored); an empty recording requests nothing (the next verb runs), as
  Twilio documents.
* Caller ID of a dialled leg: ``callerId``, else the parent call's ``From`` (Twilio's default).
* One noun per ``<Dial>`` (``<Number>``, a plain number or ``<Conference>``);
  others are reported in :attr:`VoiceNetwork.errors`. ``maxParticipants``,
  ``beep``, ``answerOnBridge``, ``hangupOnStar``, ``transcribe``, ``playBeep``,
  ``language`` and ``voice`` are accepted and ignored.
* A kicked participant (REST ``DELETE``) that joined through ``<Dial>`` goes on
  with the Dial action (or the next verb); one placed through the Participants
  API has no TwiML and hangs up. A REST ``Url``/``Twiml`` for a call not answered
  yet (an outbound-api call still ringing) is used when it answers; for an
  inbound call still ringing, or any call that ended, it is error 21220.
* A phone counts as connected (its ``stay`` starts) when bridged or when it joins
  a conference, even one that has not started.
* A conference ``waitUrl`` is fetched once and its document looped locally (a
  ``<Redirect>`` in it fetches again); no ``waitUrl`` attribute means Twilio's
  default hold music, which is not fetched. A failing waitUrl is reported in
  ``errors`` and the leg waits in silence.
* Conference events: ``participant-join`` comes before the ``conference-start`` it
  causes; when a conference ends every remaining participant gets a
  ``participant-leave`` before ``conference-end``. A ``statusCallback`` without
  ``statusCallbackEvent`` reports ``start end``. SequenceNumber counts from 1 per
  conference and from 0 per call (call progress events).
* A conference ends when its last connected participant leaves; a participant
  still being called through the Participants API then joins a fresh conference
  of the same friendly name when it answers.
* ``<Say>`` lasts len(text)/15 s, ``<Play>`` 5 s; a phone presses its digits 1 s
  after a ``<Gather>``'s prompts end. Call and recording durations are whole
  seconds, rounded up.
* A webhook that answers non-2xx (or, where TwiML is expected, something that is
  not a ``<Response>``) is recorded in ``errors``; the leg hears
  :data:`~fake_twilio.twiml_runner.APPLICATION_ERROR` and hangs up at once.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
import threading
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from fake_twilio.server import API_VERSION, _normalise_result, http_post, rfc2822
from fake_twilio.twiml_runner import (
    APPLICATION_ERROR,
    E164,
    ConferenceCallback,
    ConferenceOptions,
    DialOptions,
    NumberOptions,
    Program,
    RecordingInProgress,
    TwimlError,
    TwimlRunner,
    seconds,
)
from fake_twilio.voice_rest import VoiceRest

if TYPE_CHECKING:
    from fake_twilio.server import FakeTwilio

__all__ = [
    "APPLICATION_ERROR",
    "Answers",
    "Busy",
    "CallRecord",
    "Caller",
    "ConferenceRecord",
    "Fails",
    "NoAnswer",
    "ParticipantRecord",
    "RecordingRecord",
    "VoiceNetwork",
    "VoiceNetworkError",
    "VoiceWebhook",
    "Voicemail",
    "http_get",
]

_CONFERENCE_EVENT_KEYS = {
    "conference-start": "start",
    "conference-end": "end",
    "participant-join": "join",
    "participant-leave": "leave",
    "participant-hold": "hold",
    "participant-unhold": "hold",
    "participant-mute": "mute",
    "participant-unmute": "mute",
    "participant-modify": "modify",
}


class VoiceNetworkError(RuntimeError):
    """:meth:`VoiceNetwork.run` gave up: too many events or too much virtual time (a loop?)."""


# -- phone scripts -------------------------------------------------------------

Presses = str | Sequence[str | None] | None


@dataclass(frozen=True)
class Caller:
    """The person who places an inbound call with :meth:`VoiceNetwork.dial`.

    ``press``: digits pressed at every ``<Gather>`` (a list: one entry per
    ``<Gather>`` in turn, None for silence); ``hang_up_after``: seconds after
    dialling when the caller hangs up wherever the call is; ``record_seconds``:
    how long they speak into a ``<Record>``; ``stay``: seconds they stay once
    connected to someone (a bridge or a conference), None until the far side ends.
    """

    press: Presses = None
    hang_up_after: float | None = None
    record_seconds: float = 10.0
    stay: float | None = None


@dataclass(frozen=True)
class Answers:
    """A phone that answers ``after`` seconds of ringing (if before the dialler's timeout).

    ``press``, ``record_seconds`` and ``stay`` as for :class:`Caller`.
    """

    after: float = 2.0
    press: Presses = None
    stay: float | None = None
    record_seconds: float = 10.0


@dataclass(frozen=True)
class NoAnswer:
    """Rings until the dialler's timeout: ``no-answer``. Unscripted phones behave like this."""


@dataclass(frozen=True)
class Busy:
    """Busy at once: ``busy``."""


@dataclass(frozen=True)
class Fails:
    """Cannot be reached: ``failed`` at once."""


@dataclass(frozen=True)
class Voicemail:
    """An answering machine: answers after ``after`` s, never presses a key, says nothing into a
    ``<Record>`` and stays until the far side hangs up or the TwiML ends."""

    after: float = 1.0


PhoneScript = Caller | Answers | NoAnswer | Busy | Fails | Voicemail


class _Party:
    """The person or machine at the far end of one leg, as its script says."""

    def __init__(self, script: PhoneScript):
        self.script = script
        self.answer_after: float | None = script.after if isinstance(script, Answers | Voicemail) else None
        self.stay: float | None = getattr(script, "stay", None)
        self.record_seconds: float = float(getattr(script, "record_seconds", 0.0))
        press = getattr(script, "press", None)
        self._presses: list[str | None] | None = None if isinstance(press, str | None) else list(press)
        self._press: str | None = press if isinstance(press, str) else None

    def next_press(self) -> str | None:
        """The digits pressed at the next ``<Gather>`` (None: nothing)."""
        if self._presses is None:
            return self._press
        return self._presses.pop(0) if self._presses else None


# -- inspection records (plain data, snapshots) --------------------------------


@dataclass(frozen=True)
class CallRecord:
    """One call leg as the network saw it (times are virtual, aware UTC datetimes)."""

    sid: str
    from_: str
    to: str
    direction: str  # "inbound" | "outbound-api" | "outbound-dial"
    status: str
    parent_sid: str | None
    start_time: datetime | None
    answer_time: datetime | None
    end_time: datetime | None
    duration: int | None  # seconds from answer to end, once ended
    url: str | None
    heard: tuple[str, ...]  # every <Say> text the phone heard, in order
    played: tuple[str, ...]  # every <Play> URL it heard
    pressed: tuple[str, ...]  # the digits it pressed, one entry per <Gather>


@dataclass(frozen=True)
class ParticipantRecord:
    call_sid: str
    label: str | None
    status: str  # "queued" | "ringing" | "connected" | "complete" | "failed"
    hold: bool
    muted: bool
    start_on_enter: bool
    end_on_exit: bool
    joined: datetime | None
    left: datetime | None


@dataclass(frozen=True)
class ConferenceRecord:
    sid: str
    friendly_name: str
    status: str  # "init" | "in-progress" | "completed"
    participants: tuple[ParticipantRecord, ...]  # everyone who joined (or is being called), in order
    created: datetime
    started: datetime | None
    ended: datetime | None
    reason_ended: str | None

    @property
    def present(self) -> tuple[ParticipantRecord, ...]:
        """The participants in the conference now."""
        return tuple(p for p in self.participants if p.status == "connected")


@dataclass(frozen=True)
class RecordingRecord:
    sid: str
    call_sid: str
    duration: int
    url: str  # the RecordingUrl sent to the app (no extension)
    created: datetime
    deleted: bool


@dataclass(frozen=True)
class VoiceWebhook:
    """A webhook the network delivered, with what the app answered."""

    kind: str  # voice, update, redirect, gather, record, dial, screen, wait, status, conference, recording
    method: str
    url: str  # for GET, with the parameters in the query string
    params: dict[str, str]
    headers: dict[str, str]
    status: int | None  # None when the transport raised (see VoiceNetwork.errors)
    body: str | None
    at: datetime

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# -- internal state ------------------------------------------------------------


@dataclass(frozen=True)
class _NumberConfig:
    voice_url: str
    voice_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"


@dataclass(eq=False)
class _Dialing:
    """A ``<Dial><Number>`` in progress: the parent leg waits while the child rings/screens/talks."""

    parent: _Leg
    child: _Leg
    options: DialOptions
    bridged_at: float | None = None


@dataclass(eq=False)
class _Conference:
    sid: str
    name: str
    created: float
    status: str = "init"
    participants: list[_Participant] = field(default_factory=list)
    callback: ConferenceCallback | None = None
    sequence: int = 0
    started: float | None = None
    ended: float | None = None
    updated: float = 0.0
    reason_ended: str | None = None
    ended_by: str | None = None

    def present(self) -> list[_Participant]:
        return [p for p in self.participants if p.status == "connected"]

    def pending(self) -> list[_Participant]:
        return [p for p in self.participants if p.status in ("queued", "ringing")]


@dataclass(eq=False)
class _Participant:
    conference: _Conference
    leg: _Leg
    options: ConferenceOptions
    dial: DialOptions | None  # the <Dial> it joined through; None for a Participants API call
    created: float
    hold: bool = False
    muted: bool = False
    end_on_exit: bool = False
    status: str = "queued"
    waiting: bool = False
    joined: float | None = None
    left: float | None = None
    updated: float = 0.0

    @property
    def label(self) -> str | None:
        return self.options.label


@dataclass(eq=False)
class _Recording:
    sid: str
    call_sid: str
    duration: int
    started: float
    url: str
    deleted: bool = False


@dataclass(eq=False)
class _Leg:
    """One call leg: its identity, state, what its phone heard, and what it is busy with."""

    sid: str
    from_: str
    to: str
    direction: str
    party: _Party
    created: float
    parent_sid: str | None = None
    status: str = "queued"
    started: float | None = None
    answered: float | None = None
    ended: float | None = None
    updated: float = 0.0
    url: str | None = None
    method: str = "POST"
    twiml: str | None = None
    timeout: float = 60.0
    status_callback: str | None = None
    status_events: frozenset[str] = frozenset({"completed"})
    status_method: str = "POST"
    sequence: int = 0
    heard: list[str] = field(default_factory=list)
    played: list[str] = field(default_factory=list)
    pressed: list[str] = field(default_factory=list)
    # Bumped whenever what the leg executes is replaced: events scheduled before are dropped.
    epoch: int = 0
    program: Program | None = None
    wait_program: Program | None = None
    on_answer: Callable[[], None] | None = None
    dialing: _Dialing | None = None  # as the parent of a <Dial><Number>
    dialer: _Dialing | None = None  # as the dialled leg
    participant: _Participant | None = None  # the conference it is in
    pending: _Participant | None = None  # a Participants API call not yet answered
    recording: RecordingInProgress | None = None
    connected_at: float | None = None


def http_get(url: str, headers: dict[str, str], timeout: float = 10.0) -> tuple[int, str]:
    """GET ``url`` with urllib, ignoring proxy settings; returns ``(status_code, body)``."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, headers=headers, method="GET")  # noqa: S310 - scheme checked above
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


class VoiceNetwork:
    """Twilio Voice and the phones around it, for one :class:`~fake_twilio.server.FakeTwilio`.

    Webhooks go through ``post(url, data, headers)``: this object's ``post``, else
    the fake's ``post``, else :func:`~fake_twilio.server.http_post`. Webhooks with
    ``method="GET"`` go through ``get(url, headers)`` (default :func:`http_get`,
    which must be replaced when ``post`` is, e.g. by a Flask test client's ``get``).
    """

    def __init__(self, fake: FakeTwilio):
        self._fake = fake
        self._lock = threading.Lock()
        self.post: Callable[[str, dict[str, str], dict[str, str]], Any] | None = None
        self.get: Callable[[str, dict[str, str]], Any] | None = None
        self._runner = TwimlRunner(self)
        self.rest = VoiceRest(self)
        self._clear()

    def _clear(self) -> None:
        self._numbers: dict[str, _NumberConfig] = {}
        self._phones: dict[str, PhoneScript] = {}
        self._refusals: dict[str, tuple[int, int, str | None]] = {}
        self._legs: dict[str, _Leg] = {}
        self._conferences: dict[str, _Conference] = {}
        self._recordings: dict[str, _Recording] = {}
        self._webhooks: list[VoiceWebhook] = []
        self._errors: list[str] = []
        self._queue: list[tuple[float, int, Callable[[], None], Callable[[], bool] | None]] = []
        self._order = itertools.count()
        self._origin: datetime | None = None
        self._t = 0.0
        self._running = False

    def reset(self) -> None:
        """Forget numbers, phones, calls, conferences, recordings, webhooks, errors and the clock."""
        with self._lock:
            self._clear()

    @property
    def account_sid(self) -> str:
        return self._fake.account_sid

    # -- configuration -----------------------------------------------------

    def number(
        self,
        number: str,
        voice_url: str,
        status_callback: str | None = None,
        *,
        voice_method: str = "POST",
        status_callback_method: str = "POST",
    ) -> None:
        """Configure one of the app's numbers, like an IncomingPhoneNumber's voice settings.

        ``voice_url`` gets the inbound call webhook; ``status_callback`` gets the
        inbound call's final status callback (completed/busy/no-answer/failed/canceled).
        """
        with self._lock:
            self._numbers[number] = _NumberConfig(voice_url, voice_method, status_callback, status_callback_method)

    def phone(self, number: str, script: PhoneScript) -> None:
        """Script the phone at ``number`` (:class:`Answers`, :class:`NoAnswer`, :class:`Busy`, ...)."""
        with self._lock:
            self._phones[number] = script

    def refuse(self, number: str, code: int = 13224, status: int = 400, message: str | None = None) -> None:
        """Make creating a call (or participant) to ``number`` fail with this Twilio error."""
        with self._lock:
            self._refusals[number] = (status, code, message)

    def dial(self, from_: str, to: str, caller: Caller | None = None) -> str:
        """Place an inbound call from ``from_`` to the app's number ``to``; returns its CallSid.

        Nothing happens until :meth:`run`: then the number's ``voice_url`` is requested.
        """
        with self._lock:
            config = self._numbers.get(to)
            if config is None:
                raise ValueError(f"{to} has no voice_url: configure it with number() first")
            leg = self._new_leg(from_, to, "inbound", _Party(caller or Caller()))
            leg.status, leg.started = "ringing", self._t
            leg.url, leg.method = config.voice_url, config.voice_method
            leg.status_callback, leg.status_method = config.status_callback, config.status_callback_method
            self._fetch(leg, config.voice_url, config.voice_method, {}, "voice", "call")
            hang_up_after = leg.party.script.hang_up_after if isinstance(leg.party.script, Caller) else None
            if hang_up_after is not None:
                self._after_party(leg, hang_up_after, lambda: self._hang_up(leg))
            return leg.sid

    def hang_up(self, sid: str, after: float = 0.0) -> None:
        """Make the phone on call ``sid`` hang up ``after`` virtual seconds from now (during the next run)."""
        with self._lock:
            leg = self._leg(sid)
            self._after_party(leg, after, lambda: self._hang_up(leg))

    # -- running -----------------------------------------------------------

    def run(self, until: float | None = None, *, max_events: int = 10_000, max_seconds: float = 6 * 3600) -> None:
        """Process events in virtual-time order until none is left (or until virtual second ``until``).

        ``until`` counts seconds from the start of the virtual clock (see :meth:`elapsed`):
        events due later stay queued and the clock stops at ``until``, so a test
        can look at a call in progress, act (through the app's API) and run on.
        Raises :class:`VoiceNetworkError` after ``max_events`` events or when the
        virtual clock passes ``max_seconds`` after the start of this run.
        """
        with self._lock:
            if self._running:
                raise VoiceNetworkError("run() is already running (called from inside a webhook?)")
            self._running = True
            self._origin_time()
            limit, count = self._t + max_seconds, 0
            try:
                while self._queue and (until is None or self._queue[0][0] <= until):
                    moment, _, action, guard = heapq.heappop(self._queue)
                    if moment > limit:
                        raise VoiceNetworkError(f"still busy after {max_seconds:.0f} virtual seconds: a loop?")
                    count += 1
                    if count > max_events:
                        raise VoiceNetworkError(f"more than {max_events} events: a loop?")
                    self._t = max(self._t, moment)
                    if guard is None or guard():
                        action()
                if until is not None:
                    self._t = max(self._t, until)
            finally:
                self._running = False

    def elapsed(self) -> float:
        """Virtual seconds since the clock started (``now() - `` the fake's ``clock()`` at the start)."""
        with self._lock:
            self._origin_time()
            return self._t

    def now(self) -> datetime:
        """The virtual time (starts at the fake's ``clock()`` when first needed)."""
        with self._lock:
            return self._moment(self._t)

    # -- inspection --------------------------------------------------------

    @property
    def calls(self) -> dict[str, CallRecord]:
        """Every call leg by CallSid, oldest first."""
        with self._lock:
            return {sid: self._call_record(leg) for sid, leg in self._legs.items()}

    def call(self, sid: str) -> CallRecord:
        with self._lock:
            return self._call_record(self._leg(sid))

    def calls_to(self, number: str) -> list[CallRecord]:
        """The legs to ``number``, oldest first."""
        with self._lock:
            return [self._call_record(leg) for leg in self._legs.values() if leg.to == number]

    @property
    def conferences(self) -> dict[str, ConferenceRecord]:
        """Conferences by friendly name (the latest one when a name was reused)."""
        with self._lock:
            return {conf.name: self._conference_record(conf) for conf in self._conferences.values()}

    def conference(self, name_or_sid: str) -> ConferenceRecord:
        with self._lock:
            conf = self._conferences.get(name_or_sid) or self._latest_conference(name_or_sid)
            if conf is None:
                raise KeyError(f"no conference {name_or_sid}")
            return self._conference_record(conf)

    @property
    def recordings(self) -> dict[str, RecordingRecord]:
        with self._lock:
            return {
                sid: RecordingRecord(rec.sid, rec.call_sid, rec.duration, rec.url, self._moment(rec.started),
                                     rec.deleted)
                for sid, rec in self._recordings.items()
            }

    @property
    def webhooks(self) -> list[VoiceWebhook]:
        """Every webhook delivered, in order."""
        with self._lock:
            return list(self._webhooks)

    def webhooks_to(self, path: str) -> list[VoiceWebhook]:
        """The webhooks whose URL path is ``path`` (e.g. ``"/voice/status"``)."""
        return [hook for hook in self.webhooks if urlsplit(hook.url).path == path]

    @property
    def errors(self) -> list[str]:
        """Problems seen: failed webhooks, bad or unsupported TwiML. Tests expect it empty."""
        with self._lock:
            return list(self._errors)

    # -- records -----------------------------------------------------------

    def _call_record(self, leg: _Leg) -> CallRecord:
        return CallRecord(
            sid=leg.sid,
            from_=leg.from_,
            to=leg.to,
            direction=leg.direction,
            status=leg.status,
            parent_sid=leg.parent_sid,
            start_time=self._maybe_moment(leg.started),
            answer_time=self._maybe_moment(leg.answered),
            end_time=self._maybe_moment(leg.ended),
            duration=self._duration(leg),
            url=leg.url,
            heard=tuple(leg.heard),
            played=tuple(leg.played),
            pressed=tuple(leg.pressed),
        )

    def _conference_record(self, conf: _Conference) -> ConferenceRecord:
        participants = tuple(
            ParticipantRecord(
                call_sid=p.leg.sid,
                label=p.label,
                status=p.status,
                hold=p.hold,
                muted=p.muted,
                start_on_enter=p.options.start_on_enter,
                end_on_exit=p.end_on_exit,
                joined=self._maybe_moment(p.joined),
                left=self._maybe_moment(p.left),
            )
            for p in conf.participants
        )
        return ConferenceRecord(
            conf.sid, conf.name, conf.status, participants, self._moment(conf.created),
            self._maybe_moment(conf.started), self._maybe_moment(conf.ended), conf.reason_ended,
        )

    def _duration(self, leg: _Leg) -> int | None:
        if leg.ended is None:
            return None
        return seconds(leg.ended - leg.answered) if leg.answered is not None else 0

    # -- virtual time ------------------------------------------------------

    def _origin_time(self) -> datetime:
        if self._origin is None:
            self._origin = self._fake.clock()
        return self._origin

    def _moment(self, t: float) -> datetime:
        return self._origin_time() + timedelta(seconds=t)

    def _maybe_moment(self, t: float | None) -> datetime | None:
        return None if t is None else self._moment(t)

    def _rfc2822(self, t: float | None = None) -> str:
        return rfc2822(self._moment(self._t if t is None else t))

    def _schedule(self, delay: float, action: Callable[[], None], guard: Callable[[], bool] | None) -> None:
        self._origin_time()
        heapq.heappush(self._queue, (self._t + max(0.0, delay), next(self._order), action, guard))

    def _after(self, leg: _Leg | None, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` ``delay`` virtual seconds from now; dropped if ``leg`` ends or moves on meanwhile."""
        if leg is None:
            self._schedule(delay, action, None)
            return
        epoch = leg.epoch
        self._schedule(delay, action, lambda: leg.ended is None and leg.epoch == epoch)

    def _after_party(self, leg: _Leg, delay: float, action: Callable[[], None]) -> None:
        """Something the phone does (hang up): dropped only if the leg has ended by then."""
        self._schedule(delay, action, lambda: leg.ended is None)

    # -- problems ----------------------------------------------------------

    def _problem(self, text: str) -> None:
        self._errors.append(f"[{self._rfc2822()}] {text}")

    def _application_error(self, leg: _Leg) -> None:
        """What Twilio does when the app fails it: the phone hears the error message and the call ends."""
        leg.heard.append(APPLICATION_ERROR)
        if leg.direction == "inbound" and leg.answered is None:
            self._answer_inbound(leg)
        self._hang_up(leg)

    # -- webhooks ----------------------------------------------------------

    def _call_params(self, leg: _Leg) -> dict[str, str]:
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": leg.sid,
            "CallStatus": leg.status,
            "Direction": leg.direction,
            "From": leg.from_,
            "To": leg.to,
            "Caller": leg.from_,
            "Called": leg.to,
        }
        if leg.parent_sid:
            params["ParentCallSid"] = leg.parent_sid
        return params

    def _deliver(self, kind: str, url: str, method: str, params: dict[str, str]) -> VoiceWebhook:
        """Sign and deliver one webhook; the lock is released while the app handles it."""
        method = (method or "POST").upper()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        post = self.post or self._fake.post
        if method == "GET":
            target = url + ("&" if urlsplit(url).query else "?") + urlencode(params)
            headers["X-Twilio-Signature"] = self._fake.sign(target, {})
            get = self.get or (http_get if post is None else None)
            if get is None:
                raise VoiceNetworkError(f"a GET webhook to {url} needs fake.voice.get (post is custom)")
            send: Callable[[], Any] = lambda: get(target, dict(headers))  # noqa: E731
        else:
            target = url
            headers["X-Twilio-Signature"] = self._fake.sign(url, params)
            transport = post or http_post
            send = lambda: transport(url, dict(params), dict(headers))  # noqa: E731
        self._lock.release()
        try:
            result = _normalise_result(send())
        except Exception:  # noqa: BLE001 - the app blowing up is a failed webhook, reported in errors
            result = (None, traceback.format_exc())
        finally:
            self._lock.acquire()
        status, body = result if isinstance(result, tuple) and len(result) == 2 else (None, result)
        hook = VoiceWebhook(kind, method, target, dict(params), headers, status, body, self._moment(self._t))
        self._webhooks.append(hook)
        if not hook.ok:
            self._problem(f"11200 {kind} webhook {method} {url} answered {status}: {str(body)[:300]}")
        return hook

    def _notify(self, kind: str, url: str, method: str, params: dict[str, str]) -> None:
        """Queue a webhook whose answer is ignored (status callbacks, actions after a hang-up)."""
        snapshot = dict(params)
        self._after(None, 0, lambda: self._deliver(kind, url, method, snapshot))

    def _fetch(self, leg: _Leg, url: str, method: str, extra: dict[str, str], kind: str, role: str) -> None:
        """Queue a webhook whose answer is TwiML to run on ``leg`` as a program of ``role``."""
        epoch = leg.epoch

        def fetch() -> None:
            hook = self._deliver(kind, url, method, {**self._call_params(leg), **extra})
            if leg.ended is not None or leg.epoch != epoch:
                return  # the call moved on (hung up, REST update) while the app was answering
            if hook.ok:
                try:
                    program = self._runner.load(hook.body, url, role)
                except TwimlError as error:
                    self._problem(f"{error} in the answer of {method} {url}")
                else:
                    self._runner.start(leg, program)
                    return
            if role == "wait":
                leg.wait_program = None  # wait in silence
            else:
                self._application_error(leg)

        self._after(leg, 0, fetch)

    def _run_inline(self, leg: _Leg, twiml: str) -> None:
        """Run TwiML given in a REST request (``Twiml=``) on ``leg``."""
        try:
            program = self._runner.load(twiml, None, "call")
        except TwimlError as error:
            self._problem(f"{error} in the Twiml of call {leg.sid}")
            self._application_error(leg)
        else:
            self._runner.start(leg, program)

    def _progress(self, leg: _Leg, event: str) -> None:
        """Queue a call progress status callback, if the leg asked for ``event``."""
        if not leg.status_callback or event not in leg.status_events:
            return
        params = {
            **self._call_params(leg),
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(leg.sequence),
            "Timestamp": self._rfc2822(),
        }
        leg.sequence += 1
        if event == "initiated":
            params["CallStatus"] = "initiated"
        if event == "completed":
            duration = self._duration(leg) or 0
            params["CallDuration"] = str(duration)
            params["Duration"] = str(-(-duration // 60))
        self._notify("status", leg.status_callback, leg.status_method, params)

    # -- legs --------------------------------------------------------------

    def _leg(self, sid: str) -> _Leg:
        leg = self._legs.get(sid)
        if leg is None:
            raise KeyError(f"no call {sid}")
        return leg

    def _new_leg(self, from_: str, to: str, direction: str, party: _Party, **values: Any) -> _Leg:
        self._origin_time()
        leg = _Leg("CA" + secrets.token_hex(16), from_, to, direction, party, self._t, updated=self._t, **values)
        self._legs[leg.sid] = leg
        return leg

    def _party_for(self, number: str) -> _Party:
        return _Party(self._phones.get(number, NoAnswer()))

    def _place(self, leg: _Leg) -> None:
        """Start calling ``leg.to`` (now, in virtual time); its phone's script decides what happens."""
        self._after(leg, 0, lambda: self._ring(leg))

    def _ring(self, leg: _Leg) -> None:
        leg.started = leg.updated = self._t
        self._progress(leg, "initiated")
        script = leg.party.script
        if isinstance(script, Fails) or not E164.fullmatch(leg.to) or leg.to in self._refusals:
            self._hang_up(leg, "failed")
            return
        if isinstance(script, Busy):
            self._hang_up(leg, "busy")
            return
        leg.status = "ringing"
        if leg.pending is not None:
            leg.pending.status = "ringing"
        self._progress(leg, "ringing")
        after = leg.party.answer_after
        if after is not None and after < leg.timeout:
            self._after(leg, after, lambda: self._answer(leg))
        else:
            self._after(leg, leg.timeout, lambda: self._hang_up(leg, "no-answer"))

    def _answer(self, leg: _Leg) -> None:
        leg.status, leg.answered, leg.updated = "in-progress", self._t, self._t
        self._progress(leg, "answered")
        if leg.on_answer is not None:
            leg.on_answer()

    def _answer_inbound(self, leg: _Leg) -> None:
        leg.status, leg.answered, leg.updated = "in-progress", self._t, self._t

    def _answer_with_twiml(self, leg: _Leg) -> None:
        """What an outbound-api leg does when answered: request its Url (or run its Twiml)."""
        if leg.twiml is not None:
            self._run_inline(leg, leg.twiml)
        elif leg.url:
            self._fetch(leg, leg.url, leg.method, {}, "voice", "call")

    def _connected(self, leg: _Leg) -> None:
        """The leg now talks to someone: its phone's ``stay`` starts counting (once)."""
        if leg.connected_at is None:
            leg.connected_at = self._t
            if leg.party.stay is not None:
                self._after_party(leg, leg.party.stay, lambda: self._hang_up(leg))

    def _hang_up(self, leg: _Leg, status: str | None = None) -> None:
        """End the leg (``completed`` if answered, else ``canceled``) and everything hanging off it."""
        if leg.ended is not None:
            return
        leg.status = status or ("completed" if leg.answered is not None else "canceled")
        leg.ended = leg.updated = self._t
        leg.epoch += 1
        leg.program = leg.wait_program = None
        if leg.recording is not None:
            self._runner.finish_recording(leg, "hangup")
        if leg.participant is not None:
            self._leave(leg, "hangup")
        if leg.pending is not None:
            self._participant_never_joined(leg)
        if leg.dialing is not None:
            self._hang_up(leg.dialing.child)  # it reports back through _dial_child_ended
        if leg.dialer is not None:
            self._dial_child_ended(leg.dialer)
        self._progress(leg, "completed")

    def _interrupt(self, leg: _Leg) -> None:
        """A REST update gives the leg new TwiML: it leaves whatever it was doing."""
        leg.epoch += 1
        leg.program = leg.wait_program = None
        if leg.recording is not None:
            self._runner.finish_recording(leg, "interrupted")
        if leg.participant is not None:
            self._leave(leg, "redirect")
        if leg.dialing is not None:  # the parent moves on: the dialled leg is dropped, no Dial action
            dialing, leg.dialing = leg.dialing, None
            dialing.child.dialer = None
            self._hang_up(dialing.child)
        if leg.dialer is not None:  # the dialled leg moves on: the parent's <Dial> ends
            self._dial_child_ended(leg.dialer)

    # -- <Dial><Number> ----------------------------------------------------

    def _dial_number(self, parent: _Leg, options: DialOptions, number: NumberOptions) -> None:
        child = self._new_leg(
            options.caller_id or parent.from_,
            number.number,
            "outbound-dial",
            self._party_for(number.number),
            parent_sid=parent.sid,
            timeout=options.timeout,
            status_callback=number.status_callback,
            status_events=number.status_events,
            status_method=number.status_method,
            url=number.url,
            method=number.method,
        )
        dialing = _Dialing(parent, child, options)
        parent.dialing, child.dialer = dialing, dialing
        if number.url:
            url, method = number.url, number.method
            child.on_answer = lambda: self._fetch(child, url, method, {}, "screen", "screen")
        else:
            child.on_answer = lambda: self._bridge(child)
        self._place(child)

    def _bridge(self, child: _Leg) -> None:
        """The dialled leg's screening is over (or there was none): the two legs talk."""
        dialing = child.dialer
        if dialing is None:
            self._hang_up(child)
            return
        dialing.bridged_at = self._t
        child.program = None
        self._connected(child)
        self._connected(dialing.parent)

    def _dial_child_ended(self, dialing: _Dialing) -> None:
        """The dialled leg ended (or was redirected away): the parent's ``<Dial>`` is over."""
        parent, child = dialing.parent, dialing.child
        child.dialer = None
        if parent.dialing is dialing:
            parent.dialing = None
        bridged = dialing.bridged_at is not None
        status = child.status
        if bridged:
            status = "completed"
        elif status in ("completed", "in-progress"):
            status = "no-answer"  # answered but never bridged: the screening declined (see module docstring)
        duration = seconds((child.ended or self._t) - child.answered) if child.answered is not None else 0
        params = {
            "DialCallStatus": status,
            "DialCallSid": child.sid,
            "DialCallDuration": str(duration),
            "DialBridged": "true" if bridged else "false",
        }
        self._dial_finished(parent, dialing.options, params)

    def _dial_finished(self, leg: _Leg, options: DialOptions, params: dict[str, str]) -> None:
        """Continue after a ``<Dial>``: its action's answer, else the next verb."""
        if leg.ended is not None:
            if options.action:
                self._notify("dial", options.action, options.method, {**self._call_params(leg), **params})
            return
        if options.action:
            self._fetch(leg, options.action, options.method, params, "dial", "call")
        else:
            self._after(leg, 0, lambda: self._runner.resume(leg))

    # -- conferences -------------------------------------------------------

    def _latest_conference(self, name: str) -> _Conference | None:
        found = [conf for conf in self._conferences.values() if conf.name == name]
        return found[-1] if found else None

    def _live_conference(self, name: str) -> _Conference:
        """The conference called ``name`` that has not ended, created (status init) if none."""
        conf = self._latest_conference(name)
        if conf is None or conf.status == "completed":
            conf = _Conference("CF" + secrets.token_hex(16), name, self._t, updated=self._t)
            self._conferences[conf.sid] = conf
        return conf

    def _dial_conference(self, leg: _Leg, options: DialOptions, conference: ConferenceOptions) -> None:
        self._join(leg, conference, options)

    def _add_participant(
        self, leg: _Leg, conf: _Conference, options: ConferenceOptions, dial: DialOptions | None
    ) -> _Participant:
        participant = _Participant(
            conf, leg, options, dial, self._t, hold=options.hold, muted=options.muted,
            end_on_exit=options.end_on_exit, updated=self._t,
        )
        conf.participants.append(participant)
        if options.callback is not None and conf.callback is None:
            conf.callback = options.callback
        return participant

    def _join(
        self, leg: _Leg, options: ConferenceOptions, dial: DialOptions | None, participant: _Participant | None = None
    ) -> None:
        conf = self._live_conference(options.name)
        if participant is None:
            participant = self._add_participant(leg, conf, options, dial)
        elif participant.conference is not conf:  # its conference ended while it was being called
            participant.conference = conf
            conf.participants.append(participant)
            if options.callback is not None and conf.callback is None:
                conf.callback = options.callback
        participant.status, participant.joined, participant.updated = "connected", self._t, self._t
        leg.pending, leg.participant = None, participant
        self._connected(leg)
        self._conference_event(conf, "participant-join", participant)
        if conf.status == "init":
            if options.start_on_enter:
                self._start_conference(conf)
            else:
                self._wait(leg, participant)

    def _wait(self, leg: _Leg, participant: _Participant) -> None:
        participant.waiting = True
        options = participant.options
        if options.wait_url:
            self._fetch(leg, options.wait_url, options.wait_method, {}, "wait", "wait")

    def _start_conference(self, conf: _Conference) -> None:
        conf.status, conf.started, conf.updated = "in-progress", self._t, self._t
        self._conference_event(conf, "conference-start", None)
        for participant in conf.present():
            if participant.waiting:  # stop the wait music
                participant.waiting = False
                participant.leg.epoch += 1
                participant.leg.wait_program = None

    def _leave(self, leg: _Leg, reason: str) -> None:
        """``leg`` leaves its conference: ``reason`` is hangup, redirect, kicked or conference-ended."""
        participant = leg.participant
        if participant is None:
            return
        conf = participant.conference
        leg.participant = None
        leg.epoch += 1
        leg.wait_program = None
        participant.status, participant.left, participant.updated = "complete", self._t, self._t
        participant.waiting = False
        self._conference_event(conf, "participant-leave", participant)
        if conf.status != "completed":
            if participant.end_on_exit:
                self._end_conference(conf, "participant-with-end-conference-on-exit-left", leg.sid)
            elif not conf.present():
                self._end_conference(conf, "last-participant-left", leg.sid)
        if reason == "redirect":
            return  # the new TwiML replaces the <Dial>: no action
        if participant.dial is not None:  # after a hang-up too: the action is requested, its answer ignored
            joined = participant.joined if participant.joined is not None else self._t
            params = {"DialCallStatus": "answered", "DialCallDuration": str(seconds(self._t - joined))}
            self._dial_finished(leg, participant.dial, params)
        elif leg.ended is None:
            self._hang_up(leg)  # a Participants API call has no TwiML to go on with

    def _end_conference(self, conf: _Conference, reason: str, ended_by: str | None) -> None:
        conf.status, conf.ended, conf.updated = "completed", self._t, self._t
        conf.reason_ended, conf.ended_by = reason, ended_by
        for participant in conf.present():
            self._leave(participant.leg, "conference-ended")
        self._conference_event(conf, "conference-end", None)

    def _participant_never_joined(self, leg: _Leg) -> None:
        participant, leg.pending = leg.pending, None
        if participant is None:
            return
        participant.status, participant.updated = "failed", self._t
        conf = participant.conference
        if conf.status == "init" and not conf.present() and not conf.pending():
            conf.status, conf.ended, conf.updated = "completed", self._t, self._t
            conf.reason_ended = "last-participant-left"

    def _set_hold(self, participant: _Participant, hold: bool) -> None:
        if participant.hold != hold:
            participant.hold, participant.updated = hold, self._t
            if participant.status == "connected":
                event = "participant-hold" if hold else "participant-unhold"
                self._conference_event(participant.conference, event, participant)

    def _set_muted(self, participant: _Participant, muted: bool) -> None:
        if participant.muted != muted:
            participant.muted, participant.updated = muted, self._t
            if participant.status == "connected":
                event = "participant-mute" if muted else "participant-unmute"
                self._conference_event(participant.conference, event, participant)

    def _conference_event(self, conf: _Conference, event: str, participant: _Participant | None) -> None:
        callback = conf.callback
        if callback is None or _CONFERENCE_EVENT_KEYS[event] not in callback.events:
            return
        conf.sequence += 1
        params = {
            "AccountSid": self.account_sid,
            "ConferenceSid": conf.sid,
            "FriendlyName": conf.name,
            "StatusCallbackEvent": event,
            "SequenceNumber": str(conf.sequence),
            "Timestamp": self._rfc2822(),
        }
        if participant is not None:
            params.update(
                {
                    "CallSid": participant.leg.sid,
                    "Hold": str(participant.hold).lower(),
                    "Muted": str(participant.muted).lower(),
                    "Coaching": "false",
                    "EndConferenceOnExit": str(participant.end_on_exit).lower(),
                    "StartConferenceOnEnter": str(participant.options.start_on_enter).lower(),
                }
            )
            if participant.label:
                params["ParticipantLabel"] = participant.label
        if event == "conference-end":
            params["ReasonConferenceEnded"] = conf.reason_ended or ""
            if conf.ended_by:
                params["CallSidEndingConference"] = conf.ended_by
        self._notify("conference", callback.url, callback.method, params)

    # -- recordings --------------------------------------------------------

    def _create_recording(self, leg: _Leg, duration: float, started: float) -> _Recording:
        sid = "RE" + secrets.token_hex(16)
        url = f"https://api.twilio.com/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{sid}"
        recording = _Recording(sid, leg.sid, seconds(duration), started, url)
        self._recordings[sid] = recording
        return recording
