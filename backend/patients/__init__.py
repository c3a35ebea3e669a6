"""Patients: the people coaches support, scoped per coach and programme."""
