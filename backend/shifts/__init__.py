"""Shifts: when a coach is on duty (automatic assignments, warm-line calls)."""
