"""Synthetic demo data (no real people, .test e-mails, 555-01xx phone numbers)."""
