"""Twilio's one home: the SDK client (gateway.py), signed webhooks and the programme a number belongs to
(webhooks.py), and TwiML (twiml.py). Nothing else in Bridgeline imports the `twilio` SDK."""
