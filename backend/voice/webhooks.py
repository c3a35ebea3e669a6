"""Twilio's voice webhooks: signed, one unit of work each, and always TwiML -- an error apologises and takes a
voicemail, never a 500 and never silence (a caller left ringing is the worst outcome a helpline has)."""

from __future__ import annotations

import functools
import io
import logging
import math
import struct
import wave

from flask import Blueprint, Response

from backend.common.unit_of_work import transaction
from backend.twilio.twiml import empty_voice_document, twiml_response
from backend.twilio.webhooks import RefusedWebhookError, check_signature, dialled_program, webhook_form
from backend.voice import answers, effects, routing  # noqa: F401 - effects registers the command runner
from backend.voice.paths import INCOMING, PREFIX, RECORDED, RECORDING, RINGBACK, STATUS

log = logging.getLogger("bridgeline.voice")
blueprint = Blueprint("voice_webhooks", __name__)


def voice_webhook(view):
    """Signature, one transaction, TwiML out; a refusal hangs up, any failure apologises and records."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            check_signature()
            with transaction():
                document = view(*args, **kwargs)
        except RefusedWebhookError as exc:
            log.warning("voice webhook refused: %s", exc.code)
            return twiml_response(answers.not_in_service(), status=exc.status)
        except Exception:  # noqa: BLE001 - the caller must hear something, whatever broke
            log.exception("voice webhook failed at %s", view.__name__)  # ids only: no numbers in our messages
            return twiml_response(answers.apology())
        return twiml_response(document)

    return wrapper


def _int(name: str) -> int | None:
    value = webhook_form().get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


@blueprint.post(INCOMING)
@voice_webhook
def incoming_call():
    """A call to one of the programme's numbers (the number's "A call comes in" webhook)."""
    form = webhook_form()
    return routing.answer_incoming(dialled_program(), form.get("CallSid", ""), form.get("From", ""),
                                   form.get("To", ""))


@blueprint.post(STATUS)
@voice_webhook
def caller_status():
    """The caller's leg changed state (the number's "Call status changes" webhook)."""
    form = webhook_form()
    routing.caller_status(form.get("CallSid", ""), form.get("CallStatus", ""), _int("SequenceNumber"),
                          _int("CallDuration"))
    return empty_voice_document()


@blueprint.post(f"{PREFIX}/calls/<int:call_id>/wait")
@voice_webhook
def waiting(call_id: int):
    """What the caller hears while coaches are rung: ringing."""
    return answers.ringback()


@blueprint.post(f"{PREFIX}/calls/<int:call_id>/events")
@voice_webhook
def conference_events(call_id: int):
    """The call's conference started, ended, or someone joined or left."""
    form = webhook_form()
    routing.conference_event(call_id, form.get("StatusCallbackEvent", ""), form.get("ConferenceSid"),
                             form.get("CallSid"))
    return empty_voice_document()


@blueprint.post(f"{PREFIX}/calls/<int:call_id>/after")
@voice_webhook
def after_conference(call_id: int):
    """The caller's conference ended with the caller still on the line."""
    return answers.goodbye("en")


@blueprint.post(f"{PREFIX}/calls/<int:call_id>/voicemail")
@voice_webhook
def voicemail(call_id: int):
    """Nobody took the call: the caller hears the crisis number and may leave a message."""
    return routing.voicemail_for(call_id)


@blueprint.post(RECORDED)
@voice_webhook
def recorded():
    """The caller finished a message (<Record action>)."""
    form = webhook_form()
    return routing.store_voicemail(form.get("CallSid", ""), form.get("RecordingSid"), _int("RecordingDuration"),
                                   form.get("From", ""), form.get("To", ""))


@blueprint.post(RECORDING)
@voice_webhook
def recording_status():
    """Twilio has the recording (recordingStatusCallback): the same filing, once."""
    form = webhook_form()
    if form.get("RecordingStatus", "completed") == "completed":
        routing.store_voicemail(form.get("CallSid", ""), form.get("RecordingSid"), _int("RecordingDuration"),
                                form.get("From", ""), form.get("To", ""))
    return empty_voice_document()


@blueprint.post(f"{PREFIX}/legs/<int:leg_id>/screen")
@voice_webhook
def screen(leg_id: int):
    """A coach (or partner) answered: the whisper and press 1."""
    return routing.screen_leg(leg_id, webhook_form().get("CallSid"))


@blueprint.post(f"{PREFIX}/legs/<int:leg_id>/accept")
@voice_webhook
def accept(leg_id: int):
    """The key they pressed."""
    return routing.accept_leg(leg_id, webhook_form().get("Digits", ""))


@blueprint.post(f"{PREFIX}/legs/<int:leg_id>/status")
@voice_webhook
def leg_status(leg_id: int):
    """A leg's status callback: ringing, answered, or over (and how)."""
    form = webhook_form()
    routing.leg_status(leg_id, form.get("CallStatus", ""), _int("SequenceNumber"), form.get("CallSid"),
                       _int("CallDuration"))
    return empty_voice_document()


@blueprint.post(f"{PREFIX}/legs/<int:leg_id>/no-answer")
@voice_webhook
def patient_did_not_answer(leg_id: int):
    """The coach of a masked call hears that the patient did not answer."""
    return answers.outbound_no_answer()


@functools.cache
def _ringback_audio() -> bytes:
    """North American ringback (440 + 480 Hz, 2 s on, 4 s off), 8 kHz mono, made once."""
    rate, frames = 8000, bytearray()
    for n in range(rate * 6):
        on = n < rate * 2
        value = 0.25 * (math.sin(2 * math.pi * 440 * n / rate) + math.sin(2 * math.pi * 480 * n / rate)) if on else 0
        frames += struct.pack("<h", int(value * 32767 / 2))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


@blueprint.get(RINGBACK)
def ringback_audio():
    """The ringing a waiting caller hears (public: a tone, nothing about anyone)."""
    return Response(_ringback_audio(), mimetype="audio/wav", headers={"Cache-Control": "public, max-age=86400"})
