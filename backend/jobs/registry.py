"""Every scheduled job, with its trigger. Capabilities add their jobs here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from backend.audit.seals import seal_closed_blocks
from backend.auth.service import purge_ended_sessions
from backend.auth.throttle import purge_old_failures
from backend.caseload.snapshots import write_daily_snapshots
from backend.idempotency.service import purge_expired as purge_idempotency_records
from backend.messaging.dispatch import dispatch_due
from backend.messaging.reconcile import reconcile_unknown
from backend.shifts.service import close_stale_shifts
from backend.tasks.service import escalate_overdue_tasks
from backend.voice.upkeep import delete_expired_voicemails, end_lost_calls
from backend.wellness.service import create_weekly_check_in_tasks


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[[], object]
    trigger: object
    # Singleton chores run in one worker at a time (an advisory lock on PostgreSQL).
    singleton: bool = True
    # The job commits in steps (the runner hands it `Steps`); otherwise the runner commits once at the end.
    steps: bool = False
    kwargs: dict = field(default_factory=dict)


JOBS: tuple[Job, ...] = (
    # Several workers may dispatch at once: each text is claimed with SKIP LOCKED.
    Job("dispatch_sms", dispatch_due, IntervalTrigger(seconds=2), singleton=False, steps=True),
    Job("reconcile_sms", reconcile_unknown, IntervalTrigger(minutes=1), steps=True),
    Job("close_stale_shifts", close_stale_shifts, IntervalTrigger(minutes=5)),
    Job("caseload_snapshots", write_daily_snapshots, CronTrigger(hour=23, minute=50, timezone="UTC")),
    Job("weekly_check_in_tasks", create_weekly_check_in_tasks,
        CronTrigger(day_of_week="mon", hour=14, minute=0, timezone="UTC")),
    # Tasks overdue past the programme's time go to the coach's supervisor, once each.
    Job("escalate_overdue_tasks", escalate_overdue_tasks, IntervalTrigger(minutes=15)),
    # Retention: replayable responses hold patient data and are kept no longer than their key lives.
    Job("purge_idempotency_records", purge_idempotency_records, IntervalTrigger(hours=1)),
    Job("purge_ended_sessions", purge_ended_sessions, CronTrigger(hour=3, minute=30, timezone="UTC")),
    Job("purge_login_failures", purge_old_failures, IntervalTrigger(hours=1)),
    # Tamper evidence: closed blocks of audit events sealed with a keyed, chained hash.
    Job("seal_audit_events", seal_closed_blocks, IntervalTrigger(minutes=1)),
    # Voicemails live at Twilio only as long as the programme keeps them.
    Job("delete_expired_voicemails", delete_expired_voicemails, IntervalTrigger(hours=1), steps=True),
    Job("end_lost_calls", end_lost_calls, IntervalTrigger(minutes=1)),
)
