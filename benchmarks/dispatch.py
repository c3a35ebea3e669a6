"""SMS dispatch (messaging issue): outbox throughput with 1 and 2 worker processes, the due query, worker memory.

Every patient is textable (open, consenting, in a time zone where it is
daytime now, so quiet hours defer nothing) and the programme texts from its own
number (`program_numbers`). A throughput run loads N due texts, starts the fake
Twilio server (benchmarks/dispatch_processes.py fake, its own process) and the
workers (dispatch_processes.py worker: the dispatch_sms job through `run_job`),
releases the workers together and accounts the CPU of workers, fake and
PostgreSQL. Full run: 0 ms latency three times interleaved (this VM's speed
drifts; a fixed Python loop is timed before and after each run), 50 ms once;
the due query with 10,000 and 1,000,000 future texts; one worker's memory over
100,000 texts. Goals: >= 300 texts/s with one worker at 0 ms; memory flat.
Property (every run, also --quick): each text reached the fake exactly once
(no duplicate, none lost) and its row is `sent` with the SID the fake answered.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import statistics
import subprocess
import time
import zoneinfo
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from benchmarks.data import PROGRAM_ID, SUPERVISOR_ID, BaseData, analyze, insert_rows, load_base
from benchmarks.harness import (
    BIN,
    ROOT,
    ScenarioRun,
    app_env,
    bench_app,
    cpu_snapshot,
    cpu_used,
    explain,
    log,
    machine_facts,
    recorded_statements,
    start_process,
    status_kb,
    stop_process,
    wait_for_line,
    wait_for_quiet,
)

SIZES = {"patients": 10_000, "coaches": 20, "messages": 6_000, "repeat": 3, "latent_messages": 1_500,
         "latent_repeat": 1, "scan_future_small": 10_000, "scan_future_large": 1_000_000, "scan_due": 200,
         "scan_rounds": 20, "memory_messages": 100_000, "sample_seconds": 5, "batch": 50, "budget": 50}
QUICK = {"patients": 20, "coaches": 2, "messages": 300, "repeat": 1, "latent_messages": 0, "latent_repeat": 0,
         "scan_future_small": 0, "scan_future_large": 0, "scan_due": 0, "scan_rounds": 0, "memory_messages": 0,
         "sample_seconds": 0, "batch": 25, "budget": 50}
CONNECTIONS = 0  # no wrk
LATENCIES_MS, WORKERS = (0, 50), (1, 2)
FROM_NUMBER = "+13125550100"
ZONES = ["America/Chicago", "America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "Asia/Tokyo",
         "Asia/Kolkata", "Asia/Dubai", "Europe/Berlin", "Europe/London", "Atlantic/Azores", "America/Sao_Paulo"]


def cpu_probe(loops: int = 1_000_000) -> float:
    """Milliseconds for a fixed pure-Python loop (best of 3): how fast this VM's CPU is right now."""
    best = float("inf")
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for i in range(loops):
            total += i
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def daytime_zone() -> tuple[str, str]:
    """(zone, local time): America/Chicago at 09:00-19:00 there, else the zone whose clock is nearest 13:00."""
    local = {z: datetime.now(UTC).astimezone(zoneinfo.ZoneInfo(z)) for z in ZONES}
    zone = ZONES[0] if 9 <= local[ZONES[0]].hour < 19 else min(
        ZONES, key=lambda z: abs(local[z].hour + local[z].minute / 60 - 13))
    return zone, local[zone].strftime("%H:%M %Z")


def load_outbox(engine: sa.Engine, patients: int, due: int, tag: str, future: int = 0) -> None:
    """Replace the outbox: `due` queued texts due in the last 10 minutes (unique bodies), `future` scheduled."""
    from backend.messaging.models import Message

    rng, now = random.Random(20261124), datetime.now(UTC)

    def text(n: int, at: datetime, status: str, created: datetime) -> dict:
        return {"program_id": PROGRAM_ID, "patient_id": n % patients + 1, "direction": "outbound", "status": status,
                "body": f"Bench {tag} #{n:07d}: your coach will call you today. Reply STOP to opt out.",
                "scheduled_for": at, "expires_at": at + timedelta(hours=12), "created_by_id": SUPERVISOR_ID,
                "created_at": created, "updated_at": created}

    with engine.begin() as conn:
        conn.execute(Message.__table__.delete())
        insert_rows(conn, Message, (text(n, now + timedelta(seconds=rng.randint(3600, 30 * 86400)), "scheduled",
                                         now - timedelta(seconds=rng.randint(0, 14 * 86400))) for n in range(future)))
        insert_rows(conn, Message, (text(future + n, due_at, "queued", due_at - timedelta(seconds=rng.randint(0, 1800)))
                                    for n in range(due) for due_at in [now - timedelta(seconds=rng.randint(1, 600))]))
    analyze(engine)


