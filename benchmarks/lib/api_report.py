"""The "API (foundation issue)" section of docs/PERFORMANCE.md, written by benchmarks/api.py."""

from __future__ import annotations

import os
from dataclasses import dataclass

from benchmarks.lib.common import REDIS_URL
from benchmarks.lib.diagnostics import RequestProfile
from benchmarks.lib.load import LoadResult, LoadSettings
from benchmarks.lib.report import machine_lines, markdown_table
from benchmarks.lib.servers import ServerPool

TITLE = "## API (foundation issue)"
BLOCK = "benchmarks/api.py"
GOAL_RATIO = 0.40
GOAL_P95_MS = 50.0
ENDPOINT_LABELS = {
    "bare": "bare Flask `GET /bare`",
    "list": "`GET /api/v1/patients?page_size=25`",
    "timeline": "`GET /api/v1/patients/<id>/timeline`",
}


@dataclass
class ModeResult:
    mode: str  # "Redis" or "PostgreSQL"
    results: dict[str, LoadResult]


def goals(result: LoadResult, bare: LoadResult) -> tuple[float, bool, bool]:
    ratio = result.rps / bare.rps if bare.rps else 0.0
    return ratio, ratio >= GOAL_RATIO, result.p95_ms < GOAL_P95_MS


def figures_table(modes: list[ModeResult]) -> str:
    headers = ["Token blocklist", "Endpoint", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors / non-2xx", "vs bare",
               f"≥ {GOAL_RATIO:.0%} of bare", f"p95 < {GOAL_P95_MS:.0f} ms"]
    rows = []
    for mode in modes:
        bare = mode.results["bare"]
        for key in ("bare", "list", "timeline"):
            r = mode.results[key]
            ratio, ratio_ok, p95_ok = goals(r, bare)
            ratio_cell = "—" if key == "bare" else ("yes" if ratio_ok else "**no**")
            rows.append([mode.mode, ENDPOINT_LABELS[key], f"{r.rps:,.0f}", f"{r.p50_ms:.1f}", f"{r.p95_ms:.1f}",
                         f"{r.p99_ms:.1f}", f"{r.errors} / {r.non_2xx}", f"{ratio:.0%}", ratio_cell,
                         "yes" if p95_ok else "**no**"])
    return markdown_table(headers, rows, "llrrrrrrcc")


def cpu_table(modes: list[ModeResult]) -> str:
    groups = ["gunicorn", "postgres", "redis", "load generator"]
    rows = []
    for mode in modes:
        for key in ("bare", "list", "timeline"):
            r = mode.results[key]
            rows.append([mode.mode, ENDPOINT_LABELS[key], *(f"{max(0.0, r.cpu_ms.get(g, 0.0)):.2f}" for g in groups),
                         f"{r.cpu_busy:.0%}", f"{r.cpu_other:.0%}"])
    return markdown_table(["Token blocklist", "Endpoint", *groups, "machine busy", "of which other processes"],
                          rows, "ll" + "r" * (len(groups) + 2))


def goal_summary(modes: list[ModeResult]) -> list[str]:
    lines = []
    for mode in modes:
        bare = mode.results["bare"]
        for key in ("list", "timeline"):
            r = mode.results[key]
            ratio, ratio_ok, p95_ok = goals(r, bare)
            lines.append(
                f"- {mode.mode} blocklist, {ENDPOINT_LABELS[key]}: throughput {ratio:.0%} of bare "
                f"({'met' if ratio_ok else 'NOT met'}, goal ≥ {GOAL_RATIO:.0%}); p95 {r.p95_ms:.1f} ms "
                f"({'met' if p95_ok else 'NOT met'}, goal < {GOAL_P95_MS:.0f} ms).")
    return lines


def budget_lines(modes: list[ModeResult], connections: int) -> list[str]:
    """What the goals imply in CPU time per request on this machine (the server is CPU-bound)."""
    cores = os.cpu_count() or 1
    needed_rps = connections / (GOAL_P95_MS / 1000)
    lines = [f"- p95 < {GOAL_P95_MS:.0f} ms with {connections} closed-loop clients needs, by Little's law "
             f"(mean latency = clients / throughput), more than {needed_rps:,.0f} req/s: at most "
             f"{cores * 1000 / needed_rps:.1f} ms of CPU per request across all processes on {cores} cores."]
    for mode in modes:
        bare = mode.results["bare"]
        target = GOAL_RATIO * bare.rps
        spent = {key: sum(mode.results[key].cpu_ms.values()) for key in ("list", "timeline")}
        lines.append(
            f"- {mode.mode}: {GOAL_RATIO:.0%} of the bare endpoint is {target:,.0f} req/s, i.e. at most "
            f"{cores * 1000 / target:.1f} ms of CPU per request; measured {spent['list']:.1f} ms (list) and "
            f"{spent['timeline']:.1f} ms (timeline), the bare endpoint {sum(bare.cpu_ms.values()):.2f} ms.")
    return lines


