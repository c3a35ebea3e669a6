"""Run registered jobs: on an APScheduler scheduler, or each once (`worker --once`).

`run_job` is a job's entry point and owns its transaction: the job's body never
commits. A job that must make a step durable before it goes on (the outbox
commits its claim before Twilio is called) takes `steps` and calls
`steps.commit()`; the runner rolls back whatever the last step left on failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from backend.common.unit_of_work import run_after_commit
from backend.database import db
from backend.jobs.registry import JOBS, Job

log = logging.getLogger("bridgeline.jobs")
_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


class Steps:
    """Handed by the runner to a job that commits in steps; each `commit()` makes the work so far durable."""

    def commit(self) -> None:
        db.session.commit()
        run_after_commit()


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def singleton_lock(name: str) -> Iterator[bool]:
    """Hold the job's lock for the whole run, across its steps; yields False when another run holds it.

    PostgreSQL: a session-level advisory lock on a connection of its own (the
    job's steps commit and may use other pooled connections; a transaction-level
    lock would end with the first step). SQLite (one process, the embedded
    default): a lock per process.
    """
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            got = conn.scalar(sa.select(sa.func.pg_try_advisory_lock(_lock_key(name))))
            conn.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    conn.scalar(sa.select(sa.func.pg_advisory_unlock(_lock_key(name))))
                    conn.commit()
        return
    with _local_locks_guard:
        lock = _local_locks.setdefault(name, threading.Lock())
    got = lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()


def run_unit(func: Callable[..., object], *, steps: bool = False, **kwargs) -> object:
    """Run a job's body as one unit of work (in steps when it asks for them) inside an app context."""
    try:
        result = func(Steps(), **kwargs) if steps else func(**kwargs)
        db.session.commit()
        run_after_commit()
        return result
    except BaseException:
        db.session.rollback()
        raise
    finally:
        db.session.remove()


def run_job(app: Flask, job: Job) -> object:
    """Run one job in an app context; a singleton skips when another worker holds its lock."""
    with app.app_context():
        with contextlib.ExitStack() as stack:
            if job.singleton and not stack.enter_context(singleton_lock(job.name)):
                log.debug("job=%s skipped: running elsewhere", job.name)
                return None
            try:
                result = run_unit(job.func, steps=job.steps, **job.kwargs)
            except Exception:
                log.exception("job=%s failed", job.name)
                raise
        # A job that found nothing to do says so at DEBUG: the console shows what happened, not the ticking.
        log.log(logging.INFO if did_something(result) else logging.DEBUG, "job=%s done result=%s", job.name, result)
        return result


def did_something(result: object) -> bool:
    """Whether a job's result reports work done (a count, a non-empty collection, a non-zero figure)."""
    if isinstance(result, dict):
        return any(did_something(value) for value in result.values())
    if isinstance(result, list | tuple | set):
        return bool(result)
    return bool(result)


def job_named(name: str) -> Job:
    """The registered job called `name`."""
    return next(job for job in JOBS if job.name == name)


def run_all_once(app: Flask) -> dict[str, object]:
    """Run every job once, now (`flask --app backend worker --once`)."""
    return {job.name: run_job(app, job) for job in JOBS}


def build_scheduler(app: Flask, *, blocking: bool):
    """An APScheduler scheduler with every job; the caller starts it."""
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    for job in JOBS:
        scheduler.add_job(run_job, job.trigger, args=(app, job), id=job.name, name=job.name,
                          max_instances=1, coalesce=True, misfire_grace_time=300)
    return scheduler
