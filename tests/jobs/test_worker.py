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


def test_a_job_with_nothing_to_do_logs_at_debug_and_one_that_worked_at_info(app, coach, caplog):
    import logging

    from backend.jobs.runner import job_named, run_job

    caplog.set_level(logging.DEBUG, logger="bridgeline.jobs")
    run_job(app, job_named("dispatch_sms"))  # no texts due
    run_job(app, job_named("caseload_snapshots"))  # one coach: one snapshot written
    levels = {record.getMessage().split()[0]: record.levelname for record in caplog.records
              if record.name == "bridgeline.jobs"}
    assert levels == {"job=dispatch_sms": "DEBUG", "job=caseload_snapshots": "INFO"}


def test_the_embedded_default_links_follow_port(monkeypatch, tmp_path):
    from backend.config import load_config

    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("PORT", "5401")
    assert load_config(str(tmp_path))["PUBLIC_BASE_URL"] == "http://127.0.0.1:5401"
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://bridgeline.example.org/")
    assert load_config(str(tmp_path))["PUBLIC_BASE_URL"] == "https://bridgeline.example.org"
