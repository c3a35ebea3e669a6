"""The unit of work entry points share: one transaction, committed on success, rolled back on any error.

Entry points (API views, panel views, webhooks, jobs, CLI commands, public pages)
own their transaction; services only flush. A refused request's audit row is
written by the entry point in its own transaction, after the rollback
(`after_rollback`), so the refusal is on record while the work is not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.database import db

_AFTER_COMMIT = "after_commit"


@contextlib.contextmanager
def transaction() -> Iterator[None]:
    """Commit what the block did (then run what waits for the commit); roll all of it back if it raises."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    run_after_commit()


def after_commit(callback: Callable[[], object]) -> None:
    """Run `callback` once the entry point has committed (a call to Twilio that must not ring for work undone).

    Dropped if the unit of work rolls back. The callback runs outside the transaction and opens its own.
    """
    db.session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def run_after_commit() -> None:
    """Run, in order, what the committed unit of work left for after its commit."""
    while callbacks := db.session.info.pop(_AFTER_COMMIT, None):
        for callback in callbacks:
            callback()


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget_after_commit(session: Session, previous_transaction) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def after_rollback(record: Callable[[], object]) -> None:
    """Undo the refused work, then commit only what `record` writes (the refusal's audit row)."""
    db.session.rollback()
    record()
    db.session.commit()
