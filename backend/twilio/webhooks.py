"""Twilio's webhooks as entry points: the signature check, the programme that owns the dialled number,
one unit of work, and a refusal rendered the way the channel needs (messaging: an empty TwiML document
with the status; voice: an apology and a voicemail, always a 200)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from flask import Response, current_app, request

from backend.common.errors import DomainError
from backend.common.unit_of_work import transaction
from backend.errors import ApiError
from backend.programs.models import Program
from backend.programs.numbers import owning_program
from backend.twilio.gateway import redact, signature_is_valid

log = logging.getLogger("bridgeline.twilio")


class RefusedWebhookError(ApiError):
    """A webhook Twilio should not have sent us (bad signature, a number we do not own)."""


def check_signature() -> None:
    """Refuse a request not signed by Twilio; the URL is PUBLIC_BASE_URL's, never the Host header's."""
    url = current_app.config["PUBLIC_BASE_URL"] + request.full_path.rstrip("?")
    if not signature_is_valid(url, request.form.to_dict(), request.headers.get("X-Twilio-Signature")):
        raise RefusedWebhookError(403, "invalid_signature", "The request is not signed by Twilio.")


def webhook_form() -> dict[str, str]:
    """The signed form Twilio sent, with NUL characters removed (a patient's words are kept, never refused)."""
    return {key: value.replace("\x00", "") for key, value in request.form.items()}


def dialled_program() -> Program:
    """The programme that owns the number the text or call reached (or its Messaging Service).

    A number no programme owns is refused and logged without the sender: filing it
    anywhere would disclose a patient's words or call to the wrong programme.
    """
    form = webhook_form()
    program = owning_program(form.get("To"), form.get("MessagingServiceSid"))
    if program is None:
        log.warning("webhook refused: number %s belongs to no programme", redact(form.get("To")))
        raise RefusedWebhookError(404, "number_not_owned", "No programme owns the number this was sent to.")
    return program


def twilio_webhook(render: Callable[[object], Response], refuse: Callable[[DomainError], Response]):
    """Wrap a webhook view: signature, one transaction, `render(result)`; any refusal goes to `refuse`."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                check_signature()
                with transaction():
                    result = view(*args, **kwargs)
            except DomainError as exc:
                return refuse(exc)
            return render(result)

        return wrapper

    return decorator
