"""A fake of Twilio's Programmable Messaging REST API, served on 127.0.0.1.

The real ``twilio`` SDK can talk to it: build ``twilio.rest.Client(account_sid,
auth_token, http_client=...)`` with an http client that rewrites the
``https://api.twilio.com`` prefix of each URL to :attr:`FakeTwilio.base_url`.

Served (all under ``/2010-04-01/Accounts/{AccountSid}``, HTTP Basic auth with
the fake's account SID and auth token, else 401 / error 20003):

* ``POST Messages.json`` -- create (``messages.create``), answers 201.
* ``GET Messages.json`` -- list (``messages.list``/``stream``/``page``) with the
  ``To``, ``From``, ``DateSent``, ``DateSent<``, ``DateSent>``, ``PageSize`` and
  ``Page`` parameters.
* ``GET Messages/{Sid}.json`` -- fetch; ``POST`` (``update(body="")``, redaction)
  and ``DELETE`` work too.

Errors are answered the way Twilio answers them, ``{"code", "message",
"more_info", "status"}``, which the SDK turns into ``TwilioRestException``
(``.status`` is the HTTP status, ``.code`` the Twilio error code).

Webhooks the other way round (status callbacks, inbound SMS) are signed with
``twilio.request_validator.RequestValidator`` like Twilio signs them.

Voice (Calls, Conferences, Participants, Recordings and the phone network that
drives whole calls on a virtual clock) is :attr:`FakeTwilio.voice`, a
``fake_twilio.voice.VoiceNetwork``.

Usage::

    with FakeTwilio() as fake:
        fake.respond_for("+13125550199", code=21610)
        ...  # point the app at fake.base_url, fake.account_sid, fake.auth_token
        assert fake.requests_to("+13125550101")[0].form["Body"] == "Hello"
"""

from __future__ import annotations

import base64
import contextlib
import copy
import email.utils
import hmac
import json
import math
import re
import secrets
import socket
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "fake-auth-token"
DEFAULT_FROM_NUMBER = "+13125550100"

#: Messages for the error codes the fake answers with (Twilio's wording, shortened).
ERROR_MESSAGES: dict[int, str] = {
    20001: "Invalid parameter",
    20003: "Authenticate",
    20004: "Method not allowed",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
}
_STATUS_FOR_CODE = {20003: 401, 20004: 405, 20404: 404, 20429: 429, 20500: 500}
_CODE_FOR_STATUS = {401: 20003, 404: 20404, 405: 20004, 429: 20429, 500: 20500, 502: 20500, 503: 20500}
# Statuses after which Twilio has a date_sent.
_SENT_STATUSES = {"sent", "delivered", "undelivered", "failed", "read"}
_E164 = re.compile(r"(?:whatsapp:)?\+[1-9]\d{6,14}")
_MESSAGES_PATH = re.compile(rf"/{API_VERSION}/Accounts/([^/]+)/Messages(?:/([^/]+))?\.json")
_MEDIA_PATH = re.compile(rf"/{API_VERSION}/Accounts/([^/]+)/Messages/(MM[0-9a-f]+)/Media/(ME[0-9a-f]+)")
_LIST_FILTERS = ("To", "From", "DateSent", "DateSent<", "DateSent>")

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")

#: ``post(url, data, headers)`` delivers a webhook; see :meth:`FakeTwilio.send_status_callback`.
Transport = Callable[[str, dict[str, str], dict[str, str]], Any]


def rfc2822(moment: datetime) -> str:
    """Format like Twilio's dates: ``Tue, 04 Jun 2024 10:11:12 +0000``."""
    return email.utils.format_datetime(moment.astimezone(UTC))


def count_segments(body: str) -> int:
    """The number of SMS segments Twilio would bill ``body`` as (GSM-7 or UCS-2)."""
    if all(char in _GSM_BASIC or char in _GSM_EXTENDED for char in body):
        units = sum(2 if char in _GSM_EXTENDED else 1 for char in body)
        single, multipart = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multipart = 70, 67
    return 1 if units <= single else math.ceil(units / multipart)


