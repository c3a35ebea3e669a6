"""The voice webhook paths Twilio is sent to (one place, shared by the routes and the TwiML that names them)."""

from __future__ import annotations

from flask import current_app

PREFIX = "/webhooks/twilio/voice"
INCOMING = PREFIX                                  # the number's "A call comes in" URL
STATUS = f"{PREFIX}/status"                        # the number's "Call status changes" URL
RINGBACK = "/voice/ringback.wav"                 # a tone, public (Twilio fetches <Play> media unsigned)
RECORDED = f"{PREFIX}/recorded"                    # <Record action>, filed by CallSid
RECORDING = f"{PREFIX}/recording"                  # recordingStatusCallback, filed by CallSid


def call_path(call_id: int, step: str) -> str:
    """A step of one call: wait, events, after, voicemail."""
    return f"{PREFIX}/calls/{call_id}/{step}"


def leg_path(leg_id: int, step: str) -> str:
    """A step of one leg: screen, accept, join, status, no-answer."""
    return f"{PREFIX}/legs/{leg_id}/{step}"


def absolute(path: str) -> str:
    """The URL Twilio uses (and signs): PUBLIC_BASE_URL's, never the Host header's."""
    return current_app.config["PUBLIC_BASE_URL"] + path
