"""Run the fake Twilio server and dispatch workers as separate processes and measure them.

`FakeTwilioProcess` is benchmarks/lib/fake_twilio_server.py, `WorkerProcess`
is benchmarks/lib/dispatch_worker.py; each runs in its own process group and
is stopped by `stop()` (SIGTERM, then SIGKILL). `run_dispatch` starts the
fake and the workers, releases the workers together, waits until each has
reported, accounts the CPU time of the workers, the fake, PostgreSQL and the
rest of the machine over the run (from /proc), optionally samples a worker's
RSS, and checks every text went out exactly once.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.lib.common import ROOT, VENV_BIN, log, pg_url
from benchmarks.lib.dispatch_data import Verification, sent_count, verify
from benchmarks.lib.procs import CpuSnapshot, status_kb, stop_process

FROM_NUMBER = "+13125550100"
PYTHON = str(VENV_BIN / "python")


def _wait_for_line(path: Path, prefix: str, proc: subprocess.Popen, timeout: float) -> str:
    """The first line of `path` starting with `prefix`; raises when the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text().splitlines():
                if line.startswith(prefix):
                    return line
        if proc.poll() is not None:
            raise RuntimeError(f"{path.stem} exited with {proc.returncode}:\n{path.read_text()[-3000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"{path.stem}: no {prefix!r} line within {timeout:.0f} s:\n{path.read_text()[-3000:]}")


class FakeTwilioProcess:
    """benchmarks/lib/fake_twilio_server.py with a fixed latency; `stop()` returns its counts."""

    def __init__(self, workdir: Path, latency: float, name: str = "fake-twilio"):
        self.out = workdir / f"{name}.out"
        self.report_path = workdir / f"{name}.json"
        self.report_path.unlink(missing_ok=True)
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "benchmarks.lib.fake_twilio_server", "--latency", str(latency),
                 "--report", str(self.report_path)],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.PIPE, start_new_session=True)
        self.settings = json.loads(_wait_for_line(self.out, "{", self.proc, 30))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def env(self) -> dict[str, str]:
        return {"TWILIO_ACCOUNT_SID": self.settings["account_sid"], "TWILIO_AUTH_TOKEN": self.settings["auth_token"],
                "TWILIO_API_BASE_URL": self.settings["base_url"], "TWILIO_FROM_NUMBER": FROM_NUMBER}

    def stop(self) -> dict:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        stop_process(self.proc)
        if not self.report_path.exists():
            raise RuntimeError(f"the fake Twilio server wrote no report:\n{self.out.read_text()[-3000:]}")
        return json.loads(self.report_path.read_text())


def worker_env(dbname: str, fake: FakeTwilioProcess) -> dict[str, str]:
    """The worker's production-shaped environment, the rate limit lifted."""
    env = dict(os.environ)
    for name in ("REDIS_URL", "TWILIO_MESSAGING_SERVICE_SID", "PUBLIC_BASE_URL"):
        env.pop(name, None)
    env.update({"DATABASE_URL": pg_url(dbname), "SECRET_KEY": secrets.token_urlsafe(36),
                "BRIDGELINE_ENV": "production", "SMS_RATE_PER_SECOND": "0", "LOG_LEVEL": "WARNING",
                **fake.env()})
    return env


class WorkerProcess:
    """benchmarks/lib/dispatch_worker.py: READY after start-up, runs on `go()`, RESULT when nothing is due."""

    def __init__(self, workdir: Path, index: int, env: dict[str, str], batch: int, budget: float,
                 max_seconds: float):
        self.out = workdir / f"worker-{index}.out"
        self.err = workdir / f"worker-{index}.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "benchmarks.lib.dispatch_worker", "--batch", str(batch), "--budget", str(budget),
                 "--max-seconds", str(max_seconds)],
                cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=out, stderr=err, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 60) -> str:
        return _wait_for_line(self.out, "READY", self.proc, timeout)

    def go(self) -> None:
        self.proc.stdin.write(b"GO\n")
        self.proc.stdin.flush()

    def result(self) -> dict | None:
        """The RESULT line once printed (None before)."""
        if self.out.exists():
            for line in self.out.read_text().splitlines():
                if line.startswith("RESULT "):
                    return json.loads(line[len("RESULT "):])
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.err.read_text()[-3000:]}")
        return None

    def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        stop_process(self.proc)


@dataclass
class MemorySample:
    seconds: float  # since the start signal
    sent: int  # texts in status sent (database)
    rss_kb: int  # worker VmRSS