def error_payload(status: int, code: int, message: str | None = None) -> dict[str, Any]:
    """The JSON body of a Twilio REST API error."""
    return {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass
class RecordedRequest:
    """One request the fake received, with what it answered."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    time: float
    response_status: int = 0
    response: dict[str, Any] | None = None

    @property
    def to(self) -> str | None:
        return self.form.get("To")

    @property
    def is_create(self) -> bool:
        return self.method == "POST" and self.path.endswith("/Messages.json")

    def header(self, name: str, default: str | None = None) -> str | None:
        """A request header, looked up case-insensitively."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), default)


@dataclass
class SentWebhook:
    """A status callback or inbound SMS webhook the fake delivered."""

    kind: str  # "status" or "inbound"
    url: str
    params: dict[str, str]
    headers: dict[str, str]
    status_code: int | None
    body: Any


@dataclass
class _Behaviour:
    status: int
    code: int
    message: str
    times: int | None
    retry_after: int | None


@dataclass
class _Stored:
    resource: dict[str, Any]
    created_at: datetime
    sent_at: datetime | None = None
    status_callback: str | None = None
    order: int = 0


class _ApiError(Exception):
    def __init__(self, status: int, code: int, message: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(code)
        self.status = status
        self.payload = error_payload(status, code, message)
        self.headers = headers or {}


@dataclass
class _Answer:
    status: int
    payload: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a non-JSON body (recording audio); give its Content-Type in headers


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeTwilio):
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        # Quiet: clients going away is normal (OSError); anything else is kept for tests to look at.
        if not isinstance(sys.exc_info()[1], OSError):
            self.fake._note_error(traceback.format_exc())

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTwilio/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without TCP_NODELAY each answer waits ~40 ms
        # for the client's delayed ACK (Nagle), which would make the fake, not the app, the bottleneck.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length > 0 else b""
        answer = self.server.fake._handle(method, self.path, dict(self.headers.items()), raw_body)
        if answer.raw is not None:
            body = answer.raw
        else:
            body = b"" if answer.payload is None else json.dumps(answer.payload).encode("utf-8")
        self.send_response(answer.status)
        if answer.payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Twilio-Request-Id", "RQ" + secrets.token_hex(16))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)


def _normalise_result(result: Any) -> Any:
    """Turn what a transport returned into ``(status_code, body)`` when it is a response object."""
    if isinstance(result, tuple):
        return result
    status = getattr(result, "status_code", None)
    if status is None:
        return result
    if hasattr(result, "get_data"):  # werkzeug / Flask test client response
        return status, result.get_data(as_text=True)
    return status, getattr(result, "text", None)


def http_post(url: str, data: dict[str, str], headers: dict[str, str], timeout: float = 10.0) -> tuple[int, str]:
    """POST a form over HTTP(S) with urllib, ignoring proxy settings; returns ``(status_code, body)``."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=urlencode(data).encode("utf-8"), headers=headers, method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


class FakeTwilio:
    """A fake Twilio Messages API on ``127.0.0.1`` (port 0 picks a free one), served from a thread.

    Attributes you may set: ``latency`` (seconds to sleep before answering each
    request), ``clock`` (returns the aware UTC ``datetime`` used for message
    dates), ``default_from`` (the sender filled in for Messaging Service
    messages once sent), ``post`` (default webhook transport) and ``listener``
    (called with each :class:`RecordedRequest` after it is answered).
    """

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], datetime] | None = None,
        post: Transport | None = None,
        listener: Callable[[RecordedRequest], None] | None = None,
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host = host
        self._requested_port = port
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.post = post
        self.listener = listener
        self.default_from = DEFAULT_FROM_NUMBER
        self.latency = 0.0
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._clear()
        from fake_twilio.voice import VoiceNetwork  # here: voice.py builds on this module

        #: Twilio Voice and a scripted phone network on a virtual clock (see fake_twilio/voice.py).
        self.voice = VoiceNetwork(self)

    def _clear(self) -> None:
        with self._lock:
            self._requests: list[RecordedRequest] = []
            self._stored: dict[str, _Stored] = {}
            self._media: dict[str, tuple[str, bytes]] = {}
            self._behaviours: dict[str, _Behaviour] = {}
            self._webhooks: list[SentWebhook] = []
            self._errors: list[str] = []
            self._order = 0
            self.latency = 0.0

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeTwilio:
        if self._server is not None:
            return self
        self._server = _Server((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-twilio", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeTwilio is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: what replaces ``https://api.twilio.com``."""
        return f"http://{self.host}:{self.port}"

    # -- inspection --------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, in the order they were answered."""
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> dict[str, dict[str, Any]]:
        """A snapshot of the created messages (the API's JSON resources), by SID, oldest first."""
        with self._lock:
            return {sid: copy.deepcopy(stored.resource) for sid, stored in self._stored.items()}

    @property
    def webhooks(self) -> list[SentWebhook]:
        """The status callbacks and inbound webhooks delivered so far."""
        with self._lock:
            return list(self._webhooks)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of unexpected errors inside the fake (answered as 500s); should stay empty."""
        with self._lock:
            return list(self._errors)

    def requests_to(self, number: str) -> list[RecordedRequest]:
        """The create-message requests (whatever they were answered) whose ``To`` is ``number``."""
        return [request for request in self.requests if request.is_create and request.to == number]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``count`` requests were answered; raises ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(self._requests)} of {count} requests after {timeout}s")
                self._changed.wait(remaining)
            return list(self._requests)

    def reset(self) -> None:
        """Forget requests, messages, behaviours, webhooks and errors; latency back to 0; reset voice."""
        self._clear()
        self.voice.reset()

    # -- behaviour ---------------------------------------------------------

    def respond_for(
        self,
        to_number: str,
        status: int | None = None,
        code: int | None = None,
        times: int | None = None,
        *,
        message: str | None = None,
        retry_after: int | None = 1,
    ) -> None:
        """Make creating a message to ``to_number`` (``"*"``: any number) fail.

        Give ``code`` (status derived: 20429 -> 429, 20500 -> 500, others 400) or
        ``status`` (code derived for 401/404/429/5xx) or both. ``times=N`` fails N
        times, then messages to the number succeed again; ``None`` fails forever.
        A 2xx ``status`` makes the number succeed (e.g. to exempt it from ``"*"``).
        429 answers carry ``Retry-After: retry_after`` unless it is None.
        """
        if status is None and code is None:
            raise ValueError("give status, code or both")
        if status is None:
            status = _STATUS_FOR_CODE.get(code, 400)
        if code is None:
            if status not in _CODE_FOR_STATUS and status >= 300:
                raise ValueError(f"give the Twilio error code for HTTP {status}")
            code = _CODE_FOR_STATUS.get(status, 0)
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for always)")
        with self._lock:
            self._behaviours[to_number] = _Behaviour(
                status, code, message or ERROR_MESSAGES.get(code, "Error"), times, retry_after
            )

    def clear_behaviour(self, to_number: str) -> None:
        with self._lock:
            self._behaviours.pop(to_number, None)

    def _take_behaviour(self, to_number: str) -> _Behaviour | None:
        with self._lock:
            key = to_number if to_number in self._behaviours else "*"
            behaviour = self._behaviours.get(key)
            if behaviour is not None and behaviour.times is not None:
                behaviour.times -= 1
                if behaviour.times <= 0:
                    del self._behaviours[key]
            return behaviour

    # -- message state -----------------------------------------------------

    def set_status(
        self, sid: str, status: str, error_code: int | None = None, error_message: str | None = None
    ) -> dict[str, Any]:
        """Move message ``sid`` to ``status`` (e.g. sent, delivered, undelivered, failed); returns the resource.

        The first move to a sent/final status sets ``date_sent``; a Messaging Service
        message without a sender gets ``default_from``.
        """
        now = self.clock()
        with self._lock:
            stored = self._stored.get(sid)
            if stored is None:
                raise KeyError(f"no message {sid}")
            resource = stored.resource
            resource["status"] = status
            resource["error_code"] = error_code
            resource["error_message"] = (
                (error_message or ERROR_MESSAGES.get(error_code, "Error")) if error_code is not None else None
            )
            resource["date_updated"] = rfc2822(now)
            if status in _SENT_STATUSES:
                if stored.sent_at is None:
                    stored.sent_at = now
                    resource["date_sent"] = rfc2822(now)
                if resource["from"] is None:
                    resource["from"] = self.default_from
            self._changed.notify_all()
            return copy.deepcopy(resource)

    # -- webhooks ----------------------------------------------------------

    def sign(self, url: str, params: Mapping[str, str], auth_token: str | None = None) -> str:
        """The ``X-Twilio-Signature`` Twilio would send for a POST of ``params`` to ``url``."""
        return RequestValidator(auth_token or self.auth_token).compute_signature(url, dict(params))

    def send_status_callback(
        self,
        sid: str,
        status: str,
        url: str | None = None,
        error_code: int | None = None,
        auth_token: str | None = None,
        *,
        post: Transport | None = None,
    ) -> Any:
        """Set the message's status, then POST a signed status callback for it.

        Goes to ``url`` or else the ``StatusCallback`` given at creation. ``post(url,
        data, headers)`` replaces the HTTP delivery (e.g. to go through a Flask test
        client); ``auth_token`` signs with another token (to test rejection).
        Returns ``(status_code, body)`` (or what ``post`` returned, if not a response).
        """
        resource = self.set_status(sid, status, error_code=error_code)
        with self._lock:
            target = url or self._stored[sid].status_callback
        if not target:
            raise ValueError(f"message {sid} has no StatusCallback; pass url=")
        params = {
            "AccountSid": resource["account_sid"],
            "ApiVersion": API_VERSION,
            "From": resource["from"] or "",
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": resource["to"],
        }
        if resource["messaging_service_sid"]:
            params["MessagingServiceSid"] = resource["messaging_service_sid"]
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return self._deliver("status", target, params, auth_token, post)

    def inbound(
        self,
        url: str,
        from_: str,
        to: str,
        body: str,
        auth_token: str | None = None,
        *,
        post: Transport | None = None,
        message_sid: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> Any:
        """POST a signed inbound-SMS webhook to ``url``; returns ``(status_code, body)``.

        ``extra`` adds or overrides form fields (e.g. ``MessagingServiceSid``).
        """
        sid = message_sid or "SM" + secrets.token_hex(16)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": from_,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": str(count_segments(body)),
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": to,
            **(extra or {}),
        }
        return self._deliver("inbound", url, params, auth_token, post)

    def add_media(self, content_type: str, data: bytes, message_sid: str | None = None) -> str:
        """Keep a photo (or other media) as Twilio keeps an MMS's; returns its MediaUrl (Basic auth to fetch)."""
        sid = "ME" + secrets.token_hex(16)
        message_sid = message_sid or "MM" + secrets.token_hex(16)
        with self._lock:
            self._media[sid] = (content_type, data)
        return f"https://api.twilio.com/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message_sid}/Media/{sid}"

    def _deliver(
        self, kind: str, url: str, params: dict[str, str], auth_token: str | None, post: Transport | None
    ) -> Any:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "X-Twilio-Signature": self.sign(url, params, auth_token),
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        transport = post or self.post or http_post
        result = _normalise_result(transport(url, dict(params), dict(headers)))
        status_code, body = result if isinstance(result, tuple) and len(result) == 2 else (None, result)
        with self._lock:
            self._webhooks.append(SentWebhook(kind, url, params, headers, status_code, body))
        return result

    # -- the HTTP API ------------------------------------------------------

    def _note_error(self, error: str) -> None:
        with self._lock:
            self._errors.append(error)

    def _handle(self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes) -> _Answer:
        received = time.time()
        split = urlsplit(raw_path)
        query = {name: values[0] for name, values in parse_qs(split.query, keep_blank_values=True).items()}
        multi: dict[str, list[str]] = {}
        if raw_body:
            multi = parse_qs(raw_body.decode("utf-8", "replace"), keep_blank_values=True)
        form = {name: values[0] for name, values in multi.items()}
        latency = self.latency
        if latency > 0:
            time.sleep(latency)
        try:
            answer = self._route(method, split.path, query, form, headers, multi)
        except _ApiError as error:
            answer = _Answer(error.status, error.payload, error.headers)
        except Exception:  # noqa: BLE001 - a bug in the fake must answer, not hang the client
            self._note_error(traceback.format_exc())
            answer = _Answer(500, error_payload(500, 20500))
        record = RecordedRequest(
            method, split.path, query, form, headers, received, answer.status, copy.deepcopy(answer.payload)
        )
        with self._lock:
            self._requests.append(record)
            self._changed.notify_all()
        listener = self.listener
        if listener is not None:
            try:
                listener(record)
            except Exception:  # noqa: BLE001 - a broken listener must not break the fake
                self._note_error(traceback.format_exc())
        return answer

    def _authorised(self, headers: dict[str, str]) -> bool:
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except ValueError:
            return False
        return hmac.compare_digest(user.encode(), self.account_sid.encode()) and hmac.compare_digest(
            password.encode(), self.auth_token.encode()
        )

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        form: dict[str, str],
        headers: dict[str, str],
        multi: dict[str, list[str]] | None = None,
    ) -> _Answer:
        if not self._authorised(headers):
            raise _ApiError(401, 20003, headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})
        media = _MEDIA_PATH.fullmatch(path)
        if media is not None and method == "GET" and media[1] == self.account_sid:
            with self._lock:
                found = self._media.get(media[3])
            if found is None:
                raise _ApiError(404, 20404, f"The requested resource {path} was not found")
            return _Answer(200, headers={"Content-Type": found[0]}, raw=found[1])
        if self.voice.rest.handles(path):
            return self.voice.rest.handle(method, path, query, multi or {name: [value] for name, value in form.items()})
        match = _MESSAGES_PATH.fullmatch(path)
        if match is None or match[1] != self.account_sid:
            raise _ApiError(404, 20404, f"The requested resource {path} was not found")
        sid = match[2]
        if sid is None:
            if method == "POST":
                return self._create(form)
            if method == "GET":
                return self._list(path, query)
        else:
            if method == "GET":
                return _Answer(200, self._resource(sid, path))
            if method == "POST":
                return self._update(sid, path, form)
            if method == "DELETE":
                self._resource(sid, path)
                with self._lock:
                    self._stored.pop(sid, None)
                return _Answer(204)
        raise _ApiError(405, 20004)

    def _resource(self, sid: str, path: str) -> dict[str, Any]:
        with self._lock:
            stored = self._stored.get(sid)
            if stored is None:
                raise _ApiError(404, 20404, f"The requested resource {path} was not found")
            return copy.deepcopy(stored.resource)

    def _create(self, form: dict[str, str]) -> _Answer:
        to = form.get("To", "").strip()
        from_ = form.get("From") or None
        service = form.get("MessagingServiceSid") or None
        body = form.get("Body", "")
        if not to:
            raise _ApiError(400, 21604)
        if from_ is None and service is None:
            raise _ApiError(400, 21603)
        if not body and not form.get("MediaUrl") and not form.get("ContentSid"):
            raise _ApiError(400, 21602)
        if not _E164.fullmatch(to):
            raise _ApiError(400, 21211)
        if len(body) > 1600:
            raise _ApiError(400, 21617)
        behaviour = self._take_behaviour(to)
        if behaviour is not None and behaviour.status >= 300:
            extra = {}
            if behaviour.status == 429 and behaviour.retry_after is not None:
                extra["Retry-After"] = str(behaviour.retry_after)
            raise _ApiError(behaviour.status, behaviour.code, behaviour.message, extra)

        now = self.clock()
        sid = "SM" + secrets.token_hex(16)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        resource = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": rfc2822(now),
            "date_sent": None,
            "date_updated": rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": service,
            "num_media": "1" if form.get("MediaUrl") else "0",
            "num_segments": str(count_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            # Twilio answers "accepted" when only a Messaging Service was given.
            "status": "queued" if from_ else "accepted",
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": to,
            "uri": f"{uri}.json",
        }
        with self._lock:
            self._order += 1
            self._stored[sid] = _Stored(
                resource, now, status_callback=form.get("StatusCallback") or None, order=self._order
            )
        return _Answer(201, copy.deepcopy(resource))

    def _update(self, sid: str, path: str, form: dict[str, str]) -> _Answer:
        self._resource(sid, path)
        if "Body" in form and form["Body"] != "":
            raise _ApiError(400, 20001, "Body can only be redacted (set to an empty string)")
        with self._lock:
            resource = self._stored[sid].resource
            if "Body" in form:
                resource["body"] = ""
            if form.get("Status") == "canceled":
                resource["status"] = "canceled"
            resource["date_updated"] = rfc2822(self.clock())
            return _Answer(200, copy.deepcopy(resource))

    def _list(self, path: str, query: dict[str, str]) -> _Answer:
        try:
            page_size = int(query.get("PageSize", "50"))
            page = int(query.get("Page", "0"))
        except ValueError as error:
            raise _ApiError(400, 20001, "PageSize and Page must be integers") from error
        if not 1 <= page_size <= 1000 or page < 0:
            raise _ApiError(400, 20001, "PageSize must be 1 to 1000 and Page at least 0")
        wanted = {name: query[name] for name in _LIST_FILTERS if name in query}
        on = _filter_date(wanted.get("DateSent"))
        before = _filter_date(wanted.get("DateSent<"))
        after = _filter_date(wanted.get("DateSent>"))

        with self._lock:
            stored = sorted(self._stored.values(), key=lambda s: (s.created_at, s.order), reverse=True)
            matching = []
            for item in stored:
                resource = item.resource
                sent_on = (item.sent_at or item.created_at).astimezone(UTC).date()
                if "To" in wanted and resource["to"] != wanted["To"]:
                    continue
                if "From" in wanted and resource["from"] != wanted["From"]:
                    continue
                if (on and sent_on != on) or (before and sent_on > before) or (after and sent_on < after):
                    continue
                matching.append(copy.deepcopy(resource))

        start = page * page_size
        records = matching[start : start + page_size]

        def page_uri(number: int) -> str:
            return f"{path}?{urlencode([*wanted.items(), ('PageSize', page_size), ('Page', number)])}"

        payload = {
            "messages": records,
            "end": start + max(len(records) - 1, 0),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if len(matching) > start + page_size else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        }
        return _Answer(200, payload)


def _filter_date(value: str | None) -> date | None:
    """The date of a ``DateSent`` filter: ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SSZ`` (time ignored)."""
    if value is None:
        return None
    text = value.lstrip("<>=").strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError as error:
        raise _ApiError(400, 20001, f"Invalid date filter {value!r}") from error
