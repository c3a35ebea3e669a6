"""Per-process figures from /proc: CPU seconds, resident memory, PostgreSQL's and the machine's CPU.

Used by benchmarks/dispatch.py to account the CPU of worker processes, the
fake Twilio server and PostgreSQL over a measured interval, and to sample a
worker's RSS.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> tuple[str, list[str]] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.index("(") + 1: raw.rindex(")")], raw[raw.rindex(")") + 2:].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone)."""
    stat = _stat_fields(pid)
    if stat is None:
        return 0.0
    fields = stat[1]
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def all_cpu_seconds() -> dict[int, tuple[str, float]]:
    """{pid: (command name, CPU seconds)} of every process, counting for each the children it has reaped
    (cutime + cstime): PostgreSQL's backends and autovacuum workers that exit mid-run stay in the
    postmaster's total."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat_fields(int(entry))
            if stat is not None:
                fields = stat[1]
                out[int(entry)] = (stat[0], sum(int(f) for f in fields[11:15]) / CLOCK_TICKS)
    return out


def postgres_cpu_seconds(processes: dict[int, tuple[str, float]] | None = None) -> float:
    """CPU seconds used so far by PostgreSQL: live `postgres` processes and the ones the postmaster reaped."""
    processes = all_cpu_seconds() if processes is None else processes
    return sum(cpu for comm, cpu in processes.values() if comm == "postgres")


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all cores; idle, iowait and steal left out)."""
    jiffies = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(jiffies) - jiffies[3] - jiffies[4] - jiffies[7]) / CLOCK_TICKS


def status_kb(pid: int, key: str) -> int:
    """A kB figure of /proc/<pid>/status, e.g. VmRSS or VmHWM (0 when the process is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def kernel_irq_seconds() -> float:
    """CPU seconds the machine spent in hard and soft interrupts (not charged to any process)."""
    jiffies = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (jiffies[5] + jiffies[6]) / CLOCK_TICKS


@dataclass
class CpuSnapshot:
    """CPU seconds at one moment: named processes, PostgreSQL, interrupts, the machine, every process."""

    processes: dict[str, float]
    postgres: float
    irq: float
    machine: float
    own: float
    every: dict[int, tuple[str, float]]

    @classmethod
    def take(cls, pids: dict[str, Iterable[int]]) -> CpuSnapshot:
        times = os.times()
        every = all_cpu_seconds()
        return cls({name: sum(cpu_seconds(p) for p in group) for name, group in pids.items()},
                   postgres_cpu_seconds(every), kernel_irq_seconds(), machine_cpu_seconds(),
                   times.user + times.system, every)

    def since(self, before: CpuSnapshot) -> dict[str, float]:
        """CPU seconds used between `before` and this snapshot, by name, plus postgres, interrupts, this
        script and the machine."""
        used = {name: self.processes[name] - before.processes.get(name, 0.0) for name in self.processes}
        used["postgres"] = self.postgres - before.postgres
        used["kernel interrupts"] = self.irq - before.irq
        used["benchmark script"] = self.own - before.own
        used["machine"] = self.machine - before.machine
        return used

    def others(self, before: CpuSnapshot, known: set[int], top: int = 3) -> list[tuple[str, float]]:
        """The busiest processes outside `known` pids and PostgreSQL between the snapshots: (name, seconds)."""
        used: dict[str, float] = {}
        for pid, (comm, cpu) in self.every.items():
            if pid in known or comm == "postgres" or pid == os.getpid():
                continue
            delta = cpu - before.every.get(pid, (comm, 0.0))[1]
            if delta > 0:
                used[comm] = used.get(comm, 0.0) + delta
        return sorted(used.items(), key=lambda kv: -kv[1])[:top]


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM the process group a Popen(start_new_session=True) made, then SIGKILL after `timeout`."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def cpu_probe(loops: int = 1_000_000, rounds: int = 3) -> float:
    """Milliseconds for a fixed pure-Python loop (best of `rounds`): how fast this VM's CPU is right now.

    On a shared host the same loop can take twice as long from one minute to the next while the
    machine itself looks idle; the benchmarks print this next to their figures.
    """
    import time

    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for i in range(loops):
            total += i
        best = min(best, (time.perf_counter() - started) * 1000)
    return best
