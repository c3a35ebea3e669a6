"""Programme-level aggregates for supervisors (counts only, no patient details)."""