def verify(engine: sa.Engine, loaded: int, report: dict) -> dict:
    """Every loaded text sent exactly once: the outbox against the create requests the fake answered."""
    from backend.messaging.models import Message

    bodies, check = report["bodies"], {"loaded": loaded, "statuses": {}, "exactly_once": 0, "missing": 0,
                                       "sid_match": 0, "attempts_over_one": 0}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Message.body, Message.status, Message.twilio_sid, Message.attempts)).all()
    for body, status, sid, attempts in rows:
        count, fake_sid = bodies.get(body, (0, None))
        check["statuses"][str(status)] = check["statuses"].get(str(status), 0) + 1
        check["exactly_once"] += count == 1
        check["missing"] += count == 0
        check["sid_match"] += sid is not None and sid == fake_sid
        check["attempts_over_one"] += attempts > 1
    check["duplicated"] = sum(1 for count, _sid in bodies.values() if count > 1)
    check["foreign"] = len(set(bodies) - {row[0] for row in rows})
    check["fake_non_201"] = sum(n for status, n in report["statuses"].items() if status != "201")
    check["fake_errors"] = report["errors"]
    check["ok"] = (check["statuses"].get("sent", 0) == check["exactly_once"] == check["sid_match"] == loaded
                   and not (check["duplicated"] or check["foreign"] or check["fake_non_201"]
                            or check["attempts_over_one"] or check["fake_errors"]))
    return check


def dispatch_run(run: ScenarioRun, engine: sa.Engine, workers: int, latency_ms: float, loaded: int,
                 sample_every: float = 0) -> dict:
    """The fake and `workers` worker processes over the loaded outbox; texts/s, CPU, memory samples, the check."""
    from backend.messaging.models import Message

    s, python = run.sizes, str(BIN / "python")
    fake_out, report_path = run.workdir / "fake.out", run.workdir / "fake.json"
    report_path.unlink(missing_ok=True)
    fake = start_process([python, "-m", "benchmarks.dispatch_processes", "fake", "--latency", str(latency_ms / 1000),
                          "--report", str(report_path)], app_env(run.database, False), fake_out, subprocess.PIPE)
    twilio = json.loads(wait_for_line(fake_out, "{", fake, 30))
    env = app_env(run.database, False, TWILIO_ACCOUNT_SID=twilio["account_sid"], TWILIO_FROM_NUMBER=FROM_NUMBER,
                  TWILIO_AUTH_TOKEN=twilio["auth_token"], TWILIO_API_BASE_URL=twilio["base_url"],
                  SMS_RATE_PER_SECOND="0")
    outs = [run.workdir / f"worker-{i}.out" for i in range(workers)]
    procs = [start_process([python, "-m", "benchmarks.dispatch_processes", "worker", "--batch", str(s["batch"]),
                            "--budget", str(s["budget"])], env, out, subprocess.PIPE) for out in outs]
    for proc, out in zip(procs, outs, strict=True):
        wait_for_line(out, "READY", proc, 60)
    probe, samples, pids = cpu_probe(), [], {"fake twilio": [fake.pid]}
    before, started = cpu_snapshot(pids), time.monotonic()
    for proc in procs:
        proc.stdin.write(b"GO\n")
        proc.stdin.flush()
    next_sample = started
    while not all("RESULT " in out.read_text() for out in outs):
        if any(p.poll() is not None and "RESULT " not in out.read_text() for p, out in zip(procs, outs, strict=True)) \
                or time.monotonic() - started > 3600:
            raise RuntimeError("a worker failed:\n" + "\n".join(out.read_text()[-2000:] for out in outs))
        if sample_every and time.monotonic() >= next_sample:
            with engine.connect() as conn:
                sent = conn.scalar(sa.select(sa.func.count()).where(Message.status == "sent"))
            samples.append({"seconds": time.monotonic() - started, "sent": sent, "rss_kb": status_kb(procs[0].pid)})
            next_sample += sample_every
        time.sleep(0.05)
    wall = time.monotonic() - started
    cpu = cpu_used(before, cpu_snapshot(pids), wall)
    per_worker = [json.loads(wait_for_line(out, "RESULT ", p, 5)[7:]) for p, out in zip(procs, outs, strict=True)]
    # Workers count their own CPU (one may be gone already, reaped into this script's children).
    cpu["cpu_s"].pop("load generator")
    cpu["cpu_s"]["workers"] = sum(w["cpu"] for w in per_worker)
    cpu["other"] = max(0.0, cpu["machine_s"] - sum(cpu["cpu_s"].values())) / (wall * (os.cpu_count() or 1))
    for proc in [*procs, fake]:
        stop_process(proc)
    sent = sum(w["sent"] for w in per_worker)
    seconds = max(w["last_sent"] for w in per_worker) - min(w["started"] for w in per_worker)
    if samples:
        samples.append({"seconds": wall, "sent": sent, "rss_kb": per_worker[0]["rss_end_kb"]})
    result = {"workers": workers, "latency_ms": latency_ms, "loaded": loaded, "sent": sent, "seconds": seconds,
              "rate": sent / seconds if seconds else 0.0, "per_worker": per_worker, "busy": cpu["busy"],
              "other": cpu["other"], "cpu_ms": {k: v * 1000 / max(1, sent) for k, v in cpu["cpu_s"].items()},
              "fake_share": cpu["cpu_s"]["fake twilio"] / max(1e-9, cpu["machine_s"]), "probe_ms": [probe, cpu_probe()],
              "samples": samples, "verification": verify(engine, loaded, json.loads(report_path.read_text()))}
    v = result["verification"]
    log(f"{workers} worker(s), {latency_ms:g} ms: {sent:,} texts in {seconds:.1f} s = {result['rate']:,.0f}/s "
        f"(per worker {' / '.join(str(w['sent']) for w in per_worker)})")
    run.check(f"{workers} worker(s), {latency_ms:g} ms: every text reached the fake exactly once", v["ok"],
              f"{v['exactly_once']:,} of {v['loaded']:,} once, {v['duplicated']} duplicated, {v['missing']} lost, "
              f"{v['foreign']} unknown, statuses {v['statuses']}, {v['sid_match']:,} rows with the fake's SID, "
              f"fake errors {v['fake_errors'] or 0}")
    return result


