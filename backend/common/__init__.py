"""Pieces every capability's API shares: schemas, pagination, the action wrapper."""
