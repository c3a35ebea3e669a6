"""The Voice REST API of the fake (Calls, Conferences, Participants, Recordings), in Twilio's JSON shapes.

Served under ``/2010-04-01/Accounts/{AccountSid}/`` (Basic auth is checked by the
server before it gets here):

* ``Calls.json`` -- ``GET`` list (``To``, ``From``, ``Status``, ``ParentCallSid``
  filters), ``POST`` create (``To``, ``From``, ``Url``/``Method`` or ``Twiml``,
  ``StatusCallback``, repeated ``StatusCallbackEvent``, ``StatusCallbackMethod``,
  ``Timeout``; the rest is accepted and ignored).
* ``Calls/{CallSid}.json`` -- ``GET``; ``POST`` with ``Url``/``Method`` or ``Twiml``
  (redirect) or ``Status=canceled|completed``.
* ``Conferences.json`` (``FriendlyName``, ``Status`` filters), ``Conferences/{CF}.json``
  (``GET``; ``POST Status=completed`` ends it).
* ``Conferences/{CF}/Participants.json`` -- ``GET`` list, ``POST`` create (places a
  call that joins when answered). ``{CF}`` may be the friendly name: the
  conference is created if none of that name is live, as Twilio does.
* ``Conferences/{CF}/Participants/{CallSid or Label}.json`` -- ``GET``, ``POST``
  (``Hold``, ``Muted``, ``EndConferenceOnExit``), ``DELETE`` (kick).
* ``Recordings.json`` (``CallSid`` filter), ``Recordings/{RE}.json`` (``GET``,
  ``DELETE``), ``Recordings/{RE}.wav`` / ``.mp3`` / no extension (fake audio).

Handlers run on the server's threads: they take the network's lock, change state
and queue events; they never deliver a webhook.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode, urlsplit

from fake_twilio.server import API_VERSION, _Answer, _ApiError
from fake_twilio.twiml_runner import E164, ConferenceCallback, ConferenceOptions, as_bool, as_number, split_events

if TYPE_CHECKING:
    from fake_twilio.voice import VoiceNetwork, _Conference, _Leg, _Participant, _Recording

_RESOURCES = {"Calls", "Conferences", "Recordings"}
_VOICE_MESSAGES = {
    13224: "Dial: Invalid phone number",
    21201: "No 'To' number is specified",
    21205: "Url parameter is required",
    21211: "Invalid 'To' Phone Number",
    21213: "No 'From' number is specified",
    21220: "Call is not in-progress. Cannot redirect.",
}


def _fake_wav() -> bytes:
    """0.1 s of 8 kHz 16-bit mono silence, a valid WAV file."""
    frames = b"\x00\x00" * 800
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVEfmt " + fmt + b"data" + struct.pack(
        "<I", len(frames)
    ) + frames


#: The audio every recording "contains".
FAKE_WAV = _fake_wav()
FAKE_MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 413


def _error(status: int, code: int, message: str | None = None) -> _ApiError:
    return _ApiError(status, code, message or _VOICE_MESSAGES.get(code))


def _not_found(path: str) -> _ApiError:
    return _ApiError(404, 20404, f"The requested resource {path} was not found")


class VoiceRest:
    """Routes the Voice REST requests to a :class:`~fake_twilio.voice.VoiceNetwork` (``net``)."""

    def __init__(self, net: VoiceNetwork):
        self.net = net

    @staticmethod
    def handles(path: str) -> bool:
        parts = path.split("/")
        return (
            len(parts) >= 5
            and parts[1] == API_VERSION
            and parts[2] == "Accounts"
            and parts[4].removesuffix(".json") in _RESOURCES
        )

    def handle(self, method: str, path: str, query: dict[str, str], form: dict[str, list[str]]) -> _Answer:
        account, *segments = (unquote(part) for part in path.split("/")[3:])
        if account != self.net.account_sid:
            raise _not_found(path)
        with self.net._lock:
            return self._route(method, path, segments, query, _Form(form))

    # -- routing -------------------------------------------------------------

    def _route(self, method: str, path: str, segments: list[str], query: dict[str, str], form: _Form) -> _Answer:
        head, rest = segments[0], segments[1:]
        route: dict[str, Any] = {}
        if head == "Calls.json" and not rest:
            route = {"GET": lambda: self._list_calls(path, query), "POST": lambda: self._create_call(form)}
        elif head == "Calls" and len(rest) == 1 and rest[0].endswith(".json"):
            leg = self._find_call(rest[0].removesuffix(".json"), path)
            route = {"GET": lambda: _Answer(200, self._call_json(leg)), "POST": lambda: self._update_call(leg, form)}
        elif head == "Conferences.json" and not rest:
            route = {"GET": lambda: self._list_conferences(path, query)}
        elif head == "Conferences" and len(rest) == 1 and rest[0].endswith(".json"):
            conf = self._find_conference(rest[0].removesuffix(".json"), path)
            route = {
                "GET": lambda: _Answer(200, self._conference_json(conf)),
                "POST": lambda: self._update_conference(conf, form),
            }
        elif head == "Conferences" and rest[1:] == ["Participants.json"]:
            route = {
                "GET": lambda: self._list_participants(path, query, self._find_conference(rest[0], path)),
                "POST": lambda: self._create_participant(rest[0], path, form),
            }
        elif head == "Conferences" and len(rest) == 3 and rest[1] == "Participants" and rest[2].endswith(".json"):
            participant = self._find_participant(self._find_conference(rest[0], path), rest[2][:-5], path)
            route = {
                "GET": lambda: _Answer(200, self._participant_json(participant)),
                "POST": lambda: self._update_participant(participant, form),
                "DELETE": lambda: self._delete_participant(participant),
            }
        elif head == "Recordings.json" and not rest:
            route = {"GET": lambda: self._list_recordings(path, query)}
        elif head == "Recordings" and len(rest) == 1:
            return self._recording(method, path, rest[0])
        else:
            raise _not_found(path)
        handler = route.get(method)
        if handler is None:
            raise _ApiError(405, 20004)
        return handler()

    def _page(self, path: str, query: dict[str, str], key: str, records: list[dict[str, Any]]) -> _Answer:
        try:
            page_size = int(query.get("PageSize", "50"))
            page = int(query.get("Page", "0"))
        except ValueError as error:
            raise _ApiError(400, 20001, "PageSize and Page must be integers") from error
        if not 1 <= page_size <= 1000 or page < 0:
            raise _ApiError(400, 20001, "PageSize must be 1 to 1000 and Page at least 0")
        filters = [(name, value) for name, value in query.items() if name not in ("PageSize", "Page", "PageToken")]
        start = page * page_size
        chunk = records[start : start + page_size]

        def page_uri(number: int) -> str:
            return f"{path}?{urlencode([*filters, ('PageSize', page_size), ('Page', number)])}"

        return _Answer(
            200,
            {
                key: chunk,
                "end": start + max(len(chunk) - 1, 0),
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1) if len(records) > start + page_size else None,
                "page": page,
                "page_size": page_size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": start,
                "uri": page_uri(page),
            },
        )

    # -- calls -----------------------------------------------------------------

    def _find_call(self, sid: str, path: str) -> _Leg:
        leg = self.net._legs.get(sid)
        if leg is None:
            raise _not_found(path)
        return leg

    def _list_calls(self, path: str, query: dict[str, str]) -> _Answer:
        wanted = {"To": "to", "From": "from_", "Status": "status", "ParentCallSid": "parent_sid"}
        legs = [
            leg
            for leg in reversed(self.net._legs.values())
            if all(getattr(leg, attribute) == query[name] for name, attribute in wanted.items() if name in query)
        ]
        return self._page(path, query, "calls", [self._call_json(leg) for leg in legs])

    def _check_number(self, to: str | None, from_: str | None) -> str:
        if not to:
            raise _error(400, 21201)
        if not from_:
            raise _error(400, 21213)
        if not E164.fullmatch(to):
            raise _error(400, 21211)
        refusal = self.net._refusals.get(to)
        if refusal is not None:
            status, code, message = refusal
            raise _error(status, code, message)
        return to

    def _create_call(self, form: _Form) -> _Answer:
        net = self.net
        to = self._check_number(form.first("To"), form.first("From"))
        url, twiml = form.first("Url"), form.first("Twiml")
        if not twiml and (not url or urlsplit(url).scheme not in ("http", "https")):
            raise _error(400, 21205)
        leg = net._new_leg(
            form.first("From") or "",
            to,
            "outbound-api",
            net._party_for(to),
            url=url,
            method=(form.first("Method") or "POST").upper(),
            twiml=twiml,
            timeout=as_number(form.first("Timeout"), 60),
            status_callback=form.first("StatusCallback"),
            status_events=split_events(form.all("StatusCallbackEvent")) or frozenset({"completed"}),
            status_method=(form.first("StatusCallbackMethod") or "POST").upper(),
        )
        leg.on_answer = lambda: net._answer_with_twiml(leg)
        net._place(leg)
        return _Answer(201, self._call_json(leg))

    def _update_call(self, leg: _Leg, form: _Form) -> _Answer:
        net = self.net
        status, url, twiml = form.first("Status"), form.first("Url"), form.first("Twiml")
        method = (form.first("Method") or "POST").upper()
        if status:
            if status not in ("canceled", "completed"):
                raise _ApiError(400, 20001, f"Status must be canceled or completed, not {status!r}")
            if leg.ended is None and leg.answered is None:
                net._hang_up(leg, "canceled")
            elif leg.ended is None and status == "completed":
                net._hang_up(leg, "completed")
            # canceled on an answered call: Twilio leaves it alone
        elif url or twiml:
            if leg.ended is not None or (leg.answered is None and leg.direction != "outbound-api"):
                raise _error(400, 21220)
            if twiml:
                leg.twiml = twiml
            else:
                leg.url, leg.method, leg.twiml = url, method, None
            if leg.answered is not None:
                net._interrupt(leg)
                if twiml:
                    net._after(leg, 0, lambda: net._run_inline(leg, twiml))
                else:
                    net._fetch(leg, url, method, {}, "update", "call")
            # not answered yet: the new TwiML runs when it is
        leg.updated = net._t
        return _Answer(200, self._call_json(leg))

    def _call_json(self, leg: _Leg) -> dict[str, Any]:
        net = self.net
        uri = f"/{API_VERSION}/Accounts/{net.account_sid}/Calls/{leg.sid}"
        duration = net._duration(leg)
        return {
            "account_sid": net.account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": net._rfc2822(leg.created),
            "date_updated": net._rfc2822(leg.updated),
            "direction": leg.direction,
            "duration": None if duration is None else str(duration),
            "end_time": None if leg.ended is None else net._rfc2822(leg.ended),
            "forwarded_from": None,
            "from": leg.from_,
            "from_formatted": leg.from_,
            "group_sid": None,
            "parent_call_sid": leg.parent_sid,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": leg.sid,
            "start_time": None if leg.started is None else net._rfc2822(leg.started),
            "status": leg.status,
            "subresource_uris": {
                "notifications": f"{uri}/Notifications.json",
                "recordings": f"{uri}/Recordings.json",
                "payments": f"{uri}/Payments.json",
                "events": f"{uri}/Events.json",
                "siprec": f"{uri}/Siprec.json",
                "streams": f"{uri}/Streams.json",
                "user_defined_message_subscriptions": f"{uri}/UserDefinedMessageSubscriptions.json",
                "user_defined_messages": f"{uri}/UserDefinedMessages.json",
            },
            "to": leg.to,
            "to_formatted": leg.to,
            "trunk_sid": None,
            "uri": f"{uri}.json",
        }

    # -- conferences -----------------------------------------------------------

    def _find_conference(self, key: str, path: str) -> _Conference:
        net = self.net
        conf = net._conferences.get(key) or net._latest_conference(key)
        if conf is None:
            raise _not_found(path)
        return conf

    def _list_conferences(self, path: str, query: dict[str, str]) -> _Answer:
        conferences = [
            conf
            for conf in reversed(self.net._conferences.values())
            if query.get("FriendlyName", conf.name) == conf.name and query.get("Status", conf.status) == conf.status
        ]
        return self._page(path, query, "conferences", [self._conference_json(conf) for conf in conferences])

    def _update_conference(self, conf: _Conference, form: _Form) -> _Answer:
        if form.first("Status") == "completed" and conf.status != "completed":
            self.net._end_conference(conf, "conference-ended-via-api", None)
        return _Answer(200, self._conference_json(conf))

    def _conference_json(self, conf: _Conference) -> dict[str, Any]:
        net = self.net
        uri = f"/{API_VERSION}/Accounts/{net.account_sid}/Conferences/{conf.sid}"
        return {
            "account_sid": net.account_sid,
            "api_version": API_VERSION,
            "call_sid_ending_conference": conf.ended_by,
            "date_created": net._rfc2822(conf.created),
            "date_updated": net._rfc2822(conf.updated),
            "friendly_name": conf.name,
            "reason_conference_ended": conf.reason_ended,
            "region": "us1",
            "sid": conf.sid,
            "status": conf.status,
            "subresource_uris": {
                "participants": f"{uri}/Participants.json",
                "recordings": f"{uri}/Recordings.json",
            },
            "uri": f"{uri}.json",
        }

    # -- participants ----------------------------------------------------------

    @staticmethod
    def _current(conf: _Conference) -> list[_Participant]:
        return [p for p in conf.participants if p.status in ("queued", "ringing", "connected")]

    def _find_participant(self, conf: _Conference, key: str, path: str) -> _Participant:
        for participant in reversed(self._current(conf)):
            if key in (participant.leg.sid, participant.label):
                return participant
        raise _not_found(path)

    def _list_participants(self, path: str, query: dict[str, str], conf: _Conference) -> _Answer:
        participants = [self._participant_json(p) for p in self._current(conf)]
        return self._page(path, query, "participants", participants)

    def _create_participant(self, key: str, path: str, form: _Form) -> _Answer:
        net = self.net
        to = self._check_number(form.first("To"), form.first("From"))
        if key.startswith("CF") and key in net._conferences:
            name = net._conferences[key].name
        elif key.startswith("CF") and len(key) == 34:
            raise _not_found(path)
        else:
            name = key
        conf = net._live_conference(name)
        callback = None
        if form.first("ConferenceStatusCallback"):
            events = split_events(form.all("ConferenceStatusCallbackEvent")) or frozenset({"start", "end"})
            method = (form.first("ConferenceStatusCallbackMethod") or "POST").upper()
            callback = ConferenceCallback(form.first("ConferenceStatusCallback") or "", events, method)
        options = ConferenceOptions(
            name=conf.name,
            start_on_enter=as_bool(form.first("StartConferenceOnEnter"), True),
            end_on_exit=as_bool(form.first("EndConferenceOnExit"), False),
            muted=as_bool(form.first("Muted"), False),
            hold=as_bool(form.first("Hold"), False),
            wait_url=form.first("WaitUrl"),
            wait_method=(form.first("WaitMethod") or "POST").upper(),
            label=form.first("Label"),
            callback=callback,
            max_participants=int(as_number(form.first("MaxParticipants"), 250)),
            beep=form.first("Beep") or "true",
        )
        leg = net._new_leg(
            form.first("From") or "",
            to,
            "outbound-api",
            net._party_for(to),
            timeout=as_number(form.first("Timeout"), 60),
            status_callback=form.first("StatusCallback"),
            status_events=split_events(form.all("StatusCallbackEvent")) or frozenset({"completed"}),
            status_method=(form.first("StatusCallbackMethod") or "POST").upper(),
        )
        participant = net._add_participant(leg, conf, options, None)
        leg.pending = participant
        leg.on_answer = lambda: net._join(leg, options, None, participant)
        net._place(leg)
        return _Answer(201, self._participant_json(participant))

    def _update_participant(self, participant: _Participant, form: _Form) -> _Answer:
        net = self.net
        if form.first("Hold") is not None:
            net._set_hold(participant, as_bool(form.first("Hold"), False))
        if form.first("Muted") is not None:
            net._set_muted(participant, as_bool(form.first("Muted"), False))
        if form.first("EndConferenceOnExit") is not None:
            participant.end_on_exit = as_bool(form.first("EndConferenceOnExit"), False)
            participant.updated = net._t
        return _Answer(200, self._participant_json(participant))

    def _delete_participant(self, participant: _Participant) -> _Answer:
        if participant.status == "connected":
            self.net._leave(participant.leg, "kicked")
        else:
            self.net._hang_up(participant.leg, "canceled")
        return _Answer(204)

    def _participant_json(self, participant: _Participant) -> dict[str, Any]:
        net, conf = self.net, participant.conference
        return {
            "account_sid": net.account_sid,
            "call_sid": participant.leg.sid,
            "call_sid_to_coach": None,
            "coaching": False,
            "conference_sid": conf.sid,
            "date_created": net._rfc2822(participant.created),
            "date_updated": net._rfc2822(participant.updated),
            "end_conference_on_exit": participant.end_on_exit,
            "hold": participant.hold,
            "label": participant.label,
            "muted": participant.muted,
            "queue_time": "0",
            "start_conference_on_enter": participant.options.start_on_enter,
            "status": participant.status,
            "uri": f"/{API_VERSION}/Accounts/{net.account_sid}/Conferences/{conf.sid}/Participants/"
            f"{participant.leg.sid}.json",
        }

    # -- recordings ------------------------------------------------------------

    def _list_recordings(self, path: str, query: dict[str, str]) -> _Answer:
        recordings = [
            rec
            for rec in reversed(self.net._recordings.values())
            if not rec.deleted and query.get("CallSid", rec.call_sid) == rec.call_sid
        ]
        return self._page(path, query, "recordings", [self._recording_json(rec) for rec in recordings])

    def _recording(self, method: str, path: str, name: str) -> _Answer:
        sid, dot, extension = name.partition(".")
        recording = self.net._recordings.get(sid)
        if recording is None or recording.deleted or extension not in ("", "json", "wav", "mp3"):
            raise _not_found(path)
        if extension == "json" and method == "GET":
            return _Answer(200, self._recording_json(recording))
        if extension == "json" and method == "DELETE":
            recording.deleted = True
            return _Answer(204)
        if extension != "json" and method == "GET":
            if extension == "mp3":
                return _Answer(200, None, {"Content-Type": "audio/mpeg"}, raw=FAKE_MP3)
            return _Answer(200, None, {"Content-Type": "audio/x-wav"}, raw=FAKE_WAV)
        raise _ApiError(405, 20004)

    def _recording_json(self, recording: _Recording) -> dict[str, Any]:
        net = self.net
        uri = f"/{API_VERSION}/Accounts/{net.account_sid}/Recordings/{recording.sid}"
        return {
            "account_sid": net.account_sid,
            "api_version": API_VERSION,
            "call_sid": recording.call_sid,
            "channels": 1,
            "conference_sid": None,
            "date_created": net._rfc2822(recording.started),
            "date_updated": net._rfc2822(recording.started + recording.duration),
            "duration": str(recording.duration),
            "encryption_details": None,
            "error_code": None,
            "media_url": recording.url,
            "price": None,
            "price_unit": "USD",
            "sid": recording.sid,
            "source": "RecordVerb",
            "start_time": net._rfc2822(recording.started),
            "status": "completed",
            "subresource_uris": {
                "add_on_results": f"{uri}/AddOnResults.json",
                "transcriptions": f"{uri}/Transcriptions.json",
            },
            "uri": f"{uri}.json",
        }


class _Form:
    """A form with repeated parameters (``StatusCallbackEvent=a&StatusCallbackEvent=b``)."""

    def __init__(self, values: dict[str, list[str]]):
        self._values = values

    def first(self, name: str) -> str | None:
        values = self._values.get(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return list(self._values.get(name, []))
