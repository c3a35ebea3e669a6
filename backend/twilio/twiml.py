"""TwiML documents, built with the SDK's `twilio.twiml` classes (never string templates).

Messaging answers are empty or one reply. Voice documents are the few shapes the warm line needs, tested as
documents; what they say comes from the caller (in the caller's language), never from here.
"""

from __future__ import annotations

from flask import Response
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

#: Twilio's <Say> language for each language the product speaks.
SPOKEN = {"en": "en-US", "es": "es-US"}
VOICEMAIL_MAX_SECONDS = 120


def messaging_document(reply: str | None = None) -> str:
    """A TwiML messaging response: empty, or one reply message."""
    response = MessagingResponse()
    if reply is not None:
        response.message(reply)
    return str(response)


def twiml_response(document: str, status: int = 200) -> Response:
    """Serve a TwiML document."""
    return Response(document, status=status, mimetype="text/xml")


def empty_voice_document() -> str:
    """Nothing to do (a status callback's answer)."""
    return str(VoiceResponse())


def _say(response, texts: list[str], language: str) -> None:
    for text in texts:
        response.say(text, language=SPOKEN.get(language, "en-US"))


def say_and_hang_up(texts: list[str], language: str) -> str:
    """Speak, then end this leg."""
    response = VoiceResponse()
    _say(response, texts, language)
    response.hangup()
    return str(response)


def take_voicemail(texts: list[str], language: str, action: str, recording_callback: str,
                   transcribe: bool, goodbye: str) -> str:
    """The notice (and crisis number), a beep, up to two minutes of message, then goodbye.

    No `transcribe` unless the programme turned it on: a transcript sends the caller's words to another processor.
    """
    response = VoiceResponse()
    _say(response, texts, language)
    response.record(action=action, method="POST", max_length=VOICEMAIL_MAX_SECONDS, play_beep=True,
                    finish_on_key="#", timeout=10, recording_status_callback=recording_callback,
                    recording_status_callback_method="POST", transcribe=transcribe)
    _say(response, [goodbye], language)
    response.hangup()
    return str(response)


def wait_in_room(texts: list[str], language: str, room: str, wait_url: str, events_url: str, after_url: str) -> str:
    """The caller waits, hearing ringing, in the call's own conference until a coach joins; leaving ends it."""
    response = VoiceResponse()
    _say(response, texts, language)
    dial = Dial(action=after_url, method="POST")
    dial.conference(room, start_conference_on_enter=False, end_conference_on_exit=True, beep=False,
                    wait_url=wait_url, wait_method="POST", status_callback=events_url,
                    status_callback_method="POST", status_callback_event="start end join leave")
    response.append(dial)
    return str(response)


def screen(prompt: str, language: str, accept_url: str, timeout: int, nothing_pressed: str) -> str:
    """The whisper on a callee's leg: press 1 to take the call, so that no voicemail machine ever takes it."""
    response = VoiceResponse()
    gather = Gather(input="dtmf", num_digits=1, timeout=timeout, action=accept_url, method="POST")
    gather.say(prompt, language=SPOKEN.get(language, "en-US"))
    response.append(gather)
    _say(response, [nothing_pressed], language)
    response.hangup()
    return str(response)


def join_room(room: str, language: str, texts: list[str] | None = None, *, ends_call: bool = False,
              events_url: str | None = None) -> str:
    """Join the call's conference (after the notice, for a partner); `ends_call` for the one whose leaving ends it."""
    response = VoiceResponse()
    _say(response, texts or [], language)
    dial = Dial()
    options = {"status_callback": events_url, "status_callback_method": "POST",
               "status_callback_event": "start end join leave"} if events_url else {}
    dial.conference(room, start_conference_on_enter=True, end_conference_on_exit=ends_call, beep=False, **options)
    response.append(dial)
    response.hangup()
    return str(response)


def ringback(audio_url: str) -> str:
    """What a waiting caller hears: ringing, as if the phone were still ringing."""
    response = VoiceResponse()
    response.play(audio_url, loop=10)
    return str(response)
