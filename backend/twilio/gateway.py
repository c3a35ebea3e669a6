"""The only door to Twilio's REST API: send SMS, look up sent messages, place and steer calls, fetch and
delete voicemails, check webhook signatures.

Without credentials a console gateway stands in: it logs a redacted line and
reports the message sent, so the product runs with no account.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime

import requests
from flask import Flask, current_app
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

log = logging.getLogger("bridgeline.sms")
TWILIO_API = "https://api.twilio.com"


@dataclass(frozen=True)
class SendResult:
    sid: str
    status: str


@dataclass(frozen=True)
class SentRecord:
    sid: str
    body: str
    status: str
    sent_at: datetime | None


@dataclass(frozen=True)
class Sender:
    """Who a text comes from: a Messaging Service, else a number (each programme has its own)."""

    number: str | None = None
    messaging_service_sid: str | None = None

    @property
    def key(self) -> str:
        return self.messaging_service_sid or self.number or "console"

    def as_params(self) -> dict:
        return ({"messaging_service_sid": self.messaging_service_sid} if self.messaging_service_sid
                else {"from_": self.number})


class GatewayError(Exception):
    """Twilio refused or failed: the HTTP status, Twilio's error code, and Retry-After if any."""

    def __init__(self, status: int | None, code: int | None, message: str = "", retry_after: int | None = None):
        super().__init__(message or f"SMS gateway error {status} {code}")
        self.status = status
        self.code = code
        self.retry_after = retry_after


def redact(number: str | None) -> str:
    """A phone number as logs may show it: the last two digits only."""
    return f"***{number[-2:]}" if number else "-"


class BaseUrlHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sent to TWILIO_API_BASE_URL (a local fake in tests) and keeping Retry-After.

    Twilio says how long to wait after a 429 in the Retry-After header, which the
    SDK's exception does not carry: the client notes it per thread for the gateway.
    """

    def __init__(self, base_url: str = TWILIO_API, timeout: float = 10):
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self._last = threading.local()
        if self.session is not None and self.base_url != TWILIO_API:
            self.session.trust_env = False  # a local endpoint: never through an HTTP(S)_PROXY

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        self._last.retry_after = None
        response = super().request(method, url, params=params, data=data, headers=headers, auth=auth,
                                   timeout=timeout, allow_redirects=allow_redirects)
        value = (response.headers or {}).get("Retry-After") if response.status_code == 429 else None
        self._last.retry_after = int(value) if value and str(value).isdigit() else None
        return response

    def retry_after(self) -> int | None:
        """Seconds Twilio asked this thread to wait after its last request, if it answered 429."""
        return getattr(self._last, "retry_after", None)


class TwilioGateway:
    """The official SDK; every call is one HTTP request to Twilio (or TWILIO_API_BASE_URL)."""

    name = "twilio"

    def __init__(self, config: dict):
        self.http_client = BaseUrlHttpClient(config.get("TWILIO_API_BASE_URL") or TWILIO_API)
        self.client = Client(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], http_client=self.http_client)

    def send(self, to: str, body: str, sender: Sender, status_callback: str | None = None) -> SendResult:
        try:
            message = self.client.messages.create(to=to, body=body, status_callback=status_callback,
                                                  **sender.as_params())
        except TwilioRestException as exc:
            raise GatewayError(exc.status, exc.code, exc.msg, self.http_client.retry_after()) from exc
        except Exception as exc:  # noqa: BLE001 - network failures are retried like a 5xx
            raise GatewayError(None, None, type(exc).__name__) from exc
        return SendResult(message.sid, str(message.status))

    def find_sent(self, to: str, since: datetime, until: datetime) -> list[SentRecord]:
        """Messages Twilio has to this number sent in the window (for crash reconciliation)."""
        try:
            found = self.client.messages.list(to=to, date_sent_after=since, date_sent_before=until, limit=100)
        except Exception as exc:  # noqa: BLE001 - the SDK raises a bare TwilioException for list pages
            raise GatewayError(getattr(exc, "status", None), getattr(exc, "code", None), type(exc).__name__) from exc
        # Twilio filters by day; keep only what falls inside the window.
        records = [SentRecord(m.sid, m.body or "", str(m.status), m.date_sent or m.date_created) for m in found]
        return [r for r in records if r.sent_at is None or since <= r.sent_at <= until]


    # -- Voice -----------------------------------------------------------------------------------------------

    def place_call(self, to: str, from_: str, url: str, status_callback: str, timeout: int) -> str:
        """Ring `to` from a programme number; Twilio fetches `url` when it answers. Returns the call's SID."""
        try:
            call = self.client.calls.create(
                to=to, from_=from_, url=url, method="POST", timeout=timeout, status_callback=status_callback,
                status_callback_method="POST",
                status_callback_event=["initiated", "ringing", "answered", "completed"])
        except TwilioRestException as exc:
            raise GatewayError(exc.status, exc.code, exc.msg) from exc
        except Exception as exc:  # noqa: BLE001 - a network failure fails this leg, the chain goes on
            raise GatewayError(None, None, type(exc).__name__) from exc
        return call.sid

    def redirect_call(self, sid: str, url: str) -> None:
        """Move a live call to the TwiML at `url` (out of a conference's waiting room, say)."""
        self._update_call(sid, url=url, method="POST")

    def end_call(self, sid: str, *, ringing: bool) -> None:
        """Stop a call: cancel it while it rings, hang it up once answered; one already over is left alone."""
        self._update_call(sid, status="canceled" if ringing else "completed")

    def _update_call(self, sid: str, **changes) -> None:
        try:
            self.client.calls(sid).update(**changes)
        except TwilioRestException as exc:
            if exc.status == 404 or exc.code == 21220:  # gone, or no longer in a state that can change
                return
            raise GatewayError(exc.status, exc.code, exc.msg) from exc

    def hold_participant(self, conference_sid: str, call_sid: str, hold: bool) -> None:
        """Put one participant of a conference on hold (they hear nothing said) or take them off it."""
        try:
            self.client.conferences(conference_sid).participants(call_sid).update(hold=hold)
        except TwilioRestException as exc:
            raise GatewayError(exc.status, exc.code, exc.msg) from exc

    def recording_audio(self, sid: str) -> tuple[bytes, str]:
        """A voicemail's audio, fetched with the account's credentials (never a public URL)."""
        return self.fetch_media(f"{TWILIO_API}/2010-04-01/Accounts/{self.client.account_sid}/Recordings/{sid}.mp3")

    def fetch_media(self, url: str) -> tuple[bytes, str]:
        """Media Twilio keeps (an MMS photo, a recording), fetched with the account's credentials.

        Straight through the HTTP session: the SDK's response decodes bodies as text, which media are not.
        """
        if not url.startswith(TWILIO_API + "/"):
            raise GatewayError(400, None, "not a Twilio media URL")
        session = self.http_client.session or requests.Session()
        try:
            response = session.get(self.http_client.base_url + url[len(TWILIO_API):], timeout=10,
                                   auth=(self.client.username, self.client.password))
        except requests.RequestException as exc:
            raise GatewayError(None, None, type(exc).__name__) from exc
        if response.status_code != 200:
            raise GatewayError(response.status_code, None, "media unavailable")
        return response.content, response.headers.get("Content-Type", "application/octet-stream").split(";")[0]

    def delete_recording(self, sid: str) -> None:
        """Delete a voicemail at Twilio (retention); one already gone counts as deleted."""
        try:
            self.client.recordings(sid).delete()
        except TwilioRestException as exc:
            if exc.status != 404:
                raise GatewayError(exc.status, exc.code, exc.msg) from exc