def due_query(run: ScenarioRun, engine: sa.Engine, future: int) -> dict:
    """`claim_due` with `future` scheduled texts and a few due: its locking SELECT's plan and time, then idle."""
    from backend.database import db
    from backend.messaging.dispatch import claim_due
    from backend.messaging.models import Message

    s = run.sizes
    load_outbox(engine, s["patients"], s["scan_due"], "due", future)
    app, rounds, result = bench_app(run.database, SMS_RATE_PER_SECOND=0), s["scan_rounds"], {"future": future}
    with app.app_context():
        for phase in ("due", "idle"):
            timings = []
            for i in range(rounds + 3):  # 3 warm-up claims; each is rolled back, so the rows stay due
                with recorded_statements(db.engine) as captured:
                    started = time.perf_counter()
                    claimed = claim_due(s["batch"])
                    timings.append((time.perf_counter() - started) * 1000)
                db.session.rollback()
                if i == 0:
                    plan, exec_ms = explain(db.engine, *captured[0][:2])
                    result[phase] = {"statements": len(captured), "claimed": len(claimed), "plan": plan,
                                     "exec_ms": exec_ms, "uses_index": "ix_messages_due" in plan}
            result[phase]["claim_ms"] = timings[3:]
            with engine.begin() as conn:  # then nothing due: every due text settled
                conn.execute(Message.__table__.update().where(Message.status == "queued").values(status="sent"))
        result["statement"] = captured[0][0]
        result["table_size"], result["index_size"] = db.session.execute(sa.text(
            "SELECT pg_size_pretty(pg_table_size('messages')), pg_size_pretty(pg_relation_size('ix_messages_due'))"
        )).one()
        db.session.remove()
        db.engine.dispose()
    log(f"due query, {future:,} future: {result['due']['exec_ms']:.3f} ms, index {result['due']['uses_index']}, "
        f"claim_due median {statistics.median(result['due']['claim_ms']):.1f} ms")
    return result


def main(run: ScenarioRun) -> dict:
    """Load textable patients, then the throughput runs, the due query and the memory run."""
    from backend.patients.models import Patient
    from backend.programs.models import ProgramNumber

    s, engine = run.sizes, sa.create_engine(run.database.url)
    zone, local = daytime_zone()
    with engine.begin() as conn:
        load_base(conn, BaseData(s["coaches"], s["patients"]))
        conn.execute(Patient.__table__.update().values(status="active", closed_at=None, declined_peer_support=False,
                                                       sms_consent=True, sms_consent_at=Patient.created_at,
                                                       timezone=zone))
        insert_rows(conn, ProgramNumber, [{"program_id": PROGRAM_ID, "number": FROM_NUMBER}])
    code = ROOT / "backend" / "messaging" / "dispatch.py"
    result = {"zone": zone, "local": local, "runs": [], "scans": [], "memory": None, "machine": machine_facts(engine),
              "code": hashlib.sha256(code.read_bytes()).hexdigest()[:12]}
    log(f"patients' time zone {zone} (local time {local})")
    for repetition in range(1, max(s["repeat"], s["latent_repeat"]) + 1):  # interleaved: 1 2 1 2 ...
        for latency_ms in LATENCIES_MS:
            count = s["messages"] if latency_ms == 0 else s["latent_messages"]
            if repetition > (s["repeat"] if latency_ms == 0 else s["latent_repeat"]) or not count:
                continue
            for workers in WORKERS:
                load_outbox(engine, s["patients"], count, f"w{workers}l{latency_ms}r{repetition}")
                wait_for_quiet(run.load.quiet_wait)
                result["runs"].append(dispatch_run(run, engine, workers, latency_ms, count)
                                      | {"repetition": repetition})
    for future in (s["scan_future_small"], s["scan_future_large"]):
        if future and run.database.is_postgres:
            result["scans"].append(due_query(run, engine, future))
    if s["memory_messages"]:
        load_outbox(engine, s["patients"], s["memory_messages"], "memory")
        wait_for_quiet(run.load.quiet_wait)
        result["memory"] = dispatch_run(run, engine, 1, 0, s["memory_messages"], s["sample_seconds"])
    if hashlib.sha256(code.read_bytes()).hexdigest()[:12] != result["code"]:
        result["code"] += " (changed during the run)"
    engine.dispose()
    return result
