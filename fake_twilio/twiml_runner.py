"""Executes the TwiML an app answers on one call leg of the fake voice network, in virtual time.

A :class:`Program` is one parsed TwiML document and how far the leg got in it; its
``role`` says what happens when it runs out of verbs:

* ``"call"`` -- the leg's own TwiML (voice URL, ``Url`` of ``calls.create``, an
  action's answer): the call hangs up, as Twilio does.
* ``"screen"`` -- the ``url`` of a ``<Dial><Number>``, run on the dialled leg
  before bridging: the legs are bridged.
* ``"wait"`` -- a conference ``waitUrl``: played again from the top while the leg
  waits (only ``<Say>``, ``<Play>``, ``<Pause>`` and ``<Redirect>`` are allowed).

:class:`TwimlRunner` walks a program verb by verb. Verbs that take time schedule
the rest of the walk on the network's virtual clock; verbs that ask the app
something (``<Redirect>``, the ``action`` of ``<Gather>``, ``<Record>``,
``<Dial>``) schedule a webhook whose answer becomes the next program. Everything
about calls, conferences and recordings is left to the network (``net``), which
this module only knows through the handful of ``net._...`` methods it calls.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET  # noqa: S405 - parses TwiML written by the app under test
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

if TYPE_CHECKING:
    from fake_twilio.voice import VoiceNetwork, _Leg

#: What a caller hears when the app's webhook fails (Twilio says this, then hangs up).
APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."
#: Characters of ``<Say>`` text spoken per virtual second.
SPEECH_RATE = 15.0
#: Virtual seconds one ``<Play>`` lasts, whatever the file.
PLAY_SECONDS = 5.0
#: Virtual seconds a phone takes to press its digits once a ``<Gather>`` prompt ended.
PRESS_DELAY = 1.0
#: ``loop="0"`` means "for ever" to Twilio; the fake plays it this many times.
LOOP_FOREVER = 1000

#: A phone number as Twilio wants it.
E164 = re.compile(r"\+[1-9]\d{6,14}")

_WAIT_VERBS = {"Say", "Play", "Pause", "Redirect"}
_DIAL_NOUNS = {"Number", "Conference", "Client", "Sip", "Queue", "Sim", "Application", "WhatsApp"}
_CONFERENCE_EVENTS = {"start", "end", "join", "leave", "mute", "hold", "modify", "speaker", "announcement"}


class TwimlError(ValueError):
    """The app answered something that is not a TwiML ``<Response>``."""


def parse_twiml(body: str | None) -> list[ET.Element]:
    """The verbs of a TwiML document; raises :class:`TwimlError` when it is not one."""
    if not body or not body.strip():
        raise TwimlError("12100 empty TwiML document")
    try:
        root = ET.fromstring(body.strip())  # noqa: S314 - TwiML from the app under test
    except ET.ParseError as error:
        raise TwimlError(f"12100 document parse failure: {error}") from error
    if root.tag != "Response":
        raise TwimlError(f"12100 document root is <{root.tag}>, not <Response>")
    return list(root)


def split_events(value: str | list[str] | None) -> frozenset[str]:
    """Event names given space- or comma-separated (TwiML) or repeated (REST)."""
    values = [value] if isinstance(value, str) else list(value or [])
    return frozenset(name for item in values for name in item.replace(",", " ").split())


def as_bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def as_number(value: Any, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


@dataclass(eq=False)
class Program:
    """One TwiML document running on a leg: its verbs, its URL and the next verb's index."""

    role: str  # "call" | "screen" | "wait"
    verbs: list[ET.Element]
    url: str | None  # None for inline TwiML (``Twiml=``): relative URLs cannot be resolved
    started: float = 0.0  # virtual time the current pass began (wait programs loop)
    index: int = 0

    def next(self) -> ET.Element | None:
        if self.index >= len(self.verbs):
            return None
        verb = self.verbs[self.index]
        self.index += 1
        return verb

    def resolve(self, target: str | None) -> str | None:
        """``target`` made absolute against the document's URL (None if it cannot be)."""
        target = (target or "").strip()
        if not target:
            return None
        if urlsplit(target).scheme:
            return target
        return urljoin(self.url, target) if self.url else None


