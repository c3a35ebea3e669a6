"""In-process checks of the partner catalogue: statements per search, EXPLAIN ANALYZE, the HSDS export.

Flask's test client against the loaded database; a ``before_cursor_execute``
listener (benchmarks/lib/diagnostics.py) records the SQL of one request.
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.lib.diagnostics import StatementRecorder, login_headers, make_app, short

SEARCH_PATH = "/api/v1/services?service_type=detox&payer=medicaid&language=es&has_capacity=true"
EXPORT_PATH = "/api/v1/hsds/export"


@dataclass
class SearchCheck:
    statements: list[tuple[str, float]] = field(default_factory=list)  # (short statement, ms)
    rows: int = 0
    total: int = 0
    mean_ms: float = 0.0
    explain_page: str = ""  # EXPLAIN (ANALYZE, BUFFERS) text of the page query
    explain_count: str = ""
    page_exec_ms: float = 0.0
    count_exec_ms: float = 0.0


@dataclass
class ExportCheck:
    status: int = 0
    wall_s: float = 0.0
    statements: int = 0
    sql_s: float = 0.0
    bytes: int = 0
    organizations: int = 0
    services: int = 0
    tracemalloc_peak_mb: float = 0.0
    traced_wall_s: float = 0.0
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    hwm_mb: float = 0.0  # VmHWM: peak RSS of the whole process (after the reset before the export)


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reset_hwm() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _explain(recorder: StatementRecorder, statement: str, parameters) -> tuple[str, float]:
    with recorder.engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
        conn.rollback()
    text = "\n".join(r[0] for r in rows)
    exec_ms = next((float(r[0].split(":")[1].split()[0]) for r in rows if r[0].startswith("Execution Time")), 0.0)
    return text, exec_ms


def search_check(dbname: str, redis_url: str | None, email: str, cache_seconds: int, rounds: int = 20) -> SearchCheck:
    """The search's statements and mean in-process time; with the cache on, those of a cache hit."""
    app = make_app(dbname, redis_url, CATALOGUE_CACHE_SECONDS=cache_seconds)
    client = app.test_client()
    headers = login_headers(client, email)
    recorder = StatementRecorder(app)
    check = SearchCheck()
    with recorder:
        for _ in range(3):
            client.get(SEARCH_PATH, headers=headers)
        recorder.clear()
        response = client.get(SEARCH_PATH, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{SEARCH_PATH}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        captured = list(recorder.captured)
    check.rows = len(response.get_json())
    check.total = json.loads(response.headers.get("X-Pagination", "{}")).get("total", 0)
    check.statements = [(short(s), ms) for s, _p, ms in captured]
    page = next((c for c in captured if "LIMIT" in c[0].upper() and "services" in c[0]), None)
    count = next((c for c in captured if c[0].lstrip().upper().startswith("SELECT COUNT")), None)
    if page is not None:
        check.explain_page, check.page_exec_ms = _explain(recorder, page[0], page[1])
    if count is not None:
        check.explain_count, check.count_exec_ms = _explain(recorder, count[0], count[1])
    started = time.perf_counter()
    for _ in range(rounds):
        client.get(SEARCH_PATH, headers=headers)
    check.mean_ms = (time.perf_counter() - started) * 1000 / rounds
    return check


def _stream(client, headers) -> tuple[int, int]:
    """GET the export as a server streams it (chunk by chunk, nothing kept): status and size in bytes."""
    response = client.get(EXPORT_PATH, headers=headers, buffered=False)
    size = sum(len(chunk) for chunk in response.response)
    response.close()
    return response.status_code, size


def export_check(dbname: str, redis_url: str | None, email: str) -> ExportCheck:
    """The whole catalogue as HSDS, streamed: wall time and peak RSS, then peak Python memory with tracemalloc."""
    app = make_app(dbname, redis_url)
    client = app.test_client()
    headers = login_headers(client, email)
    recorder = StatementRecorder(app)
    check = ExportCheck()
    gc.collect()
    check.rss_before_mb = _status_mb("VmRSS")
    _reset_hwm()
    with recorder:
        started = time.perf_counter()
        check.status, check.bytes = _stream(client, headers)
        check.wall_s = time.perf_counter() - started
    check.hwm_mb = _status_mb("VmHWM")
    check.rss_after_mb = _status_mb("VmRSS")
    check.statements = len(recorder.captured)
    check.sql_s = sum(ms for _s, _p, ms in recorder.captured) / 1000
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    _stream(client, headers)
    check.traced_wall_s = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    check.tracemalloc_peak_mb = peak / 1024 / 1024
    if check.status == 200:  # the document itself, read whole once (after the measurements) to count it
        data = json.loads(client.get(EXPORT_PATH, headers=headers).get_data())
        check.organizations, check.services = len(data["organizations"]), len(data["services"])
    return check
