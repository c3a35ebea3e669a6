"""Audit trail: who read or wrote which patient record, when, from where."""