@dataclass(frozen=True)
class DialOptions:
    """The attributes of a ``<Dial>`` the network needs once its noun is dialled or joined."""

    action: str | None
    method: str = "POST"
    timeout: float = 30.0
    caller_id: str | None = None


@dataclass(frozen=True)
class NumberOptions:
    """A ``<Number>`` (or the plain text of a ``<Dial>``)."""

    number: str
    url: str | None = None
    method: str = "POST"
    status_callback: str | None = None
    status_events: frozenset[str] = frozenset({"completed"})
    status_method: str = "POST"


@dataclass(frozen=True)
class ConferenceCallback:
    url: str
    events: frozenset[str]
    method: str = "POST"


@dataclass(frozen=True)
class ConferenceOptions:
    """How a leg joins a conference, from ``<Conference>`` attributes or a Participants API create."""

    name: str
    start_on_enter: bool = True
    end_on_exit: bool = False
    muted: bool = False
    hold: bool = False
    wait_url: str | None = None  # None: Twilio's default hold music (nothing is fetched); "": silence
    wait_method: str = "POST"
    label: str | None = None
    callback: ConferenceCallback | None = None
    max_participants: int = 250
    beep: str = "true"


@dataclass
class RecordingInProgress:
    """A ``<Record>`` the leg is in: where it came from and how much the phone says into it."""

    program: Program
    verb: ET.Element
    started: float
    spoken: float


@dataclass
class _Item:
    """One timed thing a leg hears: a ``<Say>`` text, a ``<Play>`` URL, DTMF digits or a pause."""

    kind: str  # "say" | "play" | "digits" | "pause"
    value: str | None
    seconds: float = 0.0


def collect_digits(pressed: str, num_digits: int | None, finish_on_key: str) -> tuple[str, str, bool]:
    """What ``<Gather>`` makes of ``pressed``: ``(Digits, FinishedOnKey, complete_at_once)``."""
    digits = ""
    for key in pressed:
        if finish_on_key and key in finish_on_key:
            return digits, key, True
        digits += key
        if num_digits and len(digits) >= num_digits:
            return digits, "", True
    return digits, "", False


