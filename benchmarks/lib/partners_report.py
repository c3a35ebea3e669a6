"""The "Partners (handoffs issue)" block of docs/PERFORMANCE.md."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.lib.load import LoadResult, LoadSettings
from benchmarks.lib.partners_checks import EXPORT_PATH, SEARCH_PATH, ExportCheck, SearchCheck
from benchmarks.lib.report import machine_lines, markdown_table
from benchmarks.lib.servers import ServerPool

TITLE = "## Partners (handoffs issue)"
BLOCK = "benchmarks/partners.py"
GOAL_P95_MS = 30.0

SUGGESTIONS = [
    "`backend/partners/service.py` `_capacity_join`: the latest report per service is a `GROUP BY service_id` "
    "over the whole `capacity_reports` table, built before any filter applies, and it runs twice per request "
    "(COUNT and page). Use a `LATERAL (SELECT ... WHERE service_id = services.id ORDER BY reported_at DESC "
    "LIMIT 1)` join (the index `ix_capacity_reports_service_id_reported_at` answers it with one probe per "
    "candidate service), or keep a `latest_capacity_report_id` / `capacity_available` + `capacity_reported_at` "
    "on `services`, updated by `report_capacity`.",
    "`backend/partners/service.py` `search_services`: with `has_capacity=true`, restrict the latest-report "
    "lookup to reports from the last 24 h first (`reported_at >= now - 24 h` on the subquery, served by a "
    "`(reported_at) INCLUDE (service_id, available)` index or the existing composite one), so PostgreSQL "
    "never aggregates 30 days of history.",
    "`backend/common/pagination.py` `paginate`: the COUNT repeats the whole join; for filtered searches a "
    "window `count(*) OVER ()` on the page query (or counting only when the page is full) saves the second "
    "pass.",
]


@dataclass
class PartnersRun:
    started_at: str
    command: str
    machine: dict
    sizes: dict
    mix: dict
    search: LoadResult
    check: SearchCheck
    export: ExportCheck
    dispatch_note: str


def goal_met(run: PartnersRun) -> bool:
    return run.search.p95_ms < GOAL_P95_MS and run.search.errors == 0 and run.search.non_2xx == 0


def figures_table(run: PartnersRun) -> str:
    s, e = run.search, run.export
    rows = [
        ("filtered search (wrk)", f"{s.rps:,.0f} req/s", f"p50 {s.p50_ms:.1f} ms, p95 **{s.p95_ms:.1f} ms**, "
         f"p99 {s.p99_ms:.1f} ms, max {s.max_ms:.1f} ms; {s.requests:,} requests, errors {s.errors}, "
         f"non-2xx {s.non_2xx}"),
        ("filtered search (in-process)", f"{len(run.check.statements)} SQL statements",
         f"{run.check.mean_ms:.1f} ms/request one at a time; {run.check.rows} rows on page 1 of "
         f"{run.check.total} matches"),
        ("HSDS export (in-process)", f"{e.wall_s:.2f} s",
         f"status {e.status}, {e.bytes / 1024 / 1024:.1f} MiB JSON, {e.organizations:,} organisations + "
         f"{e.services:,} services; {e.statements} SQL statements ({e.sql_s:.2f} s in SQL); tracemalloc peak "
         f"{e.tracemalloc_peak_mb:.0f} MiB ({e.traced_wall_s:.2f} s traced); RSS {e.rss_before_mb:.0f} -> "
         f"{e.rss_after_mb:.0f} MiB, peak RSS {e.hwm_mb:.0f} MiB"),
    ]
    return markdown_table(["measurement", "figure", "details"], rows)


def render_section(run: PartnersRun, pool: ServerPool, load: LoadSettings) -> str:
    s, c, e = run.search, run.check, run.export
    met = goal_met(run)
    sizes = run.sizes
    lines = [
        f"Run {run.started_at}: `{run.command}`",
        "",
        "**Machine**",
        "",
        *machine_lines(run.machine),
        "",
        "**Data** (synthetic, fresh database `bridgeline_bench_partners`, `flask --app backend db upgrade`, "
        "COPY, then VACUUM ANALYZE)",
        "",
        f"- {sizes['organizations']:,} organisations (one location, one or two point people each: "
        f"{sizes['locations']:,} locations, {sizes['partner_contacts']:,} contacts), {sizes['services']:,} "
        f"services (UUID ids), {sizes['service_attributes']:,} service attributes, "
        f"{sizes['capacity_reports']:,} capacity reports (10 per service over 30 days); database "
        f"{sizes['db_size']}",
        f"- mix: detox {run.mix['detox']} of services, medicaid {run.mix['medicaid']}, Spanish "
        f"{run.mix['es']}, {run.mix['moud_any']:,} services with a MOUD, walk-in {run.mix['walk_in']}; latest "
        f"report fresh (< 24 h) with available > 0: {run.mix['fresh_free']}",
        "- one programme, one supervisor, one coach (`coach1@bench.test`, logged in with "
        "`POST /api/v1/auth/login`)",
        "",
        "**Settings**",
        "",
        f"- {pool.describe()}, production settings, Redis",
        f"- `GET {SEARCH_PATH}` (default page size) with {load.describe()}, {load.connections} connections, "
        f"{load.warmup} s warm-up + {load.duration} s measured",
        f"- `GET {EXPORT_PATH}` once in-process (Flask test client, logged in as the coach), then once more "
        "under tracemalloc",
        f"- {run.dispatch_note}",
        "",
        "**Figures**",
        "",
        figures_table(run),
        "",
        "CPU ms per search request: " + ", ".join(f"{k} {v:.2f}" for k, v in s.cpu_ms.items())
        + f"; machine busy {s.cpu_busy:.0%}, other processes {s.cpu_other:.0%}.",
        "",
        f"**Goal: p95 under {GOAL_P95_MS:.0f} ms at 16 clients: {'met' if met else 'NOT met'}** "
        f"(p95 {s.p95_ms:.1f} ms).",
        "",
        "SQL statements of one search request (in-process, ms per round trip):",
        "",
        *[f"{i}. {ms:.2f} ms `{stmt}`" for i, (stmt, ms) in enumerate(c.statements, 1)],
        "",
        f"EXPLAIN (ANALYZE, BUFFERS) of the page query ({c.page_exec_ms:.1f} ms execution; the COUNT query: "
        f"{c.count_exec_ms:.1f} ms):",
        "",
        "```",
        c.explain_page.strip(),
        "```",
        "",
        "**Findings**",
        "",
    ]
    slow_sql = c.page_exec_ms + c.count_exec_ms
    if met:
        lines.append(f"- The filtered search meets the goal; its two catalogue queries take {slow_sql:.1f} ms of "
                     "database time per request.")
    else:
        lines.append(f"- The filtered search misses the goal: the page and COUNT queries alone take "
                     f"{slow_sql:.1f} ms of PostgreSQL time per request (of {c.mean_ms:.1f} ms in-process), "
                     "and with 4 workers on 2 cores the queue multiplies it. Suggestions:")
        lines += [f"  - {text}" for text in SUGGESTIONS]
    lines.append(f"- HSDS export of the whole catalogue: {e.wall_s:.2f} s, {e.bytes / 1024 / 1024:.1f} MiB, "
                 f"tracemalloc peak {e.tracemalloc_peak_mb:.0f} MiB, in {e.statements} SQL statements. "
                 + ("That is slow for a synchronous request: " if e.wall_s > 10 else "")
                 + "The whole document is built in memory (`backend/partners/hsds_export.py` "
                 "`export_catalogue`) - streaming it per organisation (a generator with `yield_per`) or an "
                 "asynchronous export to a file would bound memory as the catalogue grows.")
    return "\n".join(lines)
