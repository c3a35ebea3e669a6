"""Several workers, and a worker killed mid-batch: every text reaches Twilio exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from twilio.rest import Client

from backend import create_app
from backend.database import db, utcnow
from backend.jobs.runner import job_named, run_job
from backend.messaging.models import Message, MessageDirection, MessageStatus
from backend.twilio.gateway import BaseUrlHttpClient
from tests.messaging.conftest import FROM_NUMBER, daytime_zone, twilio_config

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def queue_many(app, patients, count: int) -> None:
    with app.app_context():
        due = utcnow() - timedelta(seconds=5)
        db.session.add_all([
            Message(program_id=patients[n % len(patients)].program_id, patient_id=patients[n % len(patients)].id,
                    direction=MessageDirection.OUTBOUND, body=f"Check-in number {n}", scheduled_for=due,
                    status=MessageStatus.QUEUED)
            for n in range(count)])
        db.session.commit()


def statuses(app) -> Counter:
    with app.app_context():
        return Counter(dict(db.session.execute(
            sa.select(Message.status, sa.func.count()).group_by(Message.status)).all()))


def creates_per_body(twilio) -> Counter:
    return Counter(r.form["Body"] for r in twilio.requests if r.is_create)


def test_two_workers_send_2000_texts_exactly_once(app, database_url, twilio, factory, coach):
    patients = factory.patients(coach, 20, sms_consent=True)
    queue_many(app, patients, 2000)
    errors = []

    def worker():
        worker_app = create_app(twilio_config(database_url, twilio))  # its own engine and connections
        try:
            job = replace(job_named("dispatch_sms"), kwargs={"batch": 25, "budget_seconds": 120})
            while run_job(worker_app, job):
                pass
            with worker_app.app_context():
                db.engine.dispose()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    per_body = creates_per_body(twilio)
    assert len(per_body) == 2000 and set(per_body.values()) == {1}
    assert statuses(app) == Counter({"sent": 2000})


@pytest.mark.real_clock
def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(app, database_url, twilio, factory, coach):
    patients = factory.patients(coach, 10, sms_consent=True, timezone=daytime_zone())
    queue_many(app, patients, 60)
    twilio.latency = 0.05
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "k" * 40, "TWILIO_ACCOUNT_SID": twilio.account_sid,
           "TWILIO_AUTH_TOKEN": twilio.auth_token, "TWILIO_API_BASE_URL": twilio.base_url,
           "TWILIO_FROM_NUMBER": FROM_NUMBER, "SMS_RATE_PER_SECOND": "0", "SMS_SEND_LEASE_SECONDS": "2",
           "REDIS_URL": "", "LOG_LEVEL": "WARNING"}
    code = ("from dataclasses import replace\nfrom backend import create_app\n"
            "from backend.jobs.runner import job_named, run_job\n"
            "run_job(create_app(), replace(job_named('dispatch_sms'), kwargs={'batch': 20}))\n")
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    try:
        twilio.wait_for_requests(12, timeout=30)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    sent_before_kill = len(creates_per_body(twilio))
    assert 0 < sent_before_kill < 60
    assert statuses(app)["sending"] > 0  # claimed, fate unknown to us

    twilio.latency = 0
    recovery = create_app(twilio_config(database_url, twilio, SMS_SEND_LEASE=timedelta(seconds=2)))
    # Later than the dead worker's leases (2 s): the clock is moved, not waited for.
    with time_machine.travel(utcnow() + timedelta(seconds=30), tick=True):
        result = run_job(recovery, job_named("reconcile_sms"))
        assert result["sent"] >= 1 and result["still_unknown"] == 0
        run_job(recovery, job_named("dispatch_sms"))
    with recovery.app_context():
        db.engine.dispose()
    per_body = creates_per_body(twilio)
    assert len(per_body) == 60 and set(per_body.values()) == {1}
    assert statuses(app) == Counter({"sent": 60})


def test_two_workers_reconciling_and_dispatching_the_same_unknown_texts_send_each_exactly_once(
        app, database_url, backend, twilio, factory, coach):
    """A worker died mid-send: 40 texts are `unknown`, Twilio has half of them. Two workers each run
    reconcile then dispatch, many rounds at once: every text reaches Twilio exactly once, none is lost."""
    if backend != "postgresql":
        pytest.skip("workers on separate hosts share PostgreSQL (SQLite runs one in-process scheduler)")
    patients = factory.patients(coach, 10, sms_consent=True)
    started = utcnow() - timedelta(seconds=5)
    with app.app_context():
        messages = [Message(program_id=coach.program_id, patient_id=patients[n % 10].id,
                            direction=MessageDirection.OUTBOUND, body=f"Interrupted text {n}", scheduled_for=started,
                            status=MessageStatus.SENDING, attempts=1, to_number=patients[n % 10].phone,
                            sending_started_at=started, lease_until=started + timedelta(seconds=1))
                    for n in range(40)]
        db.session.add_all(messages)
        db.session.commit()
        # The dead worker got half of them to Twilio before it died.
        client = Client(twilio.account_sid, twilio.auth_token, http_client=BaseUrlHttpClient(twilio.base_url))
        for message in messages[::2]:
            client.messages.create(to=message.to_number, from_=FROM_NUMBER, body=message.body)
    twilio.latency = 0.01  # slow enough that the two workers' rounds overlap
    errors = []

    def worker():
        worker_app = create_app(twilio_config(database_url, twilio))
        try:
            for _ in range(8):
                run_job(worker_app, job_named("reconcile_sms"))
                run_job(worker_app, job_named("dispatch_sms"))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            with worker_app.app_context():
                db.engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    per_body = creates_per_body(twilio)
    assert len(per_body) == 40 and set(per_body.values()) == {1}, per_body
    assert statuses(app) == Counter({"sent": 40})
