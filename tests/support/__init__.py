"""Test helpers that are not fixtures: fakes of external services."""
