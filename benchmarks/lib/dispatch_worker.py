"""One SMS dispatch worker process, for benchmarks/dispatch.py.

Run from the project root with the app's environment (DATABASE_URL,
SECRET_KEY, TWILIO_* pointing at the fake, SMS_RATE_PER_SECOND=0)::

    .venv/bin/python -m benchmarks.lib.dispatch_worker --batch 50 --budget 50

It builds the app with ``create_app()`` as the job worker does, opens a
database connection, prints ``READY`` and waits for a ``GO`` line on stdin.
Then it runs the ``dispatch_sms`` job the way ``backend/jobs/runner.py`` runs
it (``run_job``: an app context, ``dispatch_due(batch, budget_seconds)``, a
commit, ``db.session.remove()``) over and over, with no pause, until nothing
is due (or ``--max-seconds`` pass), and prints one ``RESULT {json}`` line:
the statuses sent, the wall times of the start and of the last send
(``time.time()``, comparable across processes), its CPU seconds and memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DUE_LEFT = ("SELECT EXISTS (SELECT 1 FROM messages WHERE status IN ('scheduled', 'queued') "
            "AND scheduled_for <= now())")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=50, help="dispatch_due(batch=...)")
    parser.add_argument("--budget", type=float, default=50.0, help="dispatch_due(budget_seconds=...)")
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="stop after this long in any case")
    args = parser.parse_args(argv)

    import sqlalchemy as sa

    from backend import create_app
    from backend.database import db
    from backend.jobs.registry import Job
    from backend.jobs.runner import run_job
    from backend.messaging.dispatch import dispatch_due

    app = create_app()
    job = Job("dispatch_sms", dispatch_due, None, singleton=False,
              kwargs={"batch": args.batch, "budget_seconds": args.budget})

    def due_left() -> bool:
        with app.app_context():
            try:
                return bool(db.session.scalar(sa.text(DUE_LEFT)))
            finally:
                db.session.remove()

    due_left()  # connect once before the start signal
    print(f"READY gateway={app.extensions['sms_gateway'].name}", flush=True)
    if sys.stdin.readline().strip() != "GO":
        return 1
    started, cpu0, rss0 = time.time(), _cpu(), _kb("VmRSS")
    counts: Counter[str] = Counter()
    last_sent, calls, empty_calls = started, 0, 0
    while time.time() - started < args.max_seconds:
        result = run_job(app, job) or {}
        calls += 1
        if sum(result.values()):
            counts.update(result)
            last_sent = time.time()
            continue
        empty_calls += 1
        if not due_left():
            break
        time.sleep(0.02)  # due rows exist but another worker holds them: look again
    print("RESULT " + json.dumps({
        "counts": dict(counts), "sent": counts.get("sent", 0), "started": started, "last_sent": last_sent,
        "finished": time.time(), "cpu": _cpu() - cpu0, "calls": calls, "empty_calls": empty_calls,
        "rss_start_kb": rss0, "rss_end_kb": _kb("VmRSS"), "rss_peak_kb": _kb("VmHWM"),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
