"""SMS follow-ups: templates, plans, a durable outbox, the Twilio gateway, webhooks."""
