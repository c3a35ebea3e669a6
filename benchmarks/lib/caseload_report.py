"""The "Caseloads (caseload issue)" section of docs/PERFORMANCE.md, written by benchmarks/caseload.py."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from benchmarks.lib.caseload_checks import TeamSizeCheck
from benchmarks.lib.load import LoadResult, LoadSettings
from benchmarks.lib.report import machine_lines, markdown_table
from benchmarks.lib.servers import ServerPool

TITLE = "## Caseloads (caseload issue)"
BLOCK = "benchmarks/caseload.py"
TEAM_LABEL = "`GET /api/v1/team/caseloads` (supervisor, whole team)"
CREATE_LABEL = "`POST /api/v1/patients` (ED referral, automatic assignment)"


@dataclass
class CaseloadRun:
    started_at: str
    command: str
    machine: dict
    sizes: dict
    data: dict  # status and acuity mixes, spec descriptions
    team: LoadResult
    create: LoadResult
    create_body: dict
    room_before: dict
    room_after: dict
    tally: dict
    checks: list[TeamSizeCheck]
    team_levels: Counter = field(default_factory=Counter)
    team_reasons: Counter = field(default_factory=Counter)


def summarise_team(rows: list[dict]) -> tuple[Counter, Counter]:
    """Levels and reason codes in a team-view response."""
    return Counter(r["level"] for r in rows), Counter(reason["code"] for r in rows for reason in r["reasons"])


def figures_table(run: CaseloadRun) -> str:
    rows = []
    for label, r in ((TEAM_LABEL, run.team), (CREATE_LABEL, run.create)):
        rows.append([label, f"{r.rps:,.1f}", f"{r.p50_ms:.1f}", f"{r.p95_ms:.1f}", f"{r.p99_ms:.1f}",
                     f"{r.max_ms:.0f}", f"{r.errors} / {r.non_2xx}", f"{r.requests:,}",
                     f"{r.cpu_ms.get('gunicorn', 0):.1f}", f"{r.cpu_ms.get('postgres', 0):.1f}", f"{r.cpu_busy:.0%}"])
    return markdown_table(["Endpoint", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors / non-2xx",
                           "requests", "CPU ms/req gunicorn", "CPU ms/req postgres", "machine busy"],
                          rows, "lrrrrrrrrrr")


def statements_table(checks: list[TeamSizeCheck]) -> str:
    rows = [[c.coaches, c.on_shift, c.team_rows, len(c.team_statements), f"{c.team_ms:.1f}",
             len(c.create_statements), f"{c.create_ms:.1f}"] for c in checks]
    return markdown_table(["Active coaches", "on shift", "team-view rows", "team view: SQL statements",
                           "team view: ms in-process", "automatic POST: SQL statements", "POST: ms in-process"],
                          rows, "rrrrrrr")


def statement_lines(checks: list[TeamSizeCheck]) -> list[str]:
    if not checks:
        return []
    team_same = len({len(c.team_statements) for c in checks}) == 1
    post_same = len({len(c.create_statements) for c in checks}) == 1
    biggest = checks[0]
    out = [
        f"- Team view: **{'the same' if team_same else 'NOT the same'}** number of statements for "
        + " and ".join(f"{c.coaches} coaches ({len(c.team_statements)})" for c in checks) + ".",
        f"- Automatic assignment: {'the same' if post_same else 'not the same'} number of statements for "
        + " and ".join(f"{c.on_shift} on-shift coaches ({len(c.create_statements)})" for c in checks) + ".",
        f"- Team view statements with {biggest.coaches} coaches, in order (the token check included), with their "
        "EXPLAIN ANALYZE execution time:",
        *(f"  {i}. {e:.1f} ms: `{s}`" for i, (s, (_p, e)) in enumerate(zip(biggest.team_statements,
                                                                         biggest.team_explains, strict=False), 1)),
        f"- Automatic assignment statements with {biggest.on_shift} coaches on shift, in order:",
        *(f"  {i}. `{s}`" for i, s in enumerate(biggest.create_statements, 1)),
    ]
    return out


def render_section(run: CaseloadRun, pool: ServerPool, load: LoadSettings) -> str:
    s, d, t = run.sizes, run.data, run.tally
    levels = ", ".join(f"{run.team_levels.get(k, 0)} {k}" for k in ("ok", "watch", "high"))
    reasons = ", ".join(f"{code} {n}" for code, n in run.team_reasons.most_common())
    return "\n".join([
        f"Measured {run.started_at} by `benchmarks/caseload.py`. Reproduce from the project root with:",
        "",
        "```sh",
        run.command,
        "```",
        "",
        "(`--skip-load` reuses the loaded database and deletes the patients earlier runs created; `--help` lists "
        "the flags.)",
        "",
        "**Machine**",
        "",
        *machine_lines(run.machine),
        "",
        "**Data** (synthetic, bulk-loaded with COPY into `bridgeline_bench_caseload`, then VACUUM ANALYZE)",
        "",
        f"- 1 programme, {s['coaches']} coaches + 1 supervisor (who supervises all of them), "
        f"{s['patients_loaded']:,} patients (~{s['patients_loaded'] // max(1, s['coaches'])} per coach), "
        f"{s['active_patients']:,} of them open (referred/engaged/active/linked); status mix {d['statuses']}; "
        f"acuity mix {d['acuities']}",
        f"- Caseload policy: default cap {d['default_cap']}, weights low 0.5 / standard 1.0 / high 1.5; "
        f"{d['on_shift']} coaches on shift with a personal cap of {d['on_shift_cap']} (room for the assignment run), "
        f"{d['part_time']} part-time coaches with a cap of 30, the others at the default",
        f"- {s['contacts']:,} contacts ({d['recent_contacts']:,} of them in the last 14 days, on working days, "
        f"1–15 % outside shifts per coach, 2 % crises), {s['shifts']:,} shifts over the last 14 days "
        f"({d['on_shift']} open), {s['supervision_sessions']:,} supervision sessions, "
        f"{s['wellness_check_ins']:,} wellness check-ins (weekly), {s['assignments_loaded']:,} assignments in the "
        f"last 14 days, {s['tasks']:,} tasks; database size {s['db_size']}; schema at migration "
        f"{run.machine['migration']}",
        f"- The team view answered {levels} (reasons: {reasons})",
        f"- Room on the on-shift coaches before the run: {run.room_before['room']:,.1f} load units "
        f"(mean load {run.room_before['mean_load']:.1f}, least room {run.room_before['min_room']:.1f})",
        "",
        "**Server and load**",
        "",
        f"- {pool.describe()}, BRIDGELINE_ENV=production, LOG_LEVEL=WARNING, REDIS_URL set (token blocklist "
        "in Redis)",
        f"- Load: {load.describe()}, {load.connections} concurrent connections (`wrk -c {load.connections}`), "
        f"{load.warmup} s warm-up then {load.duration} s measured per endpoint, loopback only, logged in as the "
        "supervisor through `POST /api/v1/auth/login`",
        f"- The POST sends `{run.create_body}` (no coach_id: automatic assignment to the least-utilised "
        "on-shift coach, under a row lock on the on-shift coaches)",
        "",
        "**Figures**",
        "",
        figures_table(run),
        "",
        "**Automatic assignment outcome** (from the database after the run; warm-up and measured run together)",
        "",
        f"- {t['created']:,} patients created: **{t['assigned']:,} assigned** to {t['coaches_used']} coaches "
        f"({t['automatic_assignments']:,} automatic assignment rows), **{t['unassigned']:,} left unassigned** "
        f"({t['review_tasks']:,} review tasks for the supervisor)",
        f"- Room left on the on-shift coaches: {run.room_after['room']:,.1f} load units "
        f"(least room {run.room_after['min_room']:.1f})",
        "",
        "**SQL statements per request** (in-process through Flask's test client with a SQLAlchemy "
        "`before_cursor_execute` listener, one request at a time; the team is shrunk by deactivating coaches "
        "with SQL, restored afterwards)",
        "",
        statements_table(run.checks),
        "",
        *statement_lines(run.checks),
        "",
    ])
