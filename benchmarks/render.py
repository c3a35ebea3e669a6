"""Render benchmarks/results/<scenario>.json into the generated blocks of docs/PERFORMANCE.md.

    python -m benchmarks.render [--results DIR] [--docs PATH]

Only the text between a scenario's `<!-- benchmarks/<scenario>.py: begin ... -->`
and `<!-- benchmarks/<scenario>.py: end -->` markers is replaced; the hand-written
findings around the blocks are kept. Scenarios without a result, and --quick
results, are left alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections import Counter
from pathlib import Path

from benchmarks.harness import REDIS_URL, RESULTS, ROOT
from benchmarks.panel import panel_section
from benchmarks.voice import voice_section

DOCS = ROOT / "docs" / "PERFORMANCE.md"


def table(headers: list[str], rows: list[list], align: str = "") -> str:
    """A markdown table; `align` has a letter per column: l (default), r or c."""
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(marks[a] for a in align.ljust(len(headers), "l")) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])


def short(statement: str, width: int = 110) -> str:
    """A statement on one line, cut to `width`."""
    text = " ".join(statement.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def preamble(r: dict, sharing: str = "the load generator, gunicorn, PostgreSQL and Redis") -> list[str]:
    """How it was run and on what machine."""
    m, pg = r["machine"], r["machine"].get("pg_settings", {})
    database = (f"PostgreSQL {m['postgresql']} on 127.0.0.1 (shared_buffers={pg.get('shared_buffers')} x 8 kB, "
                f"synchronous_commit={pg.get('synchronous_commit')}, fsync={pg.get('fsync')}); Redis on 127.0.0.1"
                if "postgresql" in m else "SQLite")
    return [f"Measured {r['started_at']} by `python -m benchmarks {r['scenario']}`. Reproduce from the project root "
            "with:", "", "```sh", r["command"], "```", "", "**Machine**", "",
            f"- nproc: {m['nproc']}; CPU: {m['cpu']}; RAM: {m['ram']}; kernel {m['kernel']}", f"- {database}",
            f"- Python {m['python']}; {sharing} share the same {m['nproc']} cores", ""]


def server_line(r: dict) -> str:
    """How gunicorn served the app."""
    load = r["load"]
    return (f"`gunicorn -w {load['workers']} -b 127.0.0.1:PORT 'backend:create_app()'` (sync workers), "
            "BRIDGELINE_ENV=production, LOG_LEVEL=WARNING")


def load_line(r: dict) -> str:
    """How wrk loaded it."""
    load = r["load"]
    return (f"wrk ({load['wrk_threads']} threads), {load['connections']} concurrent connections, "
            f"{load['warmup']} s warm-up then {load['duration']} s measured per endpoint, loopback only")


def checks(r: dict) -> list[str]:
    """The correctness properties the run checked."""
    return ["", "**Properties checked** (`python -m benchmarks --quick` checks the same on tiny data)", "",
            *(f"- {'held' if c['ok'] else '**FAILED**'}: {c['property']} ({c['detail']})" for c in r["checks"])]


def load_row(label: str, x: dict) -> list:
    """Throughput, latency, errors and requests of a wrk run, as table cells."""
    return [label, f"{x['rps']:,.1f}", f"{x['p50_ms']:.1f}", f"{x['p95_ms']:.1f}", f"{x['p99_ms']:.1f}",
            f"{x['max_ms']:.0f}", f"{x['errors']} / {x['non_2xx']}", f"{x['requests']:,}"]


API_LABELS = {"bare": "bare Flask `GET /bare`", "list": "`GET /api/v1/patients?page_size=25`",
              "timeline": "`GET /api/v1/patients/<id>/timeline`"}


def api_section(r: dict) -> list[str]:
    """The "API (foundation issue)" block."""
    rows, cpu, goals, budget = [], [], [], []
    cores, clients = r["machine"]["nproc"], r["load"]["connections"]
    for mode in r["modes"]:
        res, bare = mode["results"], mode["results"]["bare"]
        for key, x in res.items():
            ratio = x["rps"] / bare["rps"]
            rows.append([mode["mode"], API_LABELS[key], f"{x['rps']:,.0f}", f"{x['p50_ms']:.1f}", f"{x['p95_ms']:.1f}",
                         f"{x['p99_ms']:.1f}", f"{x['errors']} / {x['non_2xx']}", f"{ratio:.0%}",
                         "—" if key == "bare" else "yes" if ratio >= 0.4 else "**no**",
                         "yes" if x["p95_ms"] < 50 else "**no**"])
            cpu.append([mode["mode"], API_LABELS[key], *(f"{max(0.0, x['cpu_ms'].get(g, 0.0)):.2f}" for g in
                        ("gunicorn", "postgres", "redis", "load generator")), f"{x['busy']:.0%}", f"{x['other']:.0%}"])
            if key != "bare":
                goals.append(f"- {mode['mode']} blocklist, {API_LABELS[key]}: throughput {ratio:.0%} of bare "
                             f"({'met' if ratio >= 0.4 else 'NOT met'}, goal ≥ 40%); p95 {x['p95_ms']:.1f} ms "
                             f"({'met' if x['p95_ms'] < 50 else 'NOT met'}, goal < 50 ms).")
        spent = {k: sum(res[k]["cpu_ms"].values()) for k in res}
        budget.append(f"- {mode['mode']}: 40% of the bare endpoint is {0.4 * bare['rps']:,.0f} req/s, i.e. at most "
                      f"{cores * 1000 / (0.4 * bare['rps']):.1f} ms of CPU per request; measured "
                      f"{spent['list']:.1f} ms (list) and {spent['timeline']:.1f} ms (timeline), the bare endpoint "
                      f"{spent['bare']:.2f} ms.")
    n, s = r["rows"], r["subjects"]
    coaches = n["users"] - 1
    return [
        *preamble(r), "**Data** (synthetic, inserted through the models' tables, then VACUUM ANALYZE)", "",
        f"- 1 programme, {coaches} coaches + 1 supervisor, {n['patients']:,} patients (~{n['patients'] // coaches} "
        f"per coach), {n['contacts']:,} contacts, {n['patient_events']:,} patient events, {n['tasks']:,} tasks; "
        f"database size {r['machine'].get('db_size')} ({n['audit_events']:,} audit events written by the runs); "
        f"schema at migration {r['machine']['migration']}",
        f"- Requests as coach id {s['coach_id']} ({s['coach_patients']} patients); timeline of patient id "
        f"{s['median'][0]} ({s['median'][1]} contacts)", "", "**Server and load**", "",
        f"- {server_line(r)}; the bare app `benchmarks.bare_app:app` runs with the same gunicorn flags",
        f"- \"Redis\" rows: REDIS_URL={REDIS_URL} (token blocklist and rate limits in Redis, the production shape); "
        "\"PostgreSQL\" rows: no REDIS_URL (blocklist checked in `auth_sessions`)", f"- Load: {load_line(r)}", "",
        "**Figures**", "",
        table(["Token blocklist", "Endpoint", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors / non-2xx", "vs bare",
               "≥ 40% of bare", "p95 < 50 ms"], rows, "llrrrrrrcc"), "",
        f"**Goals** (≥ 40 % of the bare endpoint's throughput, p95 < 50 ms at {clients} concurrent clients)", "",
        *goals, "", "**What the goals imply** (every process is CPU-bound and shares the same cores)", "",
        f"- p95 < 50 ms with {clients} closed-loop clients needs, by Little's law (mean latency = clients / "
        f"throughput), more than {clients / 0.05:,.0f} req/s: at most {cores * 50 / clients:.1f} ms of CPU per "
        f"request across all processes on {cores} cores.", *budget, "",
        "**CPU per request** (ms of CPU time per request during the measured run, from /proc; the load generator is "
        "wrk itself; \"other processes\" is CPU used by anything outside the benchmark, and should be near 0 % on a "
        "quiet machine)", "",
        table(["Token blocklist", "Endpoint", "gunicorn", "postgres", "redis", "load generator", "machine busy",
               "of which other processes"], cpu, "llrrrrrr"), "",
        "**SQL statements per request** (in-process through Flask's test client, one request at a time)", "",
        *(f"- {label}: {len(stmts)} statements: " + "; ".join(f"`{short(x, 60)}`" for x in stmts)
          for label, stmts in (("patients list", r["statements"]["list"]),
                               ("timeline", r["statements"]["timeline"]))), *checks(r)]


def caseload_section(r: dict) -> list[str]:
    """The "Caseloads (caseload issue)" block."""
    n, s, t, big = r["rows"], r["sizes"], r["tally"], r["team_size_checks"][0]
    before, after = r["room_before"], r["room_after"]
    mix = {k: ", ".join(f"{name} {100 * c / sum(v.values()):.0f} %" for name, c in v.items())
           for k, v in r["mix"].items()}
    team, create = r["team"], r["create"]
    figures = [load_row(label, x) + [f"{x['cpu_ms']['gunicorn']:.1f}", f"{x['cpu_ms']['postgres']:.1f}",
                                     f"{x['busy']:.0%}"]
               for label, x in (("`GET /api/v1/team/caseloads` (supervisor, whole team)", team),
                                ("`POST /api/v1/patients` (ED referral, automatic assignment)", create))]
    sizes = [[c["coaches"], c["on_shift"], c["rows"], len(c["team_statements"]), f"{c['team_ms']:.1f}",
              len(c["create_statements"]), f"{c['create_ms']:.1f}"] for c in r["team_size_checks"]]
    return [
        *preamble(r), f"**Data** (synthetic, inserted through the models' tables into `{r['database']}`, then "
        "VACUUM ANALYZE)", "",
        f"- 1 programme, {s['coaches']} coaches + 1 supervisor (who supervises all of them), {s['patients']:,} "
        f"patients (~{s['patients'] // s['coaches']} per coach), {r['open_patients']:,} of them open; status mix "
        f"{mix['statuses']}; acuity mix {mix['acuities']}",
        f"- Caseload policy: default cap 40, weights low 0.5 / standard 1.0 / high 1.5; {s['on_shift']} coaches on "
        f"shift with a personal cap of {s['on_shift_cap']} (room for the assignment run), about a tenth of the others "
        "part-time with a cap of 30",
        f"- {s['contacts'] + s['recent_contacts']:,} contacts ({s['recent_contacts']:,} of them in the last 14 days, "
        f"on working days, 1–15 % outside shifts per coach, 2 % crises), {n['shifts']:,} shifts, "
        f"{n['supervision_sessions']:,} supervision sessions, {n['wellness_check_ins']:,} wellness check-ins, "
        f"{s['tasks']:,} tasks; database size {r['machine'].get('db_size')}; schema at migration "
        f"{r['machine']['migration']}",
        "- The team view answered " + ", ".join(f"{big['levels'].get(k, 0)} {k}" for k in ("ok", "watch", "high"))
        + " (reasons: " + ", ".join(f"{k} {v}" for k, v in sorted(big["reasons"].items(), key=lambda kv: -kv[1]))
        + ")",
        f"- Room on the on-shift coaches before the run: {before['room']:,.1f} load units (mean load "
        f"{before['mean_load']:.1f}, least room {before['min_room']:.1f})", "", "**Server and load**", "",
        f"- {server_line(r)}, REDIS_URL set (token blocklist in Redis)",
        f"- Load: {load_line(r)}, logged in as the supervisor",
        "- The POST sends an ED referral without coach_id: automatic assignment to the least-utilised on-shift "
        "coach, under a row lock on the on-shift coaches", "", "**Figures**", "",
        table(["Endpoint", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors / non-2xx", "requests",
               "CPU ms/req gunicorn", "CPU ms/req postgres", "machine busy"], figures, "lrrrrrrrrrr"), "",
        "**Automatic assignment outcome** (from the database after the run; warm-up and measured run together)", "",
        f"- {t['created']:,} patients created: **{t['assigned']:,} assigned** to {t['coaches_used']} coaches "
        f"({t['automatic_assignments']:,} automatic assignment rows), **{t['unassigned']:,} left unassigned** "
        f"({t['review_tasks']:,} review tasks for the supervisor)",
        f"- Room left on the on-shift coaches: {after['room']:,.1f} load units (least room {after['min_room']:.1f})",
        "", "**SQL statements per request** (in-process through Flask's test client, one request at a time; the team "
        "is shrunk by deactivating coaches, restored afterwards)", "",
        table(["Active coaches", "on shift", "team-view rows", "team view: SQL statements", "team view: ms in-process",
               "automatic POST: SQL statements", "POST: ms in-process"], sizes, "rrrrrrr"), "",
        f"- Team view statements with {big['coaches']} coaches, in order, with their EXPLAIN ANALYZE execution time:",
        *(f"  {i}. {ms:.1f} ms: `{short(x)}`" for i, (x, ms) in enumerate(zip(big["team_statements"],
                                                                             big["team_explain_ms"], strict=True), 1)),
        f"- Automatic assignment statements with {big['on_shift']} coaches on shift, in order:",
        *(f"  {i}. `{short(x)}`" for i, x in enumerate(big["create_statements"], 1)), *checks(r)]


def dispatch_section(r: dict) -> list[str]:
    """The "SMS dispatch (messaging issue)" block."""
    runs, s = r["runs"], r["sizes"]
    configs = list(dict.fromkeys((x["latency_ms"], x["workers"]) for x in runs))

    def of(latency: float, workers: int) -> list[dict]:
        return [x for x in runs if x["latency_ms"] == latency and x["workers"] == workers]

    def once(x: dict) -> str:
        v = x["verification"]
        return f"yes: {v['exactly_once']:,} once, 0 left" if v["ok"] else \
            f"**NO**: {v['exactly_once']:,} once, {v['duplicated']} dup, {v['missing']} missing"

    def median(group: list[dict], key: str) -> str:
        return f"{statistics.median(x['cpu_ms'][key] for x in group):.2f}"

    summary, every = [], []
    for latency, workers in configs:
        group, single = of(latency, workers), of(latency, 1)
        rates = [x["rate"] for x in group]
        vs = statistics.median(rates) / statistics.median(x["rate"] for x in single) if workers > 1 and single else 0
        summary.append([workers, f"{latency:.0f}", len(group), f"**{statistics.median(rates):,.0f}**",
                        f"{min(rates):,.0f}–{max(rates):,.0f}", f"{vs:.2f}×" if vs else "—", median(group, "workers"),
                        median(group, "fake twilio"), median(group, "postgres")])
        every += [[workers, f"{latency:.0f}", x["repetition"], f"{x['loaded']:,}", f"{x['seconds']:.1f}",
                   f"**{x['rate']:,.0f}**", " / ".join(f"{w['sent']:,}" for w in x["per_worker"]),
                   *(f"{x['cpu_ms'][k]:.2f}" for k in ("workers", "fake twilio", "postgres")),
                   f"{x['busy']:.0%}", f"{x['fake_share']:.0%}", f"{x['other']:.0%}",
                   f"{x['probe_ms'][0]:.0f} / {x['probe_ms'][1]:.0f}", once(x)] for x in group]
    base = [x["rate"] for x in of(0, 1)]
    probes = [p for x in [*runs, r["memory"]] if x for p in x["probe_ms"]]
    out = [
        *preamble(r, "the workers, the fake Twilio server (Python, separate process), PostgreSQL and the runner"),
        f"**Data** (synthetic, inserted through the models' tables into `{r['database']}`, schema at migration "
        f"{r['machine']['migration']})", "",
        f"- 1 programme with its own number in `program_numbers`, {s['patients']:,} patients, all open, `sms_consent` "
        f"true, not opted out, time zone {r['zone']} (local time {r['local']} at the start: outside quiet hours "
        "21:00–08:00), no messaging policy row (the defaults)",
        "- Outbox rows for each run, the table emptied first: status `queued`, `scheduled_for` 1–600 s in the past, "
        "created up to 30 min before that, `expires_at` +12 h, a unique ~75-character body each, patients round-robin",
        "", "**Workers and fake Twilio**", "",
        "- Each worker is a process (`python -m benchmarks.dispatch_processes worker`: production settings, TWILIO_* "
        f"of the fake, SMS_RATE_PER_SECOND=0) running the `dispatch_sms` job through `run_job` (batch={s['batch']}, "
        f"budget_seconds={s['budget']}) until nothing is due; workers start together on a signal; the real twilio "
        "SDK sends through `BaseUrlHttpClient`",
        "- The fake Twilio server (`fake_twilio`) runs in its own process, so it does not share a worker's GIL; it "
        "sleeps the stated latency before each answer and counts create requests per body",
        f"- Code measured: `backend/messaging/dispatch.py` sha256 {r['code']}. Texts/s = texts sent / (last send − "
        "start signal); CPU from /proc over the run. CPU probe: ms for a fixed pure-Python loop (best of 3) before "
        f"and after each run, {min(probes, default=0):.0f} to {max(probes, default=0):.0f} ms here (this VM's speed "
        "drifts: hence repeated, interleaved runs and medians)", "",
        "**Throughput**", "",
        table(["Workers", "Fake latency ms", "Runs", "Texts/s, median", "range", "vs one worker", "CPU ms/text workers",
               "fake Twilio", "PostgreSQL"], summary, "rrrrrrrrr"), "", "Every run:", "",
        table(["Workers", "Fake latency ms", "Run", "Texts", "Seconds", "Texts/s", "Sent per worker",
               "CPU ms/text workers", "fake Twilio", "PostgreSQL", "Machine busy", "Fake's share of busy CPU",
               "Other processes", "CPU probe ms before / after", "Every text sent exactly once"], every,
              "rrrrrrrrrrrrrrl"), "",
        "**Goals** (≥ 300 texts/s with one worker at 0 ms latency; worker memory flat across 100,000 texts)", ""]
    if base:
        rate = statistics.median(base)
        out.append(f"- One worker at 0 ms latency: **{rate:,.0f} texts/s** (median of {len(base)} runs, "
                   f"{min(base):,.0f}–{max(base):,.0f}), goal ≥ 300: **{'met' if rate >= 300 else 'NOT met'}**.")
    out += memory_lines(r["memory"]) + scan_lines(r["scans"], s) + checks(r)
    return out


def slope(samples: list[dict], skip: float = 0.1) -> float:
    """Least-squares slope of RSS (MiB) against texts sent, per 10,000 texts, after the first `skip` of the run."""
    top = max(x["sent"] for x in samples)
    points = [(x["sent"], x["rss_kb"] / 1024) for x in samples if x["sent"] >= skip * top and x["rss_kb"]]
    if len(points) < 3:
        return 0.0
    mx, my = statistics.fmean(p[0] for p in points), statistics.fmean(p[1] for p in points)
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var * 10_000 if var else 0.0


def memory_lines(m: dict | None) -> list[str]:
    """The worker memory run: RSS at the start, after a tenth, at the end, its slope, samples."""
    if not m or not m["samples"]:
        return []
    samples, worker = m["samples"], m["per_worker"][0]
    tenth = next(x for x in samples if x["sent"] >= 0.1 * m["loaded"])
    marks = [samples[0], *(min(samples, key=lambda x: abs(x["sent"] - k)) for k in range(10_000, m["loaded"] + 1,
                                                                                        10_000)), samples[-1]]
    rows = [[f"{x['seconds']:.0f}", f"{x['sent']:,}", f"{x['rss_kb'] / 1024:.1f}"] for x in
            {id(x): x for x in marks}.values()]
    flat = slope(samples)
    return ["", "**Worker memory**", "",
            f"- {m['sent']:,} texts in {m['seconds']:.0f} s ({m['rate']:,.0f} texts/s), one worker, 0 ms latency; "
            f"VmRSS sampled from /proc ({len(samples)} samples); CPU probe {m['probe_ms'][0]:.0f} / "
            f"{m['probe_ms'][1]:.0f} ms before / after; every text sent exactly once: {m['verification']['ok']}",
            f"- RSS at the start signal {samples[0]['rss_kb'] / 1024:.1f} MiB, after {tenth['sent']:,} texts "
            f"{tenth['rss_kb'] / 1024:.1f} MiB, peak VmHWM {worker['rss_peak_kb'] / 1024:.1f} MiB, end "
            f"{samples[-1]['rss_kb'] / 1024:.1f} MiB",
            f"- Slope (least squares, RSS against texts sent): {slope(samples, 0):+.2f} MiB per 10,000 texts over the "
            f"whole run, **{flat:+.2f} MiB per 10,000 texts after the first tenth** (goal: flat, taken as < 0.5 MiB "
            f"per 10,000): **{'met' if flat < 0.5 else 'NOT met'}**", "",
            table(["Seconds", "Texts sent", "Worker RSS MiB"], rows, "rrr")]


def scan_lines(scans: list[dict], s: dict) -> list[str]:
    """The due query with a growing backlog of future texts, and its plan."""
    if not scans:
        return []
    rows = [[f"{x['future']:,}", s["scan_due"], x["table_size"], x["index_size"], f"{x['due']['exec_ms']:.3f}",
             "yes" if x["due"]["uses_index"] else "**no**", f"{statistics.median(x['due']['claim_ms']):.1f} / "
             f"{sorted(x['due']['claim_ms'])[int(0.9 * len(x['due']['claim_ms']))]:.1f}", x["due"]["statements"],
             f"{x['idle']['exec_ms']:.3f}", f"{statistics.median(x['idle']['claim_ms']):.1f}"] for x in scans]
    big = max(scans, key=lambda x: x["future"])
    return ["", f"**Finding due texts** (`claim_due({s['batch']})` in-process with {s['scan_due']} due texts and a "
            f"growing number of future scheduled ones; medians of {s['scan_rounds']} claims, each rolled back; "
            "\"nothing due\" after every due text was marked sent)", "",
            table(["Future scheduled rows", "Due rows", "messages table", "ix_messages_due size",
                   "EXPLAIN ANALYZE exec ms (locking SELECT)", "Plan uses ix_messages_due",
                   "claim_due ms median / p90", "SQL statements per claim", "Nothing due: exec ms",
                   "Nothing due: claim_due ms"], rows, "rrrrrcrrrr"), "",
            f"Plan of the locking SELECT with {big['future']:,} future rows (EXPLAIN (ANALYZE, BUFFERS), rolled back):",
            "", "```", big["due"]["plan"], "```", "", "The statement:", "", "```sql",
            " ".join(big["statement"].split()), "```"]


def partners_section(r: dict) -> list[str]:
    """The "Partners (handoffs issue)" block."""
    n, q, e, load = r["rows"], r["search"], r["export"], r["wrk"]
    cached, computed, floor = load["cached"], load["computed"], load["floor"]
    clients, cores = r["load"]["connections"], r["machine"]["nproc"]
    cpu = {k: sum(x["cpu_ms"].values()) for k, x in load.items()}

    def figure(label: str, x: dict) -> list[str]:
        return [label, f"{x['rps']:,.0f} req/s", f"p50 {x['p50_ms']:.1f} ms, p95 **{x['p95_ms']:.1f} ms**, p99 "
                f"{x['p99_ms']:.1f} ms, max {x['max_ms']:.1f} ms; {x['requests']:,} requests, errors {x['errors']}, "
                f"non-2xx {x['non_2xx']}"]

    figures = [figure("filtered search, as shipped (cached until the catalogue changes)", cached),
               figure("filtered search, computed every time (`CATALOGUE_CACHE_SECONDS=0`)", computed),
               figure("for scale: `GET /api/v1/me` (token, revocation check, user row; same server)", floor),
               ["filtered search in-process, computed", f"{len(q['computed_sql'])} SQL statements",
                f"{q['computed_ms']:.1f} ms/request one at a time; {q['rows']} rows on page 1 of {q['total']} matches"],
               ["filtered search in-process, from the cache", f"{len(q['hit_sql'])} SQL statements",
                f"{q['cached_ms']:.1f} ms/request one at a time"],
               ["HSDS export (in-process, streamed)", f"{e['wall_s']:.2f} s", f"status {e['status']}, "
                f"{e['bytes'] / 1024 / 1024:.1f} MiB JSON, {e['organizations']:,} organisations + {e['services']:,} "
                f"services; {e['statements']} SQL statements ({e['sql_s']:.2f} s in SQL); tracemalloc peak "
                f"{e['tracemalloc_peak_mb']:.0f} MiB ({e['traced_wall_s']:.2f} s traced); RSS {e['rss_before_mb']:.0f} "
                f"-> {e['rss_after_mb']:.0f} MiB, peak RSS {e['hwm_mb']:.0f} MiB"]]
    met = cached["p95_ms"] < 30 and cached["errors"] + cached["non_2xx"] == 0
    return [
        *preamble(r), f"**Data** (synthetic, inserted through the models' tables into `{r['database']}`, then VACUUM "
        "ANALYZE)", "",
        f"- {n['organizations']:,} organisations ({n['locations']:,} locations, {n['partner_contacts']:,} point "
        f"people), {n['services']:,} services (UUID ids), {n['service_attributes']:,} service attributes, "
        f"{n['capacity_reports']:,} capacity reports ({n['capacity_reports'] // max(1, n['services'])} per service "
        f"over 30 days); database {r['machine'].get('db_size')}",
        "- mix: " + ", ".join(f"{k} {100 * v:.0f} %" for k, v in r["mix"].items()) + " of services",
        "- one programme, one supervisor, one coach (`coach1@bench.test`, logged in with `POST /api/v1/auth/login`)",
        "", "**Settings**", "",
        f"- {server_line(r)}, Redis (also the cache), started twice: as shipped (`CATALOGUE_CACHE_SECONDS=30`) and "
        "with `CATALOGUE_CACHE_SECONDS=0`",
        f"- `GET {SEARCH} ` (default page size 25); {load_line(r)}; {len(cached['p95_runs'])} runs per measurement: "
        "the median run by p95 is shown".replace(" ` (", "` ("),
        "- `GET /api/v1/hsds/export` in-process (Flask test client, the body read chunk by chunk as a server sends "
        "it), then once more under tracemalloc", "", "**Figures**", "",
        table(["measurement", "figure", "details"], figures), "",
        "p95 of every run: " + "; ".join(f"{label} " + ", ".join(f"{p:.1f}" for p in load[k]["p95_runs"]) + " ms"
                                         for k, label in LABELS.items()) + ".", "",
        "CPU ms per request (all processes: gunicorn, PostgreSQL, Redis, wrk): " + "; ".join(
            f"{label} {cpu[k]:.2f} (" + ", ".join(f"{g} {v:.2f}" for g, v in load[k]["cpu_ms"].items()) + ")"
            for k, label in LABELS.items()) + f". Machine busy {cached['busy']:.0%} during the cached run, other "
        f"processes {cached['other']:.0%}.", "",
        f"**Goal: p95 under 30 ms at {clients} clients: {'met' if met else 'NOT met'}** (as shipped: p95 "
        f"{cached['p95_ms']:.1f} ms; computed every time: {computed['p95_ms']:.1f} ms).", "",
        "SQL statements of one computed search request:", "",
        *(f"{i}. `{short(x)}`" for i, x in enumerate(q["computed_sql"], 1)), "",
        "SQL statements of one search answered from the cache:", "",
        *(f"{i}. `{short(x)}`" for i, x in enumerate(q["hit_sql"], 1)), "",
        f"EXPLAIN (ANALYZE, BUFFERS) of the computed search's page query ({q.get('page_exec_ms', 0):.1f} ms "
        "execution):", "", "```", q.get("explain", "").strip(), "```", "", "**Findings**", "",
        f"- At {clients} clients the cached search runs at {cached['rps']:,.0f} req/s against {floor['rps']:,.0f} "
        "req/s for `/api/v1/me`, which does nothing but authenticate. With closed-loop clients p95 is roughly "
        f"clients / throughput: 30 ms at {clients} clients needs about {clients / 0.03:,.0f} req/s, i.e. under "
        f"{cores * 30 / clients:.1f} ms of CPU per request on these {cores} cores (the cached search uses "
        f"{cpu['cached']:.1f}, `/api/v1/me` {cpu['floor']:.1f}).", *checks(r)]


def soak_section(r: dict) -> list[str]:
    """The "Reliability soak (soak issue)" block."""
    m, pg, s = r["machine"], r["machine"].get("pg_settings", {}), r["sizes"]
    q, t, a, v, i = r["requests"], r["texts"], r["audit"], r["revocations"], r["inbound"]
    labels, cpu = q["by_label"], r["cpu_minutes"]
    down = r["redis_down"][0] if r["redis_down"] else [0, 0]
    load_seconds = next((e["t"] for e in r["events"] if e["event"] == "load stopped"), s["minutes"] * 60)
    served = sum(x["requests"] for x in labels.values())
    fives = {p: sum(x["5xx_by_phase"].get(p, 0) for x in labels.values()) for p in ("before", "redis_down", "after")}
    redis_fives = sum(x["5xx_by_phase"].get("redis_down", 0) for x in labels.values() if x["uses_redis"])
    busy = sum(x["busy"] for x in cpu) / max(1, len(cpu))
    other = sum(x["other"] for x in cpu) / max(1, len(cpu))
    minutes = {x["minute"]: x for x in cpu}
    kinds = Counter()
    for kind, x in v["by_kind"].items():
        kinds[kind.split(" (")[0]] += x["tokens"]

    def events_in(minute: int) -> str:
        return "; ".join(f"{e['event']} at {e['t']:.0f} s" for e in r["events"] if int(e["t"] // 60) == minute
                         and e["event"] not in ("load started",))

    endpoint_rows = [[f"`{label}`", "yes" if x["uses_redis"] else "", "yes" if x["patient_data"] else "",
                      f"{x['requests']:,}", f"{sum(n for k, n in x['statuses'].items() if k.startswith('2')):,}",
                      f"{x['expected_401']:,}" if x["expected_401"] else "",
                      ", ".join(f"{k}: {n}" for k, n in x["unexpected_4xx"].items()) or "0",
                      " / ".join(str(x["5xx_by_phase"].get(p, 0)) for p in ("before", "redis_down", "after")),
                      sum(x["errors_by_phase"].values()), f"{x['p50_ms']:.0f}", f"{x['p95_ms']:.0f}",
                      f"{x['p95_ms_by_phase'].get('redis_down', 0):.0f}" if "redis_down" in x["p95_ms_by_phase"]
                      else "", f"{x['max_ms']:.0f}"] for label, x in sorted(labels.items())]
    minute_rows = [[x["minute"] + 1, f"{x['requests']:,}",
                    f"{x['requests'] / 60:.1f}" if (x["minute"] + 1) * 60 <= load_seconds else "(after the load)",
                    x["5xx"],
                    x["unexpected_4xx"], x["errors"], f"{x['p95_ms']:.0f}", x["texts_sent"],
                    f"{minutes[x['minute']]['busy']:.0%}" if x["minute"] in minutes else "",
                    f"{minutes[x['minute']]['other']:.0%}" if x["minute"] in minutes else "", events_in(x["minute"])]
                   for x in q["minutes"]]
    event_rows = [[f"{e['t']:.1f}", e["event"], ", ".join(f"{k} {val}" for k, val in e.items()
                                                           if k not in ("t", "event"))] for e in r["events"]]
    unknown = t["unknown_outcome"]
    origins = ", ".join(f"{k} {n:,}" for k, n in t["by_origin"].items())
    out = [
        f"Measured {r['started_at']} by `benchmarks/soak.py`. Reproduce from the project root with:", "", "```sh",
        r["command"], "```", "",
        "(`--minutes` sets the length of the load, `--size KEY=N` the other settings below, `--keep-database` keeps "
        f"`{r['database']}`; `python -m benchmarks.render` writes this block from `benchmarks/results/soak.json`.)",
        "", "**Machine** (shared: read the CPU columns before comparing latencies)", "",
        f"- `nproc`: {m['nproc']}; CPU: {m['cpu']}; RAM: {m['ram']}; `uname -r`: {m['uname_r']}",
        f"- PostgreSQL {m.get('postgresql')} on 127.0.0.1 (shared_buffers={pg.get('shared_buffers')} x 8 kB, "
        f"synchronous_commit={pg.get('synchronous_commit')}, fsync={pg.get('fsync')}), database `{r['database']}` "
        "created for the run and dropped after it",
        f"- Redis {m['redis']}: a `redis-server` the benchmark starts on 127.0.0.1:{r['redis_port']} "
        "(`--save \"\" --appendonly no`, so it comes back empty after the restart); the machine's Redis on 6379 is "
        "not used",
        f"- Python {m['python']}; the load generator and the fake Twilio (threads of the benchmark process), both "
        f"gunicorn instances, both job workers, PostgreSQL and Redis share the same {m['nproc']} cores, **and so "
        "did another engineer's test runs** (pytest) during the soak: the machine was "
        f"{busy:.0%} busy on average, {other:.0%} of it from processes outside the benchmark (per minute below); "
        f"load average {m['load_average_before'][0]:.2f} before, {m['load_average_after'][0]:.2f} after",
        "", "**Set-up**", "",
        f"- Data (synthetic, inserted through the models' tables): 1 programme, {r['coaches']} coaches driving the "
        f"load + {r['probe_users']} coaches whose sessions are revoked and probed + 1 supervisor, "
        f"{r['seeded']['patients']:,} patients (all open, consenting to texts, time zone {r['zone']}, local time "
        f"{r['local_time']} at the start: outside quiet hours), {r['seeded']['contacts']:,} contacts, "
        f"{r['seeded']['tasks']:,} tasks, a catalogue of {s['organizations']} partners and {s['services']} services; "
        f"the programme owns the sending number; schema at migration {m['migration']}",
        f"- Two app instances, each `gunicorn -w {s['gunicorn_workers']} -b 127.0.0.1:PORT 'backend:create_app()'` "
        "(sync workers), BRIDGELINE_ENV=production, LOG_LEVEL=WARNING, one SECRET_KEY for all processes, "
        "REDIS_URL=the soak's Redis, PUBLIC_BASE_URL=https://bridgeline-soak.test (what the webhooks are signed "
        f"for), SMS_RATE_PER_SECOND={s['sms_rate']}, SMS_SEND_LEASE_SECONDS={s['lease_s']} (the default 300 would "
        "keep the killed worker's texts past a short run), LOGIN_ATTEMPTS_PER_ADDRESS=1000 per minute (every login "
        "comes from 127.0.0.1)",
        "- Two job workers, `flask --app backend worker` (every scheduled job: texts due every 2 s, reconciliation "
        "of interrupted sends every minute, audit seals, ...), same environment",
        f"- Fake Twilio (`fake_twilio.FakeTwilio`) in the benchmark process, {s['fake_latency_ms']} ms per answer, "
        "its own auth token; the app sends with the real twilio SDK through TWILIO_API_BASE_URL",
        f"- Load (each request to one of the two instances at random, each with its own `X-Request-ID`): "
        f"{r['coaches']} coaches in closed loops with exponential think time (mean {s['think_ms']} ms): patient list, "
        "patient read, If-Match edit, timeline, contacts (listed; logged with an Idempotency-Key, 10 % of them "
        "replayed), tasks (listed, created, completed), texts (listed; scheduled 3–40 s ahead), catalogue search "
        f"(cached in Redis), `GET /me`; about {s['inbound_per_minute']} inbound texts a minute signed with the "
        "fake's auth token (5 % HELP, 5 % Twilio retries of an earlier MessageSid); signed receipts `sent` (1 s) "
        f"and `delivered` (3 s) for every text the fake accepted; {s['scheduled_per_minute']} texts a minute "
        f"written into the outbox as scheduled, due across the first 90 % of the run, and {s['burst']} due 3 s "
        f"before the worker is killed; every {s['probe_cycle_s']} s a session logged in and ended (logout, password "
        "change, or a refresh token replaced then reused), its old access and refresh tokens probed every 2 s "
        "(a dozen at a time), all at once 1 s into the Redis outage, as Redis answers again, 2 s later, after the "
        "kill and at the end; `GET /readyz` on each instance every second",
        "", "**Incidents**", "", table(["s", "event", "details"], event_rows, "rll"), "",
        "**Figures**", "",
        table(["measure", "figure", "goal"], [
            ["requests served", f"{served:,} in {load_seconds / 60:.1f} min ({served / max(1, load_seconds):.1f}/s), "
             f"{q['phases'].get('redis_down', {}).get('requests', 0):,} of them overlapping the "
             f"{down[1] - down[0]:.1f} s Redis outage", ""],
            ["5xx outside the Redis outage", f"**{fives['before'] + fives['after']}**", "0"],
            ["5xx overlapping the Redis outage", f"**{fives['redis_down']}** ({redis_fives} on endpoints that use "
             f"Redis, {fives['redis_down'] - redis_fives} on the others)", "0 on endpoints that do not need Redis"],
            ["requests without an answer (connection error, timeout)", f"{r['no_answer']}", "0"],
            ["4xx the load did not ask for", f"{q['unexpected_4xx']}", "0"],
            ["texts due during the run", f"{t['texts']:,} ({origins})"
             f": **{t['sent_once']:,} sent exactly once**, **{t['duplicated']} duplicated**, **{t['lost']} lost**, "
             f"{t['not_sent']} not sent, {t['unknown_left']} still `unknown` at the end; fake: "
             f"{t['fake_creates']:,} create requests, answers {t['fake_statuses']}", "0 duplicates, 0 lost"],
            ["texts the killed worker left `unknown` (lease ran out) and reconciliation settled",
             f"{t['ever_unknown']}: " + (", ".join(f"{k} {n}" for k, n in unknown.items()) or "none"),
             "reported apart; never two sends"],
            ["revocations that held", f"{v['revoked_tokens']:,} tokens revoked ("
             + ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in kinds.items()) + f"), {v['probes']:,} probes ("
             f"{v['probes_during_outage']} during the outage, {v['probes_10s_after_restart']} in the 10 s after the "
             f"restart): **{v['revived']} revived**; answers {v['probe_statuses']}", "0 revived"],
            ["audit rows = patient-data answers", f"{a['audited_patient_answers']:,} audited 2xx patient-data answers, "
             f"**{a['rows_for_patient_answers']:,} rows** written for them ({a['patient_answers_without_row']} "
             f"answers without a row, {a['patient_answers_with_extra_rows']} with more than one)", "equal"],
            ["inbound texts stored once", f"{i['stored_once']:,} of {i['accepted']:,} texts once over "
             f"{i['deliveries']:,} deliveries ({i['stored_twice_or_more']} twice, {i['missing']} missing)", "all once"],
        ]), "",
        "**Per endpoint** (5xx before / overlapping / after the Redis outage; \"expected 401\": revoked tokens "
        "presented on purpose; latency in ms, as the load generator saw it)", "",
        table(["endpoint", "uses Redis", "patient data", "requests", "2xx", "expected 401", "other 4xx", "5xx",
               "no answer", "p50", "p95", "p95 in outage", "max"], endpoint_rows, "lccrrrrrrrrrr"), "",
        "**Per minute** (busy: the whole machine, 2 cores; other: the part used by processes outside the "
        "benchmark, i.e. the other engineer's tests; texts: create requests the fake answered)", "",
        table(["minute", "requests", "req/s", "5xx", "unexpected 4xx", "no answer", "p95 ms", "texts sent",
               "machine busy", "other processes", "events"], minute_rows, "rrrrrrrrrrl"), "",
        "**Texts and the killed worker**", "",
        f"- {t['sending_at_kill']} texts were `sending` (claimed by either worker) when worker 0 was killed: "
        + (", ".join(f"{k} {n}" for k, n in t["sending_at_kill_outcome"].items()) or "none") + ".",
        f"- Final statuses: {t['statuses']}; rows with the SID the fake answered: every sent text but "
        f"{t['sid_mismatch']}; bodies at the fake that no text has: {t['foreign']}; fake errors: {t['fake_errors']}.",
        "", "**Audit rows written during the load** (matched to the answers by their request id)", "",
        table(["answer", "rows"], [[k, f"{n:,}"] for k, n in a["breakdown"].items()]
              + [[f"no request (a job): {k}", f"{n:,}"] for k, n in a["rows_without_request"].items()], "lr"), "",
        f"- {a['rows']:,} rows in all. Rows that are not a 2xx patient-data answer are there by design: a revoked "
        "token presented on a patient route is audited as `access patient unauthenticated` (with the client's "
        "address, no user), a reused refresh token as `refresh session refresh_token_reused`, and logins, logouts "
        "and password changes are audited too. A replayed Idempotency-Key answer is audited like the first "
        "(`replayed`). "
        + ("Answers on patient-data routes that write no row by design: " + ", ".join(
            f"{k} {n}" for k, n in a["unaudited_by_design"].items()) + " (a HELP text and a Twilio retry of a text "
           "already stored change and show nothing)." if a["unaudited_by_design"] else ""),
        "- Every answer's rows against what its route writes by design: "
        + ("all as expected." if not a["mismatches"] else "; ".join(f"{k} ({n})" for k, n in a["mismatches"].items())),
        "", "**Revocations** (probed with `GET /api/v1/me` and `GET /api/v1/patients` for access tokens, "
        "`POST /api/v1/auth/refresh` for refresh tokens)", "",
        table(["revoked by", "tokens", "probes", "2xx (revived)"],
              [[k, x["tokens"], f"{x['probes']:,}", x["revived"]] for k, x in v["by_kind"].items()], "lrrr"), "",
        "- Probes of every revoked token at once: " + "; ".join(
            f"{b['t']:.0f} s: {b['tokens']} in {b['seconds']:.1f} s, answers {b['answers']}" for b in v["bursts"]),
        f"- Steps that did not answer as expected (not revivals): {v['anomaly_count']}"
        + (": " + "; ".join(f"{x['step']} {x['status']} at {x['t']} s" for x in v["anomalies"]) if v["anomalies"]
           else ""),
        "- `GET /readyz` answers: " + ", ".join(f"{k} {n}" for k, n in sorted(r["readiness"].items())),
        "", "**Warnings and errors the processes logged** (counted by process, level, logger and first words)", "",
        *(f"- {k}: {n:,}" for k, n in (r.get("log_summary") or {}).items()),
        *([] if r.get("log_summary") else ["- none"]),
    ]
    if r["failures"]:
        out += ["", f"**5xx and unanswered requests** ({r['failure_count']}; the first 50, with the app's log line "
                "and exception, no parameters)", "",
                table(["s", "endpoint", "status", "phase", "log"],
                      [[f"{f['t']:.1f}", f"`{f['label']}`", f"{f['status']} {f['code'] or ''}", f["phase"],
                        " / ".join(f"`{x}`" for x in f["log"])] for f in r["failures"]])]
    return out + ["", "**Properties checked** (this run; the soak has no `--quick` form)", "",
                  *(f"- {'held' if c['ok'] else '**FAILED**'}: {c['property']} ({c['detail']})" for c in r["checks"])]


LABELS = {"cached": "cached search", "computed": "computed search", "floor": "`/api/v1/me`"}
SEARCH = "/api/v1/services?service_type=detox&payer=medicaid&language=es&has_capacity=true"
SECTIONS = {"api": api_section, "caseload": caseload_section, "dispatch": dispatch_section,
            "partners": partners_section, "soak": soak_section, "voice": voice_section, "panel": panel_section}


def replace_block(text: str, scenario: str, body: str) -> str:
    """`text` with the scenario's generated block set to `body` (the markers must exist)."""
    begin, end = f"<!-- benchmarks/{scenario}.py: begin (generated, edits are overwritten) -->", \
        f"<!-- benchmarks/{scenario}.py: end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"docs/PERFORMANCE.md has no {begin} ... {end} block")
    start, stop = text.index(begin), text.index(end)
    return text[:start] + f"{begin}\n\n{body.strip()}\n\n" + text[stop:]


def main(argv: list[str] | None = None) -> int:
    """Rewrite the blocks that have a full-run result."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--docs", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    text = original = args.docs.read_text()
    for scenario, section in SECTIONS.items():
        path = args.results / f"{scenario}.json"
        result = json.loads(path.read_text()) if path.exists() else None
        if result is None or result.get("quick"):
            print(f"{scenario}: {'no result' if result is None else 'a --quick result'} in {args.results}: kept")
            continue
        text = replace_block(text, scenario, "\n".join(section(result)))
        print(f"{scenario}: rendered from {os.path.relpath(path)}")
    if text != original:
        args.docs.write_text(text)
    print(f"{args.docs}: {'updated' if text != original else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
