"""The fake Twilio server (fake_twilio/) in its own process, for benchmarks/dispatch.py.

Run from the project root (benchmarks/lib/dispatch_run.py starts it)::

    .venv/bin/python -m benchmarks.lib.fake_twilio_server --latency 0.05 --report /tmp/report.json

It serves on 127.0.0.1 (a free port), prints one JSON line with ``base_url``,
``account_sid`` and ``auth_token``, and answers every request after
``--latency`` seconds. It counts the create-message requests per body (with
the SID it answered) instead of printing them. On SIGTERM, SIGINT or the end
of its stdin (the benchmark gone) it stops and writes the counts to
``--report`` as JSON: ``creates``, ``statuses`` (HTTP status -> count),
``bodies`` (body -> [count, last SID]) and ``errors`` (the fake's own
tracebacks). It runs apart from the workers so that its CPU
does not share their GIL (it still shares the machine's cores).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fake_twilio import FakeTwilio, RecordedRequest  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--report", required=True, help="where to write the counts on exit (JSON)")
    args = parser.parse_args(argv)

    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    bodies: dict[str, list] = {}

    def listener(request: RecordedRequest) -> None:
        if not request.is_create:
            return
        with lock:
            statuses[request.response_status] += 1
            if request.response_status == 201:
                entry = bodies.setdefault(request.form.get("Body", ""), [0, None])
                entry[0] += 1
                entry[1] = (request.response or {}).get("sid")

    fake = FakeTwilio(listener=listener)
    fake.latency = args.latency
    fake.start()
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())

    def watch_parent() -> None:  # stdin is a pipe from the benchmark: EOF means it is gone
        sys.stdin.read()
        stopped.set()

    threading.Thread(target=watch_parent, daemon=True).start()
    print(json.dumps({"base_url": fake.base_url, "account_sid": fake.account_sid, "auth_token": fake.auth_token}),
          flush=True)
    try:
        while not stopped.wait(0.2):
            pass
    finally:
        fake.stop()
        with lock:
            report = {"creates": sum(statuses.values()), "statuses": {str(k): v for k, v in statuses.items()},
                      "bodies": bodies, "errors": fake.errors[:5]}
        Path(args.report).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