class TwimlRunner:
    """Runs programs on legs; owned by a :class:`~fake_twilio.voice.VoiceNetwork` (``net``)."""

    def __init__(self, net: VoiceNetwork):
        self.net = net
        self._verbs: dict[str, Callable[[_Leg, Program, ET.Element], bool]] = {
            "Say": self._say,
            "Play": self._play,
            "Pause": self._pause,
            "Hangup": self._hangup,
            "Reject": self._reject,
            "Redirect": self._redirect,
            "Gather": self._gather,
            "Record": self._record,
            "Dial": self._dial,
        }

    # -- programs ------------------------------------------------------------

    def load(self, body: str | None, url: str | None, role: str) -> Program:
        """Parse a document into a program; raises :class:`TwimlError`."""
        return Program(role, parse_twiml(body), url, started=self.net._t)

    def start(self, leg: _Leg, program: Program) -> None:
        """Make ``program`` the leg's current one (its wait program for role "wait") and run it."""
        if program.role == "wait":
            leg.wait_program = program
        else:
            leg.program = program
        self.advance(leg, program)

    def resume(self, leg: _Leg) -> None:
        """Go on after a ``<Dial>`` without action: the next verb, or hang up if there is no TwiML."""
        if leg.program is not None:
            self.advance(leg, leg.program)
        else:
            self.net._hang_up(leg)

    def advance(self, leg: _Leg, program: Program) -> None:
        """Execute verbs until one takes (virtual) time or asks the app something."""
        while leg.ended is None and (program is leg.program or program is leg.wait_program):
            verb = program.next()
            if verb is None:
                self._finished(leg, program)
                return
            if not self._execute(leg, program, verb):
                return

    def _finished(self, leg: _Leg, program: Program) -> None:
        if program.role == "call":
            self.net._hang_up(leg)
        elif program.role == "screen":
            self.net._bridge(leg)
        elif self.net._t > program.started:  # a wait document that takes time: play it again
            program.index, program.started = 0, self.net._t
            self.net._after(leg, 0, lambda: self.advance(leg, program))
        else:  # an empty (or instant) wait document: just wait in silence
            leg.wait_program = None

    def _execute(self, leg: _Leg, program: Program, verb: ET.Element) -> bool:
        """Run one verb; True to go straight on with the next one."""
        net, tag = self.net, verb.tag
        where = program.url or "inline TwiML"
        if program.role == "wait" and tag not in _WAIT_VERBS:
            net._problem(f"<{tag}> is not allowed in a conference waitUrl document ({where}); ignored")
            return True
        handler = self._verbs.get(tag)
        if handler is None or (tag == "Dial" and program.role != "call"):
            net._problem(f"12200 unsupported TwiML verb <{tag}> in a {program.role} document ({where})")
            net._application_error(leg)
            return False
        if leg.direction == "inbound" and leg.answered is None and tag != "Reject":
            net._answer_inbound(leg)  # any verb but <Reject> makes Twilio pick the call up
        return handler(leg, program, verb)

    # -- verbs that take time ------------------------------------------------

    def _hear(self, leg: _Leg, items: list[_Item], then: Callable[[], None]) -> None:
        """Play ``items`` to the leg one after another in virtual time, then call ``then``."""

        def step(index: int) -> None:
            if index == len(items):
                then()
                return
            item = items[index]
            if item.kind == "say":
                leg.heard.append(item.value or "")
            elif item.kind == "play":
                leg.played.append(item.value or "")
            self.net._after(leg, item.seconds, lambda: step(index + 1))

        step(0)

    @staticmethod
    def _loops(verb: ET.Element) -> int:
        loops = int(as_number(verb.get("loop"), 1))
        return LOOP_FOREVER if loops <= 0 else loops

    def _items(self, verb: ET.Element) -> list[_Item] | None:
        """What a ``<Say>``, ``<Play>`` or ``<Pause>`` plays, or None for any other verb."""
        text = " ".join((verb.text or "").split())
        if verb.tag == "Say":
            return [_Item("say", text, len(text) / SPEECH_RATE)] * self._loops(verb)
        if verb.tag == "Play":
            digits = verb.get("digits")
            if digits:
                return [_Item("digits", digits, 0.5 * len(digits))]
            return [_Item("play", text, PLAY_SECONDS)] * self._loops(verb)
        if verb.tag == "Pause":
            return [_Item("pause", None, as_number(verb.get("length"), 1))]
        return None

    def _say(self, leg: _Leg, program: Program, verb: ET.Element) -> bool:
        self._hear(leg, self._items(verb) or [], lambda: self.advance(leg, program))
        return False

    _play = _say  # the same: hear what the verb plays, then go on
    _pause = _say

    # -- verbs that end or move the call --------------------------------------

    def _hangup(self, leg: _Leg, program: Program, verb: ET.Element) -> bool:
        self.net._hang_up(leg)
        return False

    def _reject(self, leg: _Leg, program: Program, verb: ET.Element) -> bool:
        if leg.direction == "inbound" and leg.answered is None:
            self.net._hang_up(leg, "busy" if verb.get("reason") == "busy" else "no-answer")
        else:
            self.net._hang_up(leg)
        return False

    def _redirect(self, leg: _Leg, program: Program, verb: ET.Element) -> bool:
        url = program.resolve(verb.text)
        if url is None:
            self.net._problem(f"<Redirect> to {verb.text!r} cannot be resolved in {program.url or 'inline TwiML'}")
            self.net._application_error(leg)
            return False
        self.net._fetch(leg, url, verb.get("method", "POST"), {}, "redirect", program.role)
        return False

    def _action(self, program: Program, verb: ET.Element) -> str | None:
        """The verb's ``action``, made absolute; the document's own URL when it has none."""
        if verb.get("action"):
            return program.resolve(verb.get("action"))
        return program.url

    # -- <Gather> -------------------------------------------------------------

    def _gather(self, leg: _Leg, program: Program, verb: ET.Element) -> bool:
        prompts: list[_Item] = []
        for child in verb:
            items = self._items(child)
            if items is None:
                self.net._problem(f"<{child.tag}> cannot be nested in <Gather> ({program.url}); ignored")
            else:
                prompts.extend(items)
        self._hear(leg, prompts, lambda: self._listen(leg, program, verb))
        return False

    def _listen(self, leg: _Leg, program: Program, verb: ET.Element) -> None:
        timeout = as_number(verb.get("timeout"), 5)
        inputs = (verb.get("input") or "dtmf").split()
        press = leg.party.next_press() if "dtmf" in inputs else None
        if not press:
            self.net._after(leg, timeout, lambda: self._gathered(leg, program, verb, "", ""))
            return
        num_digits = int(as_number(verb.get("numDigits"), 0)) or None
        finish_on_key = verb.get("finishOnKey", "#")

        def pressed() -> None:
            leg.pressed.append(press)
            digits, key, complete = collect_digits(press, num_digits, finish_on_key)
            self.net._after(leg, 0 if complete else timeout, lambda: self._gathered(leg, program, verb, digits, key))

        self.net._after(leg, PRESS_DELAY, pressed)

    def _gathered(self, leg: _Leg, program: Program, verb: ET.Element, digits: str, key: str) -> None:
        if not digits and not as_bool(verb.get("actionOnEmptyResult"), False):
            self.advance(leg, program)  # nothing entered: on with the verb after <Gather>
            return
        action = self._action(program, verb)
        if action is None:
            self.net._problem(f"<Gather> action cannot be resolved in {program.url or 'inline TwiML'}")
            self.advance(leg, program)
            return
        params = {"Digits": digits, "FinishedOnKey": key}
        self.net._fetch(leg, action, verb.get("method", "POST"), params, "gather", program.role)

    # -- <Record> -------------------------------------------------------------

    def _record(self, leg: _Leg, program: Program, verb: ET.Element) -> bool:
        max_length = as_number(verb.get("maxLength"), 3600)
        timeout = as_number(verb.get("timeout"), 5)
        spoken = max(0.0, min(leg.party.record_seconds, max_length))
        if spoken >= max_length:
            lasts = max_length
        elif timeout > 0:
            lasts = spoken + timeout  # the phone goes quiet; Twilio stops after `timeout` s of silence
        else:
            lasts = max_length
        leg.recording = RecordingInProgress(program, verb, self.net._t, spoken)
        self.net._after(leg, lasts, lambda: self.finish_recording(leg, "finished"))
        return False

    def finish_recording(self, leg: _Leg, how: str) -> None:
        """End the leg's ``<Record>``: ``how`` is "finished", "hangup" or "interrupted" (REST redirect).

        An empty recording makes no resource and requests nothing (the next verb
        runs, as Twilio does). Otherwise the recording is stored, the action is
        requested (after a hang-up too, with ``Digits=hangup``, its answer
        ignored) and the ``recordingStatusCallback`` is told.
        """
        state, net = leg.recording, self.net
        if state is None:
            return
        leg.recording = None
        program, verb = state.program, state.verb
        seconds = min(state.spoken, net._t - state.started)
        if seconds <= 0:
            if how == "finished":
                self.advance(leg, program)
            return
        recording = net._create_recording(leg, seconds, state.started)
        params = {
            "RecordingUrl": recording.url,
            "RecordingSid": recording.sid,
            "RecordingDuration": str(recording.duration),
        }
        action, method = self._action(program, verb), verb.get("method", "POST")
        if how == "finished":
            if action is not None:
                net._fetch(leg, action, method, params, "record", program.role)
            else:
                self.advance(leg, program)
        elif how == "hangup" and action is not None:
            net._notify("record", action, method, {**net._call_params(leg), **params, "Digits": "hangup"})
        callback = program.resolve(verb.get("recordingStatusCallback"))
        if callback:
            net._notify(
                "recording",
                callback,
                verb.get("recordingStatusCallbackMethod", "POST"),
                {
                    "AccountSid": net.account_sid,
                    "CallSid": leg.sid,
                    "RecordingSid": recording.sid,
                    "RecordingUrl": recording.url,
                    "RecordingStatus": "completed",
                    "RecordingDuration": str(recording.duration),
                    "RecordingChannels": "1",
                    "RecordingSource": "RecordVerb",
                    "RecordingStartTime": net._rfc2822(state.started),
                },
            )

    # -- <Dial> ---------------------------------------------------------------

    def _dial(self, leg: _Leg, program: Program, verb: ET.Element) -> bool:
        net = self.net
        action = program.resolve(verb.get("action")) if verb.get("action") else None
        if verb.get("action") and action is None:
            net._problem(f"<Dial> action {verb.get('action')!r} cannot be resolved in inline TwiML")
        options = DialOptions(
            action=action,
            method=verb.get("method", "POST"),
            timeout=as_number(verb.get("timeout"), 30),
            caller_id=verb.get("callerId") or None,
        )
        nouns = [child for child in verb if child.tag in _DIAL_NOUNS]
        text = (verb.text or "").strip()
        if not nouns and text:
            net._dial_number(leg, options, NumberOptions(text))
            return False
        if len(nouns) != 1 or nouns[0].tag not in ("Number", "Conference"):
            found = ", ".join(f"<{noun.tag}>" for noun in nouns) or "nothing"
            net._problem(f"<Dial> of {found} is not supported by the fake (one <Number> or <Conference>)")
            net._application_error(leg)
            return False
        noun = nouns[0]
        if noun.tag == "Number":
            net._dial_number(leg, options, self._number(program, noun))
        else:
            net._dial_conference(leg, options, self._conference(program, noun))
        return False

    @staticmethod
    def _number(program: Program, noun: ET.Element) -> NumberOptions:
        return NumberOptions(
            number=(noun.text or "").strip(),
            url=program.resolve(noun.get("url")),
            method=noun.get("method", "POST"),
            status_callback=program.resolve(noun.get("statusCallback")),
            status_events=split_events(noun.get("statusCallbackEvent")) or frozenset({"completed"}),
            status_method=noun.get("statusCallbackMethod", "POST"),
        )

    @staticmethod
    def _conference(program: Program, noun: ET.Element) -> ConferenceOptions:
        callback_url = program.resolve(noun.get("statusCallback"))
        callback = None
        if callback_url:
            events = split_events(noun.get("statusCallbackEvent")) or frozenset({"start", "end"})
            method = noun.get("statusCallbackMethod", "POST")
            callback = ConferenceCallback(callback_url, events & _CONFERENCE_EVENTS, method)
        wait_url = noun.get("waitUrl")
        return ConferenceOptions(
            name=(noun.text or "").strip(),
            start_on_enter=as_bool(noun.get("startConferenceOnEnter"), True),
            end_on_exit=as_bool(noun.get("endConferenceOnExit"), False),
            muted=as_bool(noun.get("muted"), False),
            wait_url=None if wait_url is None else (program.resolve(wait_url) or ""),
            wait_method=noun.get("waitMethod", "POST"),
            label=noun.get("participantLabel") or None,
            callback=callback,
            max_participants=int(as_number(noun.get("maxParticipants"), 250)),
            beep=noun.get("beep", "true"),
        )


def seconds(value: float) -> int:
    """Whole seconds of a virtual duration, as Twilio reports durations."""
    return max(0, math.ceil(round(value, 6)))