class ConsoleGateway:
    """No Twilio account: log a redacted line, report the message sent."""

    name = "console"

    def send(self, to: str, body: str, sender: Sender, status_callback: str | None = None) -> SendResult:
        sid = "SMconsole" + secrets.token_hex(12)
        log.info("console sms sid=%s to=%s chars=%d", sid, redact(to), len(body))
        return SendResult(sid, "sent")

    def find_sent(self, to: str, since: datetime, until: datetime) -> list[SentRecord]:
        return []

    def place_call(self, to: str, from_: str, url: str, status_callback: str, timeout: int) -> str:
        sid = "CAconsole" + secrets.token_hex(12)
        log.info("console call sid=%s to=%s (no phone rings without a Twilio account)", sid, redact(to))
        return sid

    def redirect_call(self, sid: str, url: str) -> None:
        log.info("console call sid=%s redirected", sid)

    def end_call(self, sid: str, *, ringing: bool) -> None:
        log.info("console call sid=%s ended", sid)

    def hold_participant(self, conference_sid: str, call_sid: str, hold: bool) -> None:
        log.info("console call sid=%s hold=%s", call_sid, hold)

    def recording_audio(self, sid: str) -> tuple[bytes, str]:
        raise GatewayError(404, 20404, "no recordings without a Twilio account")

    def fetch_media(self, url: str) -> tuple[bytes, str]:
        raise GatewayError(404, 20404, "no media without a Twilio account")

    def delete_recording(self, sid: str) -> None:
        log.info("console recording sid=%s deleted", sid)


def init_gateway(app: Flask) -> None:
    """Choose the gateway from the configuration."""
    config = app.config
    if config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN"):
        app.extensions["sms_gateway"] = TwilioGateway(config)
    else:
        app.extensions["sms_gateway"] = ConsoleGateway()


def gateway():
    """The app's SMS gateway."""
    return current_app.extensions["sms_gateway"]


def default_sender() -> Sender:
    """The deployment-wide sender (TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER), for programmes without one."""
    config = current_app.config
    return Sender(config.get("TWILIO_FROM_NUMBER"), config.get("TWILIO_MESSAGING_SERVICE_SID"))


def signature_is_valid(url: str, params: dict, signature: str | None) -> bool:
    """Check X-Twilio-Signature with Twilio's own validator (no token configured: nothing is valid)."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    if not token or not signature:
        return False
    return RequestValidator(token).validate(url, params, signature)
