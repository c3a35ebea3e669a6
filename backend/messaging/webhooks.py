"""Twilio webhooks: inbound texts and delivery receipts, each checked against X-Twilio-Signature."""

from __future__ import annotations

import functools

from flask import Blueprint, Response, current_app, request

from backend.common.unit_of_work import transaction
from backend.errors import ApiError
from backend.messaging import inbound
from backend.messaging.gateway import signature_is_valid, twiml

blueprint = Blueprint("twilio_webhooks", __name__, url_prefix="/webhooks/twilio")


@blueprint.before_request
def _check_signature():
    url = current_app.config["PUBLIC_BASE_URL"] + request.full_path.rstrip("?")
    if not signature_is_valid(url, request.form.to_dict(), request.headers.get("X-Twilio-Signature")):
        raise ApiError(403, "invalid_signature", "The request is not signed by Twilio.")


def sms_webhook_action(view):
    """A messaging webhook's unit of work: one commit; a domain error rolls back and answers empty TwiML.

    Twilio shows the 4xx in the number's error log; the sender gets no answer and nothing is stored.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            with transaction():
                reply = view(*args, **kwargs)
        except ApiError as exc:
            return Response(twiml(), status=exc.status, mimetype="text/xml")
        return Response(twiml(reply), mimetype="text/xml")

    return wrapper


@blueprint.post("/sms")
@sms_webhook_action
def inbound_sms():
    """A patient's text: keywords act at once; anything else reaches their coach."""
    form = request.form
    return inbound.handle_inbound(form.get("From", ""), form.get("To", ""), form.get("Body", ""),
                                  form.get("MessageSid") or form.get("SmsSid"), form.get("MessagingServiceSid"))


@blueprint.post("/sms/status")
@sms_webhook_action
def delivery_status():
    """A delivery receipt for one of our texts."""
    form = request.form
    code = form.get("ErrorCode")
    inbound.apply_status_callback(form.get("MessageSid") or form.get("SmsSid", ""),
                                  form.get("MessageStatus") or form.get("SmsStatus", ""),
                                  int(code) if code and code.isdigit() else None,
                                  request.args.get("message", type=int), request.args.get("attempt", type=int))
