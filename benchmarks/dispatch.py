"""SMS dispatch benchmark (messaging issue): outbox throughput, the due query, worker memory.

Run it (from any directory; about 15-20 minutes with the defaults, most of it
the 100,000-text memory run)::

    /work/main/.venv/bin/python benchmarks/dispatch.py

What it does, talking only to 127.0.0.1:

1. drops and recreates the PostgreSQL database ``bridgeline_bench_dispatch``,
   migrates it to head (``flask --app backend db upgrade``) and COPYs 1
   programme, 20 coaches and 10,000 patients, all textable (open, consenting,
   +1312555 01xx) in a time zone where it is daytime now (so that quiet hours,
   21:00-08:00 local, defer nothing);
2. throughput: for 0 ms and 50 ms of fake Twilio latency and for 1 and 2
   worker processes (the 0 ms ones three times, interleaved, as this VM's
   CPU speed drifts; a fixed Python loop is timed before and after each run
   to show it), loads N due texts (status queued, scheduled in the past,
   unique bodies), starts the fake Twilio server (fake_twilio/)
   in its own process and the workers (benchmarks/lib/dispatch_worker.py: each
   runs the dispatch_sms job, ``dispatch_due(batch, budget_seconds)`` through
   ``run_job``, in a loop until nothing is due, with SMS_RATE_PER_SECOND=0),
   measures texts per second and the CPU of the workers, the fake and
   PostgreSQL (from /proc), then checks every text was sent exactly once
   (one create request per body at the fake, the row ``sent`` with that SID)
   and none is left; a run disturbed by other processes is repeated once;
3. the due query: with 10,000 and 1,000,000 future scheduled texts plus 200
   due ones, EXPLAIN ANALYZE of the claim query (as in the issue, and exactly
   as the ORM sends it), whether it uses ``ix_messages_due``, what a generic
   (prepared) plan would do, and ``claim_due`` timed in-process, also with
   nothing due;
4. memory: one worker sends 100,000 texts at 0 ms latency while its VmRSS is
   sampled from /proc; start, peak, end and the slope per 10,000 texts;
5. where the time goes: one worker in-process for 2,000 texts with thin
   wall-clock wrappers (gateway, HTTP, claim, record, COMMIT, SQL), then
   2,000 more under cProfile;
6. what if (benchmarks/lib/dispatch_whatif.py): the same in-process worker
   with ``send_claimed`` swapped for the run (one UPDATE instead of a locked
   re-read plus the ORM's UPDATE; an asynchronous commit of the result) or the
   batch sent from a thread pool, at 0 ms and 50 ms; nothing in backend/ is
   edited;
7. prints the figures and rewrites the generated block of the "SMS dispatch
   (messaging issue)" section of docs/PERFORMANCE.md (other text is kept).

Every process it starts (fake servers, workers) is stopped on exit, also on
errors and SIGTERM. Goals: >= 300 texts/s with one worker at 0 ms latency;
worker memory flat across 100,000 texts.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.lib import dispatch_data as ddata
from benchmarks.lib import dispatch_report
from benchmarks.lib.common import DOCS, ROOT, exit_on_sigterm, log
from benchmarks.lib.database import DataSpec, prepare
from benchmarks.lib.dispatch_diag import claim_scaling, profile_dispatch, time_breakdown
from benchmarks.lib.dispatch_run import DispatchRun, run_dispatch
from benchmarks.lib.dispatch_whatif import what_if
from benchmarks.lib.load import wait_for_quiet
from benchmarks.lib.procs import cpu_probe
from benchmarks.lib.report import machine_info, update_block

COMMAND = "/work/main/.venv/bin/python benchmarks/dispatch.py"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--database", default="bridgeline_bench_dispatch", help="database to (re)create and load")
    parser.add_argument("--patients", type=int, default=10_000, help="textable patients")
    parser.add_argument("--coaches", type=int, default=20, help="coaches")
    parser.add_argument("--skip-load", action="store_true", help="reuse the database (the outbox is reloaded anyway)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker process counts to run")
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 50.0], help="fake Twilio latencies")
    parser.add_argument("--messages", type=int, default=6_000, help="due texts per run at 0 ms latency")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each configuration at 0 ms latency")
    parser.add_argument("--latent-repeat", type=int, default=1, help="runs of each configuration with latency")
    parser.add_argument("--latent-messages", type=int, default=1_500,
                        help="due texts per run when the fake has latency (each send waits for it)")
    parser.add_argument("--batch", type=int, default=50, help="dispatch_due(batch=...)")
    parser.add_argument("--budget", type=float, default=50.0, help="dispatch_due(budget_seconds=...)")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="give up on a run after this long")
    parser.add_argument("--retries", type=int, default=1,
                        help="repeat a throughput run when other processes took more than 10%% of the CPU")
    parser.add_argument("--scan-future", type=int, nargs="+", default=[10_000, 1_000_000],
                        help="future scheduled texts for the due-query timings (0 skips them)")
    parser.add_argument("--scan-due", type=int, default=200, help="due texts alongside them")
    parser.add_argument("--scan-rounds", type=int, default=20, help="timed rounds per query")
    parser.add_argument("--memory-messages", type=int, default=100_000, help="texts for the memory run (0 skips)")
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="RSS sampling interval")
    parser.add_argument("--profile-messages", type=int, default=2_000,
                        help="texts for the in-process breakdown and for cProfile (0 skips them)")
    parser.add_argument("--what-if-messages", type=int, nargs=2, default=[1_500, 500], metavar=("AT_0MS", "AT_50MS"),
                        help="texts per what-if variant at 0 ms and at 50 ms latency (0 0 skips them)")
    parser.add_argument("--what-if-rounds", type=int, default=3, help="rounds of the 0 ms what-if variants")
    parser.add_argument("--quiet-wait", type=int, default=120, help="seconds to wait at most for a quiet machine")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/PERFORMANCE.md")
    return parser.parse_args(argv)


def throughput(args, workdir: Path) -> list[DispatchRun]:
    """Every (latency, workers) configuration, repeated, the repetitions interleaved (1 2 1 2 ...) so that
    a drift in the host's speed hits every configuration alike."""
    runs = []
    configs = [(latency_ms, workers) for latency_ms in args.latency_ms for workers in args.workers]
    for repetition in range(1, max(args.repeat, args.latent_repeat) + 1):
        for latency_ms, workers in configs:
            if repetition > (args.repeat if latency_ms == 0 else args.latent_repeat):
                continue
            count = args.messages if latency_ms == 0 else args.latent_messages
            for attempt in range(args.retries + 1):
                ddata.load_due_messages(args.database, count, f"w{workers}l{latency_ms:g}r{repetition}a{attempt}")
                wait_for_quiet(args.quiet_wait)
                log(f"throughput: {workers} worker(s), {latency_ms:g} ms latency, {count:,} due texts, "
                    f"repetition {repetition}")
                probe = cpu_probe()
                run = run_dispatch(args.database, workdir, workers, latency_ms / 1000, count, args.batch,
                                   args.budget, args.max_seconds)
                run.repetition, run.probe_ms = repetition, (probe, cpu_probe())
                if run.other() <= 0.10 or attempt == args.retries:
                    break
                log(f"other processes used {run.other():.0%} of the CPU: repeating the run")
            if run.other() > 0.10:
                log(f"warning: other processes used {run.other():.0%} of the CPU during this run")
            runs.append(run)
    return runs


