"""Contacts: every touch between a coach and a patient."""
