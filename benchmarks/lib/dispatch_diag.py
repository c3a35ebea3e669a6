"""In-process diagnostics of the SMS dispatcher: the claim query at two outbox sizes, and one worker's time.

`claim_scaling` loads `future` scheduled texts plus a few due ones, then
EXPLAIN ANALYZEs the claim query (as written in the issue, and exactly as the
ORM sends it, with its parameters), shows whether a generic (prepared) plan
could still use the partial index, and times `claim_due` itself in an app
context (the claimed rows are put back to queued between calls), then the
same with nothing due.

`time_breakdown` runs the dispatch job in-process against the fake Twilio
server (a separate process) with light wall-clock wrappers around the parts
of a send (no profiler), and `profile_dispatch` runs it under cProfile and
groups the time by library.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.lib.common import import_backend, log, pg_url
from benchmarks.lib.diagnostics import StatementRecorder, short
from benchmarks.lib.dispatch_data import load_due_messages, load_scan_messages, requeue_sending, settle_due
from benchmarks.lib.dispatch_run import FakeTwilioProcess

CLAIM_SQL = ("SELECT * FROM messages WHERE status IN ('scheduled', 'queued') AND scheduled_for <= now() "
             "ORDER BY scheduled_for, id LIMIT 50 FOR UPDATE SKIP LOCKED")
GENERIC_SQL = ("SELECT * FROM messages WHERE status IN ($1, $2) AND scheduled_for <= $3 "
               "ORDER BY scheduled_for, id LIMIT $4 FOR UPDATE OF messages SKIP LOCKED")
INDEX = "ix_messages_due"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] if ordered else 0.0


def _app(dbname: str, extra: dict | None = None):
    import_backend()
    from backend import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": pg_url(dbname), "REDIS_URL": None, "LOG_LEVEL": "WARNING",
                       "SECRET_KEY": secrets.token_urlsafe(36), "SMS_RATE_PER_SECOND": 0, **(extra or {})})


@dataclass
class ExplainResult:
    plan: str = ""  # EXPLAIN (ANALYZE, BUFFERS) text of the last round
    exec_ms: float = 0.0  # median execution time
    plan_ms: float = 0.0  # median planning time
    uses_index: bool = False


def _explain(conn, statement: str, parameters, rounds: int) -> ExplainResult:
    """EXPLAIN ANALYZE `rounds` times in rolled-back transactions (the FOR UPDATE locks are released)."""
    result = ExplainResult()
    execs, plans = [], []
    for _ in range(rounds):
        raw = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters).scalar()
        conn.rollback()
        plan = raw[0] if isinstance(raw, list) else json.loads(raw)[0]
        execs.append(plan["Execution Time"])
        plans.append(plan["Planning Time"])
    rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).fetchall()
    conn.rollback()
    result.plan = "\n".join(r[0] for r in rows)
    result.exec_ms, result.plan_ms = _median(execs), _median(plans)
    result.uses_index = INDEX in result.plan
    return result


@dataclass
class ScanResult:
    future: int
    due: int
    load_seconds: float = 0.0
    handwritten: ExplainResult = field(default_factory=ExplainResult)
    orm: ExplainResult = field(default_factory=ExplainResult)
    orm_statement: str = ""
    generic: ExplainResult = field(default_factory=ExplainResult)
    claim_ms: list[float] = field(default_factory=list)  # claim_due wall ms, in-process
    lock_sql_ms: list[float] = field(default_factory=list)  # of which the locking SELECT's execute
    claim_statements: int = 0
    claimed: int = 0
    prepared: list[tuple] = field(default_factory=list)  # pg_prepared_statements: (statement, generic, custom)
    idle: ExplainResult = field(default_factory=ExplainResult)
    idle_claim_ms: list[float] = field(default_factory=list)
    index_size: str = ""
    table_size: str = ""

    def summary(self) -> str:
        return (f"{self.future:,} future + {self.due} due: EXPLAIN ANALYZE exec {self.handwritten.exec_ms:.3f} ms "
                f"(ORM statement {self.orm.exec_ms:.3f} ms, index used: {self.orm.uses_index}); claim_due "
                f"median {_median(self.claim_ms):.1f} ms, of which lock SELECT {_median(self.lock_sql_ms):.2f} ms; "
                f"nothing due: exec {self.idle.exec_ms:.3f} ms, claim_due {_median(self.idle_claim_ms):.1f} ms")


def claim_scaling(dbname: str, future: int, due: int, batch: int, rounds: int) -> ScanResult:
    """EXPLAIN ANALYZE and in-process timing of the claim with `future` scheduled rows and `due` due rows."""
    result = ScanResult(future=future, due=due)
    started = time.perf_counter()
    load_scan_messages(dbname, future, due)
    result.load_seconds = time.perf_counter() - started
    log(f"loaded {future:,} scheduled + {due} due texts in {result.load_seconds:.1f} s")
    app = _app(dbname)
    recorder = StatementRecorder(app)
    import sqlalchemy as sa

    from backend.database import db
    from backend.messaging.dispatch import claim_due

    try:
        with recorder.engine.connect() as conn:
            result.handwritten = _explain(conn, CLAIM_SQL.replace("LIMIT 50", f"LIMIT {batch}"), {}, rounds)
            result.table_size, result.index_size = conn.exec_driver_sql(
                "SELECT pg_size_pretty(pg_table_size('messages')), pg_size_pretty(pg_relation_size(%(i)s))",
                {"i": INDEX}).one()
            conn.rollback()
        with app.app_context(), recorder:
            for i in range(rounds + 3):  # 3 warm-up calls
                recorder.clear()
                t0 = time.perf_counter()
                claimed = claim_due(batch)
                elapsed = (time.perf_counter() - t0) * 1000
                if i == 0:
                    captured = list(recorder.captured)
                    result.claim_statements = len(captured)
                    lock_statement, lock_parameters, _ms = captured[0]
                if i >= 3:
                    result.claim_ms.append(elapsed)
                    result.lock_sql_ms.append(recorder.captured[0][2])
                result.claimed = len(claimed)
                requeue_sending(dbname)
            result.prepared = [(short(s, 80), g, c) for s, g, c in db.session.execute(sa.text(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE '%FOR UPDATE%'")).all()]
            db.session.rollback()
        result.orm_statement = lock_statement
        with recorder.engine.connect() as conn:
            result.orm = _explain(conn, lock_statement, lock_parameters, rounds)
            conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            conn.exec_driver_sql("PREPARE bench_claim(varchar, varchar, timestamptz, int) AS " + GENERIC_SQL)
            conn.commit()  # keep the SET for the session: _explain rolls back after each round
            result.generic = _explain(conn, f"EXECUTE bench_claim('scheduled', 'queued', now(), {batch})", {},
                                      max(1, rounds // 4))
            conn.exec_driver_sql("DEALLOCATE bench_claim")
            conn.exec_driver_sql("RESET plan_cache_mode")
            conn.commit()
        settle_due(dbname)
        with recorder.engine.connect() as conn:
            result.idle = _explain(conn, CLAIM_SQL.replace("LIMIT 50", f"LIMIT {batch}"), {}, rounds)
        with app.app_context():
            for i in range(rounds + 3):
                t0 = time.perf_counter()
                claim_due(batch)
                if i >= 3:
                    result.idle_claim_ms.append((time.perf_counter() - t0) * 1000)
    finally:
        recorder.engine.dispose()
    log(result.summary())
    return result


# The parts of the dispatch loop that are timed, as (phase, owner in backend.messaging.dispatch or None,
# attribute); a part the current code lacks is skipped. Nested parts are taken out of the outer part's own
# time: the HTTP call runs inside TwilioGateway.send, which runs inside send_claimed.
PHASE_ORDER = ("http", "gateway", "send", "record", "claim")


@dataclass
class Breakdown:
    messages: int = 0
    seconds: float = 0.0  # wall, whole run
    wall: dict[str, float] = field(default_factory=dict)  # seconds by phase (own time, nested phases excluded)
    sql: dict[str, float] = field(default_factory=dict)  # seconds inside cursor executes, by phase
    statements: dict[str, int] = field(default_factory=dict)  # cursor executes by phase
    commit: dict[str, float] = field(default_factory=dict)  # seconds inside COMMIT, by phase
    fake_cpu: float = 0.0  # CPU seconds of the fake Twilio process

    @property
    def ms_per_message(self) -> float:
        return self.seconds * 1000 / max(1, self.messages)

    def ms(self, table: dict[str, float], phase: str) -> float:
        return table.get(phase, 0.0) * 1000 / max(1, self.messages)

    def per_message(self, phase: str) -> float:
        return self.statements.get(phase, 0) / max(1, self.messages)


class _Phases:
    """Wraps callables as named phases (a stack, so nested calls are taken out of the outer phase's own
    time) and attributes SQL executes and COMMITs to the phase running them."""

    def __init__(self, result: Breakdown):
        self.result = result
        self.stack: list[tuple[str, float]] = []
        self.restore: list[Callable[[], None]] = []
        self._pending: dict[int, float] = {}

    @property
    def current(self) -> str:
        return self.stack[-1][0] if self.stack else "other"

    def _add(self, table: dict, phase: str, value: float) -> None:
        table[phase] = table.get(phase, 0) + value

    def wrap(self, owner, attribute: str, phase: str, commit: bool = False) -> None:
        original = getattr(owner, attribute)
        had_own = attribute in getattr(owner, "__dict__", {})

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            if not commit:
                self.stack.append((phase, 0.0))
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                if commit:
                    self._add(self.result.commit, self.current, elapsed)
                else:
                    _name, nested = self.stack.pop()
                    self._add(self.result.wall, phase, elapsed - nested)
                    if self.stack:
                        outer, outer_nested = self.stack[-1]
                        self.stack[-1] = (outer, outer_nested + elapsed)

        setattr(owner, attribute, timed)
        self.restore.append(lambda: setattr(owner, attribute, original) if had_own else delattr(owner, attribute))

    def before_execute(self, conn, cursor, statement, parameters, context, executemany):
        self._pending[id(cursor)] = time.perf_counter()

    def after_execute(self, conn, cursor, statement, parameters, context, executemany):
        started = self._pending.pop(id(cursor), time.perf_counter())
        self._add(self.result.sql, self.current, time.perf_counter() - started)
        self._add(self.result.statements, self.current, 1)

    def undo(self) -> None:
        for restore in reversed(self.restore):
            restore()
        self.restore.clear()


def _run_job_until_empty(app, batch: int, budget: float) -> int:
    from backend.jobs.registry import Job
    from backend.jobs.runner import run_job
    from backend.messaging.dispatch import dispatch_due

    job = Job("dispatch_sms", dispatch_due, None, singleton=False, kwargs={"batch": batch, "budget_seconds": budget})
    sent = 0
    while True:
        counts = run_job(app, job) or {}
        if not sum(counts.values()):
            return sent
        sent += counts.get("sent", 0)


def time_breakdown(dbname: str, workdir: Path, messages: int, batch: int, budget: float) -> Breakdown:
    """One worker in-process, 0 ms fake latency: wall time per part of a send, without a profiler."""
    import sqlalchemy as sa

    from benchmarks.lib.procs import cpu_seconds

    load_due_messages(dbname, messages, "timed")
    fake = FakeTwilioProcess(workdir, 0.0, "fake-twilio-timed")
    result = Breakdown()
    phases = _Phases(result)
    engine = None
    try:
        app = _app(dbname, fake.env())
        from backend.database import db
        from backend.messaging import dispatch

        gateway = app.extensions["sms_gateway"]
        with app.app_context():
            engine = db.engine
        phases.wrap(dispatch, "claim_due", "claim")
        phases.wrap(dispatch, "send_claimed", "send")
        if hasattr(dispatch, "record_sent"):  # results recorded in batches (newer code)
            phases.wrap(dispatch, "record_sent", "record")
        phases.wrap(gateway, "send", "gateway")
        phases.wrap(gateway.client.http_client.session, "send", "http")
        phases.wrap(engine.dialect, "do_commit", "", commit=True)
        sa.event.listen(engine, "before_cursor_execute", phases.before_execute)
        sa.event.listen(engine, "after_cursor_execute", phases.after_execute)
        fake_cpu0 = cpu_seconds(fake.pid)
        t0 = time.perf_counter()
        result.messages = _run_job_until_empty(app, batch, budget)
        result.seconds = time.perf_counter() - t0
        result.fake_cpu = cpu_seconds(fake.pid) - fake_cpu0
    finally:
        if engine is not None:
            sa.event.remove(engine, "before_cursor_execute", phases.before_execute)
            sa.event.remove(engine, "after_cursor_execute", phases.after_execute)
            engine.dispose()
        phases.undo()
        fake.stop()
    log(f"in-process, no profiler: {result.messages:,} texts in {result.seconds:.1f} s = "
        f"{result.ms_per_message:.2f} ms per text; own wall ms per text " + ", ".join(
            f"{k} {result.ms(result.wall, k):.2f} (SQL {result.ms(result.sql, k):.2f} in "
            f"{result.per_message(k):.2f} statements, COMMIT {result.ms(result.commit, k):.2f})"
            for k in PHASE_ORDER if k in result.wall))
    return result


# Own (tottime) profile time grouped by where the function lives; the first match wins.
LIBRARY_GROUPS = [
    ("socket I/O to the fake Twilio (send/recv, waiting for its answer)", ("_socket.socket", "socket.py")),
    ("psycopg (incl. waiting for PostgreSQL)", ("psycopg",)),
    ("twilio SDK", ("twilio/",)),
    ("requests + urllib3 + http.client", ("requests/", "urllib3/", "http/client.py", "email/", "http/cookiejar")),
    ("SQLAlchemy (ORM, Core, pool)", ("sqlalchemy/",)),
    ("backend (dispatch, models)", ("backend/",)),
    ("logging", ("logging/",)),
    ("Flask, Werkzeug, APScheduler", ("flask", "werkzeug/", "apscheduler/")),
]


@dataclass
class DispatchProfile:
    messages: int = 0
    seconds: float = 0.0
    groups: list[tuple[str, float]] = field(default_factory=list)  # (group, share of profiled time)
    cumulative: list[tuple[str, float]] = field(default_factory=list)  # (function, share, cumulative)
    text: str = ""


def _group_of(path: str, name: str) -> str:
    where = f"{path} {name}"
    for label, needles in LIBRARY_GROUPS:
        if any(n in where for n in needles):
            return label
    return "other Python and builtins"


CUMULATIVE = [
    ("TwilioGateway.send: SDK + HTTP to the fake", "backend/messaging/gateway.py", "send"),
    ("requests Session.send: HTTP round trip", "requests/sessions.py", "send"),
    ("send_claimed", "backend/messaging/dispatch.py", "send_claimed"),
    ("record_sent: results recorded in batches", "backend/messaging/dispatch.py", "record_sent"),
    ("claim_due: claim transaction (per batch of 50)", "backend/messaging/dispatch.py", "claim_due"),
    ("Session.commit (all transactions)", "sqlalchemy/orm/session.py", "commit"),
    ("Session.get (re-reading a text)", "sqlalchemy/orm/session.py", "get"),
]


def profile_dispatch(dbname: str, workdir: Path, messages: int, batch: int, budget: float) -> DispatchProfile:
    """cProfile of one worker in-process sending `messages` texts to the fake (0 ms latency)."""
    load_due_messages(dbname, messages, "profiled")
    fake = FakeTwilioProcess(workdir, 0.0, "fake-twilio-profile")
    result = DispatchProfile()
    try:
        app = _app(dbname, fake.env())
        profiler = cProfile.Profile()
        t0 = time.perf_counter()
        profiler.enable()
        result.messages = _run_job_until_empty(app, batch, budget)
        profiler.disable()
        result.seconds = time.perf_counter() - t0
    finally:
        fake.stop()
    stats = pstats.Stats(profiler)
    total = sum(values[2] for values in stats.stats.values())
    groups: dict[str, float] = {}
    for (path, _line, name), values in stats.stats.items():
        label = _group_of(path, name)
        groups[label] = groups.get(label, 0.0) + values[2]
    result.groups = sorted(((k, v / total) for k, v in groups.items()), key=lambda kv: -kv[1])
    top = max((v[3] for (p, _l, n), v in stats.stats.items() if n == "_run_job_until_empty"), default=total)
    for label, suffix, name in CUMULATIVE:
        cum = max((v[3] for (p, _l, n), v in stats.stats.items() if n == name and p.endswith(suffix)), default=0.0)
        if cum:
            result.cumulative.append((label, cum / top if top else 0.0))
    out = io.StringIO()
    printer = pstats.Stats(profiler, stream=out)
    printer.sort_stats("tottime").print_stats(20)
    result.text = out.getvalue()
    log(f"cProfile: {result.messages:,} texts in {result.seconds:.1f} s (profiled); "
        + "; ".join(f"{label} {share:.0%}" for label, share in result.groups[:6]))
    return result
