"""Caseloads that protect coaches: weighted load, caps, assignment, burnout signals."""
