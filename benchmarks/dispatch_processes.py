"""The processes of the dispatch scenario, started by benchmarks/dispatch.py from the project root::

    python -m benchmarks.dispatch_processes worker --batch 50 --budget 50 --max-seconds 900
    python -m benchmarks.dispatch_processes fake --latency 0.05 --report /tmp/report.json

`worker` builds the app from its environment (DATABASE_URL, TWILIO_* of the
fake, SMS_RATE_PER_SECOND=0), prints READY, waits for GO on stdin, then runs
the dispatch_sms job through the job runner (`run_job`) with no pause until
nothing is due, and prints one RESULT line (JSON): texts by status, wall times
of the start and of the last send, CPU seconds and memory. `fake` serves the
fake Twilio server (fake_twilio) on a free port, prints its base URL and
credentials as a JSON line, answers each request after --latency seconds, and
on SIGTERM or the end of stdin writes the create requests it answered per
body (count, last SID) to --report.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path


def worker(batch: int, budget: float, max_seconds: float) -> int:
    """Run the dispatch_sms job until nothing is due; print READY before and RESULT after."""
    import sqlalchemy as sa

    from backend import create_app
    from backend.database import db, utcnow
    from backend.jobs.runner import job_named, run_job
    from backend.messaging.models import Message
    from benchmarks.harness import status_kb

    app = create_app()
    job = replace(job_named("dispatch_sms"), kwargs={"batch": batch, "budget_seconds": budget})

    def due_left() -> bool:
        with app.app_context():
            try:
                return bool(db.session.scalar(sa.select(sa.exists().where(
                    Message.status.in_(("scheduled", "queued")), Message.scheduled_for <= utcnow()))))
            finally:
                db.session.remove()

    due_left()  # connect before the start signal
    print(f"READY gateway={app.extensions['sms_gateway'].name}", flush=True)
    if sys.stdin.readline().strip() != "GO":
        return 1
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started, cpu0, rss0 = time.time(), usage.ru_utime + usage.ru_stime, status_kb(os.getpid())
    counts: Counter[str] = Counter()
    last_sent, calls = started, 0
    while time.time() - started < max_seconds:
        result = run_job(app, job) or {}
        calls += 1
        if sum(result.values()):
            counts.update(result)
            last_sent = time.time()
        elif not due_left():
            break
        else:
            time.sleep(0.02)  # due rows exist but the other worker holds them
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print("RESULT " + json.dumps({
        "counts": dict(counts), "sent": counts.get("sent", 0), "started": started, "last_sent": last_sent,
        "cpu": usage.ru_utime + usage.ru_stime - cpu0, "calls": calls, "rss_start_kb": rss0,
        "rss_end_kb": status_kb(os.getpid()), "rss_peak_kb": status_kb(os.getpid(), "VmHWM")}), flush=True)
    return 0


def fake(latency: float, report: Path) -> int:
    """Serve the fake Twilio until SIGTERM or the end of stdin; write what it received to `report`."""
    from fake_twilio import FakeTwilio, RecordedRequest

    lock, statuses, bodies = threading.Lock(), Counter(), {}

    def listener(request: RecordedRequest) -> None:
        if request.is_create:
            with lock:
                statuses[str(request.response_status)] += 1
                if request.response_status == 201:
                    entry = bodies.setdefault(request.form.get("Body", ""), [0, None])
                    entry[0], entry[1] = entry[0] + 1, (request.response or {}).get("sid")

    server = FakeTwilio(listener=listener)
    server.latency = latency
    server.start()
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stopped.set()), daemon=True).start()
    print(json.dumps({"base_url": server.base_url, "account_sid": server.account_sid,
                      "auth_token": server.auth_token}), flush=True)
    try:
        while not stopped.wait(0.2):
            pass
    finally:
        server.stop()
        with lock:
            report.write_text(json.dumps({"creates": sum(statuses.values()), "statuses": dict(statuses),
                                          "bodies": bodies, "errors": server.errors[:5]}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the `worker` or the `fake` process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="process", required=True)
    work = sub.add_parser("worker")
    work.add_argument("--batch", type=int, default=50)
    work.add_argument("--budget", type=float, default=50.0)
    work.add_argument("--max-seconds", type=float, default=1800.0)
    serve = sub.add_parser("fake")
    serve.add_argument("--latency", type=float, default=0.0)
    serve.add_argument("--report", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.process == "worker":
        return worker(args.batch, args.budget, args.max_seconds)
    return fake(args.latency, args.report)


if __name__ == "__main__":
    sys.exit(main())
