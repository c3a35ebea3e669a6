"""What-if runs of the dispatcher, in-process, with the backend's functions wrapped for the run only.

Nothing in backend/ is edited: a variant wraps a function of
`backend.messaging.dispatch` (which `dispatch_due` looks up at call time) or
drives `claim_due` / `send_claimed` / `record_sent` from a thread pool, runs
one worker in-process against the fake Twilio server (a separate process),
and checks every text went out exactly once. The figures say what a change in
backend/messaging/dispatch.py would be worth on this machine:

- "async commit": the transaction that records Twilio's answers (`record_sent`,
  or `send_claimed` in code that records per text) starts with
  ``SET LOCAL synchronous_commit = off``: its COMMIT no longer waits for the WAL
  flush. The claim's commit, which guards against a second send, stays
  synchronous; a result lost in a PostgreSQL crash leaves the text `sending`,
  which the lease and reconciliation settle, like a worker crash;
- "N threads": each claimed batch is sent by N threads (each with its own app
  context and session) so that Twilio's latency overlaps; the accepted texts
  are then recorded together (`record_sent`), as `dispatch_due` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from benchmarks.lib.common import log
from benchmarks.lib.dispatch_data import Verification, load_due_messages, verify
from benchmarks.lib.dispatch_diag import _app, _run_job_until_empty
from benchmarks.lib.dispatch_run import FakeTwilioProcess
from benchmarks.lib.procs import cpu_probe


def _async_commit(function: Callable) -> Callable:
    """`function` with SET LOCAL synchronous_commit = off first (not for an empty batch: that would leave a
    transaction open, and the next commit, the claim's, would be asynchronous too)."""
    import sqlalchemy as sa

    from backend.database import db

    def wrapped(*args, **kwargs):
        if not args or args[0]:
            db.session.execute(sa.text("SET LOCAL synchronous_commit = off"))
        return function(*args, **kwargs)

    return wrapped


def _threaded(app, batch: int, threads: int) -> int:
    """Claim in this thread, send the batch from `threads` threads, record the accepted ones; until none is due."""
    from backend.database import db
    from backend.messaging import dispatch

    def one(item):
        with app.app_context():
            try:
                return dispatch.send_claimed(item)
            finally:
                db.session.remove()

    sent = 0
    with ThreadPoolExecutor(threads) as pool:
        while True:
            with app.app_context():
                try:
                    claimed = dispatch.claim_due(batch)
                finally:
                    db.session.remove()
            if not claimed:
                return sent
            answers = list(pool.map(one, claimed))
            if hasattr(dispatch, "record_sent"):  # send_claimed answers (status, sid); recording is separate
                with app.app_context():
                    try:
                        dispatch.record_sent([(item.id, sid) for item, (_status, sid) in zip(claimed, answers,
                                                                                          strict=True)
                                              if sid is not None])
                    finally:
                        db.session.remove()
                answers = [status for status, _sid in answers]
            sent += sum(1 for status in answers if str(status) == "sent")


@dataclass
class WhatIf:
    label: str
    latency_ms: float
    messages: int
    repetition: int = 1
    sent: int = 0
    seconds: float = 0.0
    probe_ms: float = 0.0  # procs.cpu_probe() just before
    verification: Verification | None = None

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


VARIANTS = [  # (label, async commit of the results, threads)
    ("as is", False, 0),
    ("async commit", True, 0),
    ("4 threads", False, 4),
    ("4 threads + async commit", True, 4),
]
LATENT_VARIANTS = [
    ("as is", False, 0),
    ("8 threads", False, 8),
    ("8 threads + async commit", True, 8),
]


def what_if(dbname: str, workdir: Path, messages: int, latent_messages: int, latency_ms: float, batch: int,
            budget: float, rounds: int = 3) -> list[WhatIf]:
    """Each 0 ms variant `rounds` times, interleaved (A B C A B C ...) so that a drift in the host's speed
    hits every variant alike; the latency variants once (their time is mostly the fake's sleep)."""
    from backend.messaging import dispatch

    results = []
    plan = [(v, 0.0, messages, r + 1) for r in range(rounds) for v in VARIANTS]
    plan += [(v, latency_ms, latent_messages, 1) for v in LATENT_VARIANTS]
    for (label, async_commit, threads), latency, count, repetition in plan:
        result = WhatIf(label, latency, count, repetition, probe_ms=cpu_probe())
        load_due_messages(dbname, count, f"whatif-{len(results)}")
        fake = FakeTwilioProcess(workdir, latency / 1000, "fake-twilio-whatif")
        target = "record_sent" if hasattr(dispatch, "record_sent") else "send_claimed"
        original = getattr(dispatch, target)
        report: dict = {}
        app = None
        try:
            app = _app(dbname, fake.env())
            if async_commit:
                setattr(dispatch, target, _async_commit(original))
            t0 = time.perf_counter()
            result.sent = _threaded(app, batch, threads) if threads else _run_job_until_empty(app, batch, budget)
            result.seconds = time.perf_counter() - t0
        finally:
            setattr(dispatch, target, original)
            if app is not None:
                from backend.database import db

                with app.app_context():
                    db.engine.dispose()
            report = fake.stop()
        result.verification = verify(dbname, count, report)
        log(f"what if, {label}, {latency:g} ms, round {repetition}: {result.sent:,} texts in {result.seconds:.1f} s = "
            f"{result.rate:,.0f}/s (CPU probe {result.probe_ms:.0f} ms); {result.verification.summary()}")
        results.append(result)
    return results
