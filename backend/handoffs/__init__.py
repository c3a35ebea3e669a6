"""Warm handoffs and referrals to partners, tracked as FHIR Tasks until the loop closes."""
