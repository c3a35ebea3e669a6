"""In-process diagnostics through Flask's test client: SQL statements, EXPLAIN ANALYZE, cProfile.

Each test-client request pushes its own app context, so the session (and its
identity map) is torn down between requests exactly as under gunicorn.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import secrets
import time
from dataclasses import dataclass, field

from benchmarks.lib.common import BENCH_PASSWORD, RATELIMIT_PREFIX, import_backend, pg_url

# Parts of a request, found in the cProfile data by file suffix and function name.
BREAKDOWN = [
    ("JWT check: decode, blocklist, user lookup", "flask_jwt_extended/view_decorators.py", "verify_jwt_in_request"),
    ("patients list: page query with window count", "backend/common/pagination.py", "paginate"),
    ("timeline service: queries, loads, dump, audit", "backend/timeline/service.py", "patient_timeline"),
    ("marshmallow dump (all schemas)", "marshmallow/schema.py", "dump"),
    ("commit: audit INSERT + COMMIT", "sqlalchemy/orm/session.py", "commit"),
]


def make_app(dbname: str, redis_url: str | None, **overrides):
    import_backend()
    from backend import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": pg_url(dbname), "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING",
        "RATELIMIT_KEY_PREFIX": RATELIMIT_PREFIX, "SECRET_KEY": secrets.token_urlsafe(36), **overrides,
    })


def login_headers(client, email: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": BENCH_PASSWORD})
    if response.status_code != 200:
        raise RuntimeError(f"in-process login failed: {response.status_code} {response.get_data(as_text=True)}")
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


class StatementRecorder:
    """Records (statement, parameters, ms) of every cursor execute on the app's engine while active."""

    def __init__(self, app):
        import_backend()
        from backend.database import db

        with app.app_context():
            self.engine = db.engine
        self.captured: list[tuple[str, object, float]] = []
        self._pending: dict[int, float] = {}

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._pending[id(cursor)] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        started = self._pending.pop(id(cursor), time.perf_counter())
        self.captured.append((statement, parameters, (time.perf_counter() - started) * 1000))

    def __enter__(self) -> StatementRecorder:
        import sqlalchemy as sa

        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        import sqlalchemy as sa

        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)

    def clear(self) -> None:
        self.captured.clear()


def short(statement: str, width: int = 110) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= width else text[:width - 3] + "..."


@dataclass
class RequestProfile:
    label: str
    statements: list[tuple[str, float]] = field(default_factory=list)  # (first words, ms)
    mean_ms: float = 0.0
    sql_ms: float = 0.0
    explains: list[tuple[str, float, float]] = field(default_factory=list)  # (statement, plan ms, exec ms)
    top_functions: str = ""
    breakdown: list[tuple[str, float]] = field(default_factory=list)  # (part, share of the request)

    def print(self, rounds: int) -> None:
        print(f"\n### {self.label}: {len(self.statements)} SQL statements, "
              f"{self.mean_ms:.2f} ms/request in-process, {self.sql_ms:.2f} ms in SQL round trips")
        for statement, ms in self.statements:
            print(f"  {ms:6.2f} ms  {statement}")
        print("  EXPLAIN ANALYZE (plan ms / exec ms):")
        for statement, plan_ms, exec_ms in self.explains:
            print(f"  {plan_ms:6.2f} / {exec_ms:6.2f}  {statement}")
        print("  share of the request (cProfile cumulative; parts can nest):")
        for label, share in self.breakdown:
            print(f"    {share:5.0%}  ~{share * self.mean_ms:5.2f} ms  {label}")
        print(f"  cProfile, {rounds} requests, top functions by own time and cumulative:")
        print("\n".join("    " + line for line in self.top_functions.splitlines() if line.strip()))


def _breakdown(stats: pstats.Stats) -> list[tuple[str, float]]:
    def cumulative(suffix: str, name: str) -> float:
        return max((values[3] for (path, _line, func), values in stats.stats.items()
                    if func == name and path.endswith(suffix)), default=0.0)

    total = cumulative("flask/app.py", "wsgi_app")
    if not total:
        return []
    parts = [(label, cumulative(suffix, name) / total) for label, suffix, name in BREAKDOWN]
    return [(label, share) for label, share in parts if share > 0]


def profile_get(client, headers: dict, recorder: StatementRecorder, label: str, path: str,
                rounds: int) -> RequestProfile:
    """Statements of one GET, mean wall time and SQL time over `rounds`, cProfile, EXPLAIN ANALYZE."""
    profile = RequestProfile(label)
    for _ in range(5):  # warm caches (compiled statements, connections)
        client.get(path, headers=headers)
    recorder.clear()
    response = client.get(path, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
    one_request = list(recorder.captured)
    profile.statements = [(short(s), ms) for s, _p, ms in one_request]
    recorder.clear()
    started = time.perf_counter()
    for _ in range(rounds):
        client.get(path, headers=headers)
    profile.mean_ms = (time.perf_counter() - started) * 1000 / rounds
    profile.sql_ms = sum(ms for _s, _p, ms in recorder.captured) / rounds
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        client.get(path, headers=headers)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(40)
    profile.top_functions = out.getvalue()
    profile.breakdown = _breakdown(stats)
    with recorder.engine.connect() as conn:
        for statement, parameters, _ms in one_request:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).scalar()
            plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
            profile.explains.append((short(statement), plan["Planning Time"], plan["Execution Time"]))
        conn.rollback()
    return profile


def diagnose(dbname: str, redis_url: str | None, email: str, endpoints: list[tuple[str, str]],
             rounds: int) -> list[RequestProfile]:
    """Profile each (label, path) GET as the user `email`, in-process."""
    app = make_app(dbname, redis_url)
    client = app.test_client()
    headers = login_headers(client, email)
    recorder = StatementRecorder(app)
    try:
        with recorder:
            return [profile_get(client, headers, recorder, label, path, rounds) for label, path in endpoints]
    finally:
        recorder.engine.dispose()
