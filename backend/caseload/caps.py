"""The cap rule, in one place: loads are in hundredths of a standard patient, caps in whole patients."""

from __future__ import annotations

from backend.programs.models import CaseloadPolicy
from backend.users.models import User


def cap_of(coach: User, policy: CaseloadPolicy) -> int:
    """The coach's cap in whole load units (their own, else the programme's default)."""
    return coach.caseload_cap or policy.default_cap


def fits(load: int, weight: int, cap: int) -> bool:
    """Whether a patient of `weight` fits on a caseload carrying `load` under `cap` (reaching it exactly fits)."""
    return load + weight <= cap * 100


def crossed(load_before: int, added: int, cap: int) -> bool:
    """Whether adding `added` took a caseload that was within its cap over it (not one already over)."""
    return fits(load_before, 0, cap) and not fits(load_before, added, cap)


def utilisation(load: int, cap: int) -> float:
    """Load over cap, as a fraction."""
    return round(load / (cap * 100), 4) if cap else 0.0
