"""What the warm line asks of Twilio once its unit of work has committed.

A service never calls Twilio mid-transaction: a coach rung for a reservation that then rolled back would be
rung for nothing. It queues a command instead; the entry point runs it after the commit (see effects.py,
which registers the runner and turns a failure into the next step of the call).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backend.common.unit_of_work import after_commit


@dataclass(frozen=True)
class RingLeg:
    """Place the leg's call (coach, patient, partner, crisis line) from the programme's number."""

    leg_id: int
    to: str
    from_: str
    path: str
    timeout: int


@dataclass(frozen=True)
class StopCall:
    """Cancel a call still ringing, or hang up one in progress."""

    sid: str
    ringing: bool


@dataclass(frozen=True)
class Redirect:
    """Move a live call to other TwiML (the waiting caller to voicemail, a coach to a goodbye)."""

    sid: str
    path: str


@dataclass(frozen=True)
class Hold:
    """Put a conference participant on hold or take them off it."""

    conference_sid: str
    call_sid: str
    hold: bool


Command = RingLeg | StopCall | Redirect | Hold
_runner: list[Callable[[Command], None]] = []


def register_runner(runner: Callable[[Command], None]) -> None:
    """The entry-point layer says how commands are run (once, at import)."""
    _runner[:] = [runner]


def queue(command: Command) -> None:
    """Run the command after the current unit of work commits (dropped if it rolls back)."""
    after_commit(lambda: _runner[0](command))
