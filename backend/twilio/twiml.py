"""TwiML documents, built with the SDK's `twilio.twiml` classes (never string templates)."""

from __future__ import annotations

from flask import Response
from twilio.twiml.messaging_response import MessagingResponse


def messaging_document(reply: str | None = None) -> str:
    """A TwiML messaging response: empty, or one reply message."""
    response = MessagingResponse()
    if reply is not None:
        response.message(reply)
    return str(response)


def twiml_response(document: str, status: int = 200) -> Response:
    """Serve a TwiML document."""
    return Response(document, status=status, mimetype="text/xml")