def memory_run(args, workdir: Path) -> tuple[DispatchRun, float]:
    ddata.load_due_messages(args.database, args.memory_messages, "memory")
    wait_for_quiet(args.quiet_wait)
    log(f"memory: one worker, 0 ms latency, {args.memory_messages:,} due texts, RSS every {args.sample_seconds:g} s")
    probe = cpu_probe()
    started = time.monotonic()
    last_log = [started]

    def progress(sample) -> None:
        if time.monotonic() - last_log[0] >= 60:
            last_log[0] = time.monotonic()
            log(f"  {sample.seconds:.0f} s: {sample.sent:,} sent, worker RSS {sample.rss_kb / 1024:.1f} MiB")

    run = run_dispatch(args.database, workdir, 1, 0.0, args.memory_messages, args.batch, args.budget,
                       args.max_seconds * 3, sample_every=args.sample_seconds, on_sample=progress)
    run.probe_ms = (probe, cpu_probe())
    return run, time.monotonic() - started


def code_digest() -> str:
    """What dispatch code is measured: the sha256 of backend/messaging/dispatch.py and how it records results."""
    import hashlib

    path = ROOT / "backend" / "messaging" / "dispatch.py"
    text = path.read_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    batched = "def record_sent(" in text
    return f"{digest} ({'results recorded in batches by `record_sent`' if batched else 'results recorded per text'})"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = COMMAND + ("" if argv is None and len(sys.argv) == 1 else " " + shlex.join(
        sys.argv[1:] if argv is None else argv))
    workdir = Path(tempfile.mkdtemp(prefix="bridgeline-bench-dispatch-"))
    zone, local = ddata.daytime_zone()
    log(f"patients' time zone {zone} (local time {local})")
    spec = DataSpec(coaches=args.coaches, patients=args.patients, contacts=0, tasks=0)
    try:
        prepare(args.database, spec, args.skip_load, log, lambda db: ddata.make_textable(db, zone))
        if args.skip_load:
            ddata.make_textable(args.database, zone)
        machine = machine_info(args.database)
        report = dispatch_report.DispatchReport(
            started_at=started_at, command=command, machine=machine,
            settings={"batch": args.batch, "budget": args.budget, "patients": ddata.patient_count(args.database),
                      "zone": zone, "local": local, "scan_rounds": args.scan_rounds, "code": code_digest()})

        report.runs = throughput(args, workdir)
        for future in [f for f in args.scan_future if f > 0]:
            log(f"due query: {future:,} future scheduled texts + {args.scan_due} due")
            report.scans.append(claim_scaling(args.database, future, args.scan_due, args.batch, args.scan_rounds))
        if args.profile_messages > 0:
            wait_for_quiet(args.quiet_wait)
            report.settings["profile_probe"] = cpu_probe()
            report.breakdown = time_breakdown(args.database, workdir, args.profile_messages, args.batch, args.budget)
            report.profile = profile_dispatch(args.database, workdir, args.profile_messages, args.batch, args.budget)
            print(report.profile.text)
        if args.what_if_messages[0] > 0:
            wait_for_quiet(args.quiet_wait)
            latent = max(args.latency_ms) if max(args.latency_ms) > 0 else 50.0
            report.what_ifs = what_if(args.database, workdir, args.what_if_messages[0], args.what_if_messages[1],
                                      latent, args.batch, args.budget, args.what_if_rounds)
        if args.memory_messages > 0:
            report.memory, report.memory_seconds = memory_run(args, workdir)

        if code_digest() != report.settings["code"]:
            report.settings["code"] += f", **changed during the run**: now {code_digest()}"
            log("warning: backend/messaging/dispatch.py changed during the run")
        section = dispatch_report.render_section(report)
        print("\n" + section + "\n")
        if not args.no_docs:
            update_block(dispatch_report.TITLE, dispatch_report.BLOCK, section)
            log(f"wrote {DOCS.relative_to(ROOT)}")
        failed = [r for r in [*report.runs, report.memory, *report.what_ifs]
                  if r is not None and r.verification is not None and not r.verification.ok]
        if failed:
            log(f"{len(failed)} run(s) did NOT send every text exactly once")
            return 1
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
