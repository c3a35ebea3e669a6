"""The job worker: every registered job runs once with `worker --once`."""

from __future__ import annotations

from backend.jobs.registry import JOBS
from backend.jobs.runner import build_scheduler


def test_worker_once_runs_every_job(app, coach):
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    for job in JOBS:
        assert f"{job.name}:" in result.output
    assert "weekly_check_in_tasks: 1" in result.output
    assert "caseload_snapshots: 1" in result.output


def test_scheduler_registers_every_job(app):
    scheduler = build_scheduler(app, blocking=False)
    assert sorted(j.id for j in scheduler.get_jobs()) == sorted(j.name for j in JOBS)
