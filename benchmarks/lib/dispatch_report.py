"""The "SMS dispatch (messaging issue)" section of docs/PERFORMANCE.md, written by benchmarks/dispatch.py."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from benchmarks.lib.dispatch_diag import Breakdown, DispatchProfile, ScanResult
from benchmarks.lib.dispatch_run import DispatchRun, MemorySample
from benchmarks.lib.dispatch_whatif import WhatIf
from benchmarks.lib.report import machine_lines, markdown_table

TITLE = "## SMS dispatch (messaging issue)"
BLOCK = "benchmarks/dispatch.py"
GOAL_RATE = 300.0  # texts per second, one worker, 0 ms Twilio latency
FLAT_MIB_PER_10K = 0.5  # "flat": RSS grows by less than this per 10,000 texts after the first tenth of the run


@dataclass
class DispatchReport:
    started_at: str
    command: str
    machine: dict
    settings: dict  # batch, budget, patients, zone, local time, messages, ...
    runs: list[DispatchRun] = field(default_factory=list)
    scans: list[ScanResult] = field(default_factory=list)
    memory: DispatchRun | None = None
    memory_seconds: float = 0.0
    breakdown: Breakdown | None = None
    profile: DispatchProfile | None = None
    what_ifs: list[WhatIf] = field(default_factory=list)


def _mib(kb: float) -> str:
    return f"{kb / 1024:.1f}"


def _check(run: DispatchRun) -> str:
    v = run.verification
    if v is None:
        return "—"
    if v.ok:
        return f"yes: {v.exactly_once:,} once, 0 left"
    return f"**NO**: {v.exactly_once:,} once, {v.duplicated} dup, {v.missing} missing, {v.left} left"


def _configs(runs: list[DispatchRun]) -> list[tuple[float, int]]:
    seen: list[tuple[float, int]] = []
    for r in runs:
        if (r.latency_ms, r.workers) not in seen:
            seen.append((r.latency_ms, r.workers))
    return seen


def _of(runs: list[DispatchRun], latency_ms: float, workers: int) -> list[DispatchRun]:
    return [r for r in runs if r.latency_ms == latency_ms and r.workers == workers]


def throughput_table(runs: list[DispatchRun]) -> str:
    rows = []
    for latency_ms, workers in _configs(runs):
        for r in _of(runs, latency_ms, workers):
            per_worker = " / ".join(f"{w['sent']:,}" for w in r.per_worker)
            other = f"{r.other():.0%}" + (f" ({r.other_names()})" if r.other() > 0.05 and r.other_names() else "")
            rows.append([r.workers, f"{r.latency_ms:.0f}", r.repetition, f"{r.loaded:,}", f"{r.seconds:.1f}",
                         f"**{r.rate:,.0f}**", per_worker, f"{r.cpu_ms('workers'):.2f}",
                         f"{r.cpu_ms('fake twilio'):.2f}", f"{r.cpu_ms('postgres'):.2f}",
                         f"{r.busy():.0%}", f"{r.share('fake twilio'):.0%}", other,
                         f"{r.probe_ms[0]:.0f} / {r.probe_ms[1]:.0f}", _check(r)])
    return markdown_table(["Workers", "Fake latency ms", "Run", "Texts", "Seconds", "Texts/s", "Sent per worker",
                           "CPU ms/text workers", "fake Twilio", "PostgreSQL", "Machine busy",
                           "Fake's share of busy CPU", "Other processes", "CPU probe ms before / after",
                           "Every text sent exactly once"], rows, "rrrrrrrrrrrrrrl")


def summary_table(runs: list[DispatchRun]) -> str:
    rows = []
    for latency_ms, workers in _configs(runs):
        group = _of(runs, latency_ms, workers)
        rates = [r.rate for r in group]
        single = _of(runs, latency_ms, 1)
        vs = (f"{statistics.median(rates) / statistics.median([s.rate for s in single]):.2f}×"
              if workers != 1 and single else "—")
        rows.append([workers, f"{latency_ms:.0f}", len(group), f"**{statistics.median(rates):,.0f}**",
                     f"{min(rates):,.0f}–{max(rates):,.0f}", vs,
                     f"{statistics.median([r.cpu_ms('workers') for r in group]):.2f}",
                     f"{statistics.median([r.cpu_ms('fake twilio') for r in group]):.2f}",
                     f"{statistics.median([r.cpu_ms('postgres') for r in group]):.2f}"])
    return markdown_table(["Workers", "Fake latency ms", "Runs", "Texts/s, median", "range", "vs one worker",
                           "CPU ms/text workers", "fake Twilio", "PostgreSQL"], rows, "rrrrrrrrr")


def goal_lines(runs: list[DispatchRun]) -> list[str]:
    base = _of(runs, 0.0, 1)
    lines = []
    if base:
        rates = [r.rate for r in base]
        median = statistics.median(rates)
        met = median >= GOAL_RATE
        lines.append(f"- One worker at 0 ms latency: **{median:,.0f} texts/s** (median of {len(rates)} runs, "
                     f"{min(rates):,.0f}–{max(rates):,.0f}), goal ≥ {GOAL_RATE:.0f}: **{'met' if met else 'NOT met'}**"
                     + ("" if met else f" ({median / GOAL_RATE:.0%} of it)") + ".")
    checks = [r.verification for r in runs if r.verification is not None]
    if checks:
        ok = all(v.ok for v in checks)
        lines.append(f"- Exactly once: {'every' if ok else 'NOT every'} run sent each loaded text exactly once "
                     "(one create request per body at the fake, the row `sent` with the SID the fake answered, "
                     "attempts 1) and left none queued or sending.")
    return lines


def scan_table(scans: list[ScanResult]) -> str:
    rows = []
    for s in scans:
        rows.append([f"{s.future:,}", s.due, s.table_size, s.index_size, f"{s.handwritten.exec_ms:.3f}",
                     f"{s.orm.exec_ms:.3f}", "yes" if s.handwritten.uses_index and s.orm.uses_index else "**no**",
                     f"{statistics.median(s.claim_ms):.1f} / {sorted(s.claim_ms)[int(0.9 * len(s.claim_ms))]:.1f}",
                     f"{statistics.median(s.lock_sql_ms):.2f}", s.claim_statements,
                     f"{s.idle.exec_ms:.3f}", f"{statistics.median(s.idle_claim_ms):.1f}",
                     f"{s.generic.exec_ms:.1f} ({'index' if s.generic.uses_index else 'no index'})"])
    return markdown_table(["Future scheduled rows", "Due rows", "messages table", "ix_messages_due size",
                           "EXPLAIN ANALYZE exec ms (issue's query)", "exec ms (ORM's statement)",
                           "Plan uses ix_messages_due", "claim_due ms median / p90 (claims 50)",
                           "of which the locking SELECT ms", "SQL statements per claim", "Nothing due: exec ms",
                           "Nothing due: claim_due ms", "Generic plan exec ms"],
                          rows, "rrrrrrcrrrrrr")


def _thin(samples: list[MemorySample], total: int, step: int = 10_000) -> list[MemorySample]:
    """The first sample, the sample nearest each `step` texts, and the last."""
    if not samples:
        return []
    picked = [samples[0]]
    for mark in range(step, total + 1, step):
        best = min(samples, key=lambda s: abs(s.sent - mark))
        if best not in picked:
            picked.append(best)
    if samples[-1] not in picked:
        picked.append(samples[-1])
    return picked


def slope_mib_per_10k(samples: list[MemorySample], skip_share: float = 0.1) -> float:
    """Least-squares slope of RSS against texts sent, in MiB per 10,000 texts, after the first `skip_share`."""
    if not samples:
        return 0.0
    total = max(s.sent for s in samples)
    points = [(s.sent, s.rss_kb / 1024) for s in samples if s.sent >= skip_share * total and s.rss_kb]
    if len(points) < 3:
        return 0.0
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var * 10_000 if var else 0.0


def memory_lines(run: DispatchRun, seconds: float) -> list[str]:
    samples = [s for s in run.samples if s.rss_kb]
    if not samples:
        return ["(no samples)"]
    worker = run.per_worker[0]
    rss = [s.rss_kb for s in samples]
    slope_all = slope_mib_per_10k(samples, 0.0)
    slope = slope_mib_per_10k(samples)
    first_tenth = next((s for s in samples if s.sent >= 0.1 * run.loaded), samples[0])
    flat = slope < FLAT_MIB_PER_10K
    every = run.samples[1].seconds - run.samples[0].seconds if len(run.samples) > 1 else 0.0
    rows = [[f"{s.seconds:.0f}", f"{s.sent:,}", _mib(s.rss_kb)] for s in _thin(samples, run.loaded)]
    return [
        f"- {run.sent:,} texts in {seconds:.0f} s ({run.rate:,.0f} texts/s), one worker, 0 ms latency; VmRSS "
        f"sampled from /proc every {every:.0f} s "
        f"({len(samples)} samples); CPU probe {run.probe_ms[0]:.0f} / {run.probe_ms[1]:.0f} ms before / after; "
        f"check: {_check(run)}",
        f"- RSS at the start signal {_mib(rss[0])} MiB, after {first_tenth.sent:,} texts "
        f"{_mib(first_tenth.rss_kb)} MiB, "
        f"peak {_mib(max(rss))} MiB (VmHWM {_mib(worker['rss_peak_kb'])} MiB), end {_mib(rss[-1])} MiB",
        f"- Slope (least squares, RSS against texts sent): {slope_all:+.2f} MiB per 10,000 texts over the whole "
        "run, "
        f"**{slope:+.2f} MiB per 10,000 texts after the first tenth** (goal: flat, taken as < "
        f"{FLAT_MIB_PER_10K} MiB per 10,000): **{'met' if flat else 'NOT met'}**",
        "",
        markdown_table(["Seconds", "Texts sent", "Worker RSS MiB"], rows, "rrr"),
    ]


def plan_lines(scans: list[ScanResult]) -> list[str]:
    if not scans:
        return []
    big = max(scans, key=lambda s: s.future)
    small = min(scans, key=lambda s: s.future)
    out = [f"Plan of the ORM's locking SELECT with {big.future:,} future rows (EXPLAIN (ANALYZE, BUFFERS), in a "
           "rolled-back transaction):", "", "```", big.orm.plan, "```", ""]
    if small is not big:
        out += [f"The issue's query with {small.future:,} future rows:", "", "```", small.handwritten.plan, "```", ""]
    out += ["The ORM's statement:", "", "```sql", " ".join(big.orm_statement.split()), "```", ""]
    prepared = "; ".join(f"{g} generic / {c} custom plans" for _s, g, c in big.prepared) or "not prepared"
    out += [f"psycopg prepares a statement on its 5th execution on a connection; after {len(big.claim_ms) + 3} "
            f"claims the locking SELECT showed {prepared} in `pg_prepared_statements`. A generic plan cannot use "
            f"the partial index (the status list is a parameter there); forced with `plan_cache_mode = "
            f"force_generic_plan` it is:", "", "```", big.generic.plan, "```", ""]
    return out


def breakdown_lines(b: Breakdown | None, p: DispatchProfile | None, probe_ms: float = 0.0) -> list[str]:
    out = []
    if b is not None:
        per = b.ms_per_message

        def row(label: str, ms: float) -> list[str]:
            return [label, f"{ms:.2f}", f"{ms / per:.0%}" if per else "—"]

        http, gateway, send = b.ms(b.wall, "http"), b.ms(b.wall, "gateway"), b.ms(b.wall, "send")
        rows = [row("whole loop (wall)", per),
                row("**Twilio call** (`send_claimed` → `TwilioGateway.send` → HTTP)", http + gateway + send),
                row("  HTTP round trip (`requests.Session.send`, includes the fake's own time)", http),
                row("  SDK and request building around it (`TwilioGateway.send`)", gateway)]
        if send >= 0.005 or b.statements.get("send"):
            rows += [row("  `send_claimed` around the gateway call", send),
                     row(f"    of which SQL executes ({b.per_message('send'):.2f} statements per text)",
                         b.ms(b.sql, "send")),
                     row("    of which COMMIT", b.ms(b.commit, "send"))]
        for phase, label, what in (
                ("record", "**Recording the results** (`record_sent`: one UPDATE executemany + COMMIT per "
                 "batch of accepted texts)", "the UPDATEs"),
                ("claim", "**Claiming** (`claim_due`, one per batch, shared out per text)",
                 "locking SELECT, patients, loop-guard count, policy, UPDATE of the batch")):
            if phase not in b.wall:
                continue
            own = b.ms(b.wall, phase)
            sql, commit = b.ms(b.sql, phase), b.ms(b.commit, phase)
            rows += [row(label, own),
                     row(f"  SQL executes: {what} ({b.per_message(phase):.2f} statements per text)", sql),
                     row("  COMMIT (waits for the WAL flush: synchronous_commit=on)", commit),
                     row("  Python: ORM and Core work, bookkeeping", own - sql - commit)]
        rest = per - http - gateway - send - b.ms(b.wall, "record") - b.ms(b.wall, "claim")
        rows.append(row("the rest: `run_job`, `dispatch_due`'s loop, app contexts", rest))
        out += [f"**Where the time per text goes** (one worker in-process, 0 ms latency, {b.messages:,} texts, wall "
                f"time from thin wrappers around the parts, no profiler: {per:.2f} ms per text = "
                f"{1000 / per if per else 0:,.0f} texts/s; the fake used {b.fake_cpu * 1000 / max(1, b.messages):.2f} "
                f"ms of CPU per text; CPU probe {probe_ms:.0f} ms just before)", "",
                markdown_table(["Part", "ms per text", "share"], rows, "lrr"), ""]
    if p is not None:
        out += [f"**cProfile** of the same loop ({p.messages:,} texts, {p.seconds:.1f} s under the profiler): own "
                "time by library, then the cumulative share of a few functions", ""]
        out += [f"- {label}: {share:.0%}" for label, share in p.groups if share >= 0.01]
        out += [f"- cumulative, {label}: {share:.0%}" for label, share in p.cumulative]
        out.append("")
    return out


def what_if_table(results: list[WhatIf]) -> str:
    rows = []
    seen: list[tuple[str, float]] = []
    for r in results:
        if (r.label, r.latency_ms) not in seen:
            seen.append((r.label, r.latency_ms))
    for label, latency_ms in seen:
        group = [r for r in results if r.label == label and r.latency_ms == latency_ms]
        rates = [r.rate for r in group]
        ratios = []
        for r in group:  # against "as is" of the same round: the host's drift cancels out
            base = next((b for b in results if b.label == "as is" and b.latency_ms == latency_ms
                         and b.repetition == r.repetition), None)
            if base and base.rate:
                ratios.append(r.rate / base.rate)
        checks = [r.verification for r in group if r.verification is not None]
        once = "yes" if checks and all(v.ok for v in checks) else "**NO**"
        rows.append([label, f"{latency_ms:.0f}", len(group), f"{group[0].messages:,}",
                     f"**{statistics.median(rates):,.0f}**", f"{min(rates):,.0f}–{max(rates):,.0f}",
                     f"{statistics.median(ratios):.2f}×" if ratios else "—",
                     " / ".join(f"{r.probe_ms:.0f}" for r in group), once])
    return markdown_table(["Variant (in-process, one worker)", "Fake latency ms", "Runs", "Texts per run",
                           "Texts/s, median", "range", "vs as is (median of same-round ratios)",
                           "CPU probe ms", "Every text sent exactly once"], rows, "lrrrrrrrl")


def render_section(report: DispatchReport) -> str:
    s = report.settings
    probes = [p for r in [*report.runs, report.memory] if r is not None for p in r.probe_ms if p]
    probes += [w.probe_ms for w in report.what_ifs if w.probe_ms]
    machine = machine_lines(report.machine)[:2] + [
        f"- Python {report.machine['python']}; the workers, the fake Twilio server (Python, separate process), "
        f"PostgreSQL and this script share the same {report.machine['nproc']} cores"]
    out = [
        f"Measured {report.started_at} by `benchmarks/dispatch.py`. Reproduce from the project root with:",
        "",
        "```sh",
        report.command,
        "```",
        "",
        "(`--skip-load` reuses the database; `--messages`, `--memory-messages`, `--scan-future` and the other "
        "flags scale it down; `--help` lists them.)",
        "",
        "**Machine**",
        "",
        *machine,
        "",
        "**Data** (synthetic, COPY into `bridgeline_bench_dispatch`, schema at migration "
        f"{report.machine['migration']})",
        "",
        f"- 1 programme, {s['patients']:,} patients, all open, `sms_consent` true, not opted out, phones "
        f"+1312555 0100–0199, time zone {s['zone']} (local time {s['local']} at the start: outside quiet hours "
        "21:00–08:00), no messaging policy row (the defaults)",
        "- Outbox rows for each run, after `TRUNCATE messages`: status `queued`, `scheduled_for` 1–600 s in the "
        "past, created up to 30 min before that (so the loop guard's one-hour look-back has rows to read), "
        "`expires_at` +12 h, a unique ~75-character body each, patients round-robin",
        "",
        "**Workers and fake Twilio**",
        "",
        f"- Each worker is a process (`benchmarks/lib/dispatch_worker.py`) that builds the app with "
        f"`create_app()` and runs the `dispatch_sms` job as `backend/jobs/runner.py` does (`run_job`: app "
        f"context, `dispatch_due(batch={s['batch']}, budget_seconds={s['budget']:g})`, commit, session removed) in "
        "a loop with no pause until nothing is due; workers start together on a signal",
        "- Environment: DATABASE_URL (PostgreSQL on 127.0.0.1), a 48-character SECRET_KEY, "
        "BRIDGELINE_ENV=production, TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN of the fake, TWILIO_API_BASE_URL=the "
        "fake's http://127.0.0.1:PORT, TWILIO_FROM_NUMBER=+13125550100, SMS_RATE_PER_SECOND=0 (rate limit "
        "lifted), LOG_LEVEL=WARNING; the real twilio SDK sends through `BaseUrlHttpClient`",
        "- The fake (`fake_twilio/`, run by `benchmarks/lib/fake_twilio_server.py`) is a "
        "threaded Python HTTP server in its own process, so it does not share a worker's GIL; it sleeps the "
        "stated latency before each answer and counts create requests per body",
        f"- Code measured: `backend/messaging/dispatch.py` sha256 {s['code']}",
        "- Texts/s = texts sent / (last send − start signal); CPU from /proc over the run",
        "- CPU probe: milliseconds for a fixed pure-Python loop of 1,000,000 additions (best of 3), timed "
        f"before and after each run; it ranged from {min(probes, default=0):.0f} to {max(probes, default=0):.0f} "
        "ms during this benchmark. This VM's CPU speed drifts from minute to minute while the machine itself "
        "is idle (a shared host), and the texts/s of one configuration follow it: hence repeated, interleaved "
        "runs and medians",
        "",
        "**Throughput**",
        "",
        summary_table(report.runs),
        "",
        "Every run:",
        "",
        throughput_table(report.runs),
        "",
        f"**Goals** (≥ {GOAL_RATE:.0f} texts/s with one worker at 0 ms latency; worker memory flat across "
        "100,000 texts)",
        "",
        *goal_lines(report.runs),
    ]
    if report.memory is not None:
        out += ["", "**Worker memory**", "", *memory_lines(report.memory, report.memory_seconds)]
    if report.scans:
        out += ["", f"**Finding due texts** (`claim_due({s['batch']})` and its locking SELECT with a fixed "
                f"{report.scans[0].due} due texts and a growing number of future scheduled ones; medians of "
                f"{s['scan_rounds']} rounds; claim_due in-process in an app context, the claimed rows put back "
                "to queued between calls; \"nothing due\" after every due row was marked sent)", "",
                scan_table(report.scans), "", *plan_lines(report.scans)]
    if out[-1] != "":
        out.append("")
    out += breakdown_lines(report.breakdown, report.profile, s.get("profile_probe", 0.0))
    if report.what_ifs:
        out += ["**What if** (`benchmarks/lib/dispatch_whatif.py`: one worker in-process with a backend function "
                "wrapped for the run only, nothing in backend/ edited. \"async commit\": the transaction that "
                "records Twilio's answers starts with `SET LOCAL synchronous_commit = off` (the claim's commit stays "
                "synchronous); \"N threads\": each claimed batch is sent by N threads, each with its own app "
                "context and session, then recorded with `record_sent`)", "",
                what_if_table(report.what_ifs), ""]
    return "\n".join(out)
