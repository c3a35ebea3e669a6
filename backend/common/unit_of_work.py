"""The unit of work entry points share: one transaction, committed on success, rolled back on any error.

Entry points (API views, panel views, webhooks, jobs, CLI commands, public pages)
own their transaction; services only flush. A refused request's audit row is
written by the entry point in its own transaction, after the rollback
(`after_rollback`), so the refusal is on record while the work is not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from backend.database import db


@contextlib.contextmanager
def transaction() -> Iterator[None]:
    """Commit what the block did; roll all of it back if it raises."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def after_rollback(record: Callable[[], object]) -> None:
    """Undo the refused work, then commit only what `record` writes (the refusal's audit row)."""
    db.session.rollback()
    record()
    db.session.commit()
