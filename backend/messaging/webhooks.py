"""Twilio's messaging webhooks: inbound texts and delivery receipts (signed, one unit of work each)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from backend.common.errors import DomainError
from backend.errors import http_status
from backend.messaging import inbound
from backend.twilio.twiml import messaging_document, twiml_response
from backend.twilio.webhooks import dialled_program, twilio_webhook, webhook_form

blueprint = Blueprint("twilio_webhooks", __name__, url_prefix="/webhooks/twilio")


def _reply(text: str | None) -> Response:
    return twiml_response(messaging_document(text))


def _refuse(exc: DomainError) -> Response:
    # Nothing stored, no answer to the sender; Twilio shows the status in the number's error log.
    return twiml_response(messaging_document(), status=http_status(exc))


sms_webhook = twilio_webhook(render=_reply, refuse=_refuse)


@blueprint.post("/sms")
@sms_webhook
def inbound_sms():
    """A patient's text: keywords act at once; anything else reaches their coach."""
    form = webhook_form()
    return inbound.handle_inbound(dialled_program(), form.get("From", ""), form.get("To", ""), form.get("Body", ""),
                                  form.get("MessageSid") or form.get("SmsSid"), media=inbound.media_of(form))


@blueprint.post("/sms/status")
@sms_webhook
def delivery_status():
    """A delivery receipt for one of our texts."""
    form = webhook_form()
    code = form.get("ErrorCode")  # digits only: "²" passes isdigit() but is no number
    inbound.apply_status_callback(form.get("MessageSid") or form.get("SmsSid", ""),
                                  form.get("MessageStatus") or form.get("SmsStatus", ""),
                                  int(code) if code and code.isascii() and code.isdigit() else None,
                                  request.args.get("message", type=int), request.args.get("attempt", type=int))
