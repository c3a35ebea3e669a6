"""What a job that commits in steps is handed by its entry point (the job runner)."""

from __future__ import annotations

from typing import Protocol


class Steps(Protocol):
    """Ends one step of a job: what it did so far becomes durable. Only entry points implement it."""

    def commit(self) -> None: ...