@dataclass
class DispatchRun:
    workers: int
    latency_ms: float
    loaded: int
    sent: int = 0
    seconds: float = 0.0  # first start to last send
    per_worker: list[dict] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds over the run, by group
    wall: float = 0.0  # seconds over which `cpu` was taken
    verification: Verification | None = None
    samples: list[MemorySample] = field(default_factory=list)
    others: list[tuple[str, float]] = field(default_factory=list)  # busiest other processes: (name, CPU s)
    repetition: int = 1
    probe_ms: tuple[float, float] = (0.0, 0.0)  # procs.cpu_probe() before and after the run

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def cpu_ms(self, group: str) -> float:
        """CPU ms per text sent of a process group."""
        return self.cpu.get(group, 0.0) * 1000 / max(1, self.sent)

    @property
    def cores(self) -> int:
        return os.cpu_count() or 1

    def busy(self) -> float:
        """Share of all cores busy during the run."""
        return self.cpu.get("machine", 0.0) / max(1e-9, self.wall * self.cores)

    def share(self, group: str) -> float:
        """Share of the machine's busy CPU taken by a group."""
        return self.cpu.get(group, 0.0) / max(1e-9, self.cpu.get("machine", 0.0))

    def other(self) -> float:
        """Share of all cores used by processes outside the benchmark."""
        known = sum(v for k, v in self.cpu.items() if k != "machine")
        return max(0.0, self.cpu.get("machine", 0.0) - known) / max(1e-9, self.wall * self.cores)

    def other_names(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.others if seconds >= 0.5)

    def summary(self) -> str:
        return (f"{self.workers} worker(s), {self.latency_ms:.0f} ms latency: {self.sent:,} sent in "
                f"{self.seconds:.1f} s = {self.rate:,.0f}/s; CPU ms/text worker {self.cpu_ms('workers'):.2f}, "
                f"fake {self.cpu_ms('fake twilio'):.2f}, postgres {self.cpu_ms('postgres'):.2f}, interrupts "
                f"{self.cpu_ms('kernel interrupts'):.2f}; machine busy {self.busy():.0%}, fake "
                f"{self.share('fake twilio'):.0%} of it, other processes {self.other():.0%}"
                + (f" ({self.other_names()})" if self.other_names() else ""))


def run_dispatch(dbname: str, workdir: Path, workers: int, latency: float, loaded: int, batch: int, budget: float,
                 max_seconds: float, sample_every: float = 0.0,
                 on_sample: Callable[[MemorySample], None] | None = None) -> DispatchRun:
    """Fake + `workers` worker processes over the loaded outbox; stops every process it started."""
    run = DispatchRun(workers=workers, latency_ms=latency * 1000, loaded=loaded)
    fake = FakeTwilioProcess(workdir, latency)
    procs: list[WorkerProcess] = []
    try:
        env = worker_env(dbname, fake)
        procs = [WorkerProcess(workdir, i, env, batch, budget, max_seconds) for i in range(workers)]
        for proc in procs:
            proc.wait_ready()
        pids = {"workers": [p.pid for p in procs], "fake twilio": [fake.pid]}
        before = CpuSnapshot.take(pids)
        started = time.monotonic()
        for proc in procs:
            proc.go()
        results: dict[int, dict] = {}
        next_sample = started
        deadline = started + max_seconds + 120
        while len(results) < len(procs):
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers did not finish within {max_seconds + 120:.0f} s")
            for i, proc in enumerate(procs):
                if i not in results:
                    result = proc.result()
                    if result is not None:
                        results[i] = result
            if sample_every and time.monotonic() >= next_sample and len(results) < len(procs):
                sample = MemorySample(time.monotonic() - started, sent_count(dbname), status_kb(procs[0].pid, "VmRSS"))
                run.samples.append(sample)
                if on_sample:
                    on_sample(sample)
                next_sample += sample_every
            time.sleep(0.05)
        after = CpuSnapshot.take(pids)  # before the workers exit: their PostgreSQL backends are still there
        run.wall = time.monotonic() - started
        run.cpu = after.since(before)
        run.others = after.others(before, {p for group in pids.values() for p in group})
        run.per_worker = [results[i] for i in range(len(procs))]
        if sample_every:
            run.samples.append(MemorySample(run.wall, sent_count(dbname), status_kb(procs[0].pid, "VmRSS")))
    finally:
        for proc in procs:
            proc.stop()
        report = fake.stop()
    run.sent = sum(r["sent"] for r in run.per_worker)
    run.seconds = max(r["last_sent"] for r in run.per_worker) - min(r["started"] for r in run.per_worker)
    run.verification = verify(dbname, loaded, report)
    log(f"{run.summary()}")
    log(f"check: {run.verification.summary()}")
    return run