def profile_lines(profiles: list[RequestProfile]) -> list[str]:
    if not profiles:
        return []
    out = ["**Where the time goes** (in-process through Flask's test client, one request at a time, Redis "
           "blocklist; shares of the request from cProfile cumulative time, parts can nest)", ""]
    for profile in profiles:
        out.append(f"- {profile.label}: {len(profile.statements)} SQL statements per request; "
                   f"{profile.mean_ms:.1f} ms wall per request in-process, of which {profile.sql_ms:.1f} ms "
                   "inside SQL execute calls")
        for label, share in profile.breakdown:
            out.append(f"  - {label}: {share:.0%} (~{share * profile.mean_ms:.1f} ms)")
        for statement, plan_ms, exec_ms in sorted(profile.explains, key=lambda e: -e[2])[:3]:
            out.append(f"  - EXPLAIN ANALYZE {exec_ms:.2f} ms exec + {plan_ms:.2f} ms plan: `{statement}`")
    return [*out, ""]


def render_section(pool: ServerPool, load: LoadSettings, machine: dict, sizes: dict, subjects: tuple,
                   modes: list[ModeResult], profiles: list[RequestProfile], started_at: str) -> str:
    """The body of the generated block (between its markers)."""
    coach_id, _email, n_coach_patients, patient_id, n_patient_contacts = subjects
    return "\n".join([
        f"Measured {started_at} by `benchmarks/api.py`. Reproduce from the project root with:",
        "",
        "```sh",
        "/work/main/.venv/bin/python benchmarks/api.py",
        "```",
        "",
        "(`--skip-load` reuses the loaded database; `--help` lists the size and duration flags.)",
        "",
        "**Machine**",
        "",
        *machine_lines(machine),
        "",
        "**Data** (synthetic, bulk-loaded with COPY, then VACUUM ANALYZE)",
        "",
        f"- 1 programme, {sizes['coaches']} coaches + 1 supervisor, {sizes['patients']:,} patients "
        f"(~{sizes['patients'] // max(1, sizes['coaches'])} per coach), {sizes['contacts']:,} contacts, "
        f"{sizes['patient_events']:,} patient events, {sizes['tasks']:,} tasks; database size {sizes['db_size']} "
        f"({sizes['audit_events']:,} audit events written by the runs); schema at migration {machine['migration']}",
        f"- Requests as coach id {coach_id} ({n_coach_patients} patients); timeline of patient id {patient_id} "
        f"({n_patient_contacts} contacts)",
        "",
        "**Server and load**",
        "",
        f"- {pool.describe()}, BRIDGELINE_ENV=production, LOG_LEVEL=WARNING; "
        "the bare app `benchmarks.bare_app:app` runs with the same gunicorn flags",
        f"- \"Redis\" rows: REDIS_URL={REDIS_URL} (token blocklist and rate limits in Redis, the production "
        "shape); \"PostgreSQL\" rows: no REDIS_URL (blocklist checked in `auth_sessions`)",
        f"- Load: {load.describe()}, {load.connections} concurrent connections, {load.warmup} s warm-up then "
        f"{load.duration} s measured per endpoint, loopback only",
        "",
        "**Figures**",
        "",
        figures_table(modes),
        "",
        f"**Goals** (≥ 40 % of the bare endpoint's throughput, p95 < 50 ms at {load.connections} concurrent clients)",
        "",
        *goal_summary(modes),
        "",
        "**What the goals imply** (every process is CPU-bound and shares the same cores)",
        "",
        *budget_lines(modes, load.connections),
        "",
        "**CPU per request** (ms of CPU time per request during the measured run, from /proc; "
        "the load generator is wrk itself; \"other processes\" is CPU used by anything outside the "
        "benchmark, and should be near 0 % on a quiet machine)",
        "",
        cpu_table(modes),
        "",
        *profile_lines(profiles),
    ])
