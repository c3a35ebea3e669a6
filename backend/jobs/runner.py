"""Run registered jobs: on an APScheduler scheduler, or each once (`worker --once`)."""

from __future__ import annotations

import hashlib
import logging

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from backend.database import db
from backend.jobs.registry import JOBS, Job

log = logging.getLogger("bridgeline.jobs")


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def run_job(app: Flask, job: Job) -> object:
    """Run one job in an app context; a singleton skips when another worker holds its lock."""
    with app.app_context():
        try:
            if job.singleton and db.session.get_bind().dialect.name == "postgresql":
                # Held until the job's own commit, so the whole run is exclusive.
                got = db.session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(_lock_key(job.name))))
                if not got:
                    log.info("job=%s skipped: running elsewhere", job.name)
                    return None
            result = job.func(**job.kwargs)
            db.session.commit()
            log.info("job=%s done result=%s", job.name, result)
            return result
        except Exception:
            db.session.rollback()
            log.exception("job=%s failed", job.name)
            raise
        finally:
            db.session.remove()


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
