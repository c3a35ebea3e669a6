"""In-process checks of the caseload endpoints: SQL statements per request for different team sizes.

The team is shrunk by deactivating coaches with SQL (restored afterwards), so
the same database answers for, say, 200 and 20 coaches. Patients created here
are named "Bench Count" and deleted at the end.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import psycopg

from benchmarks.lib.caseload_data import remove_created_patients
from benchmarks.lib.common import dsn
from benchmarks.lib.diagnostics import StatementRecorder, login_headers, make_app, short

TEAM_PATH = "/api/v1/team/caseloads"
CREATE_PATH = "/api/v1/patients"
COUNT_BODY = {"first_name": "Bench", "last_name": "Count", "source": "ed"}


@dataclass
class TeamSizeCheck:
    coaches: int  # active coaches
    on_shift: int  # of which on shift
    team_statements: list[str] = field(default_factory=list)
    team_explains: list[tuple[float, float]] = field(default_factory=list)  # (plan ms, exec ms) per statement
    team_ms: float = 0.0  # mean wall ms per team-view request, in-process, one at a time
    team_rows: int = 0
    create_statements: list[str] = field(default_factory=list)
    create_ms: float = 0.0  # mean wall ms per automatic-assignment POST, in-process
    create_assigned: int = 0  # of the POSTs here, how many got a coach


def _set_active(dbname: str, coach_ids: list[int], active: bool) -> None:
    with psycopg.connect(dsn(dbname), autocommit=True) as conn:
        conn.execute("UPDATE users SET active = %s WHERE id = ANY(%s)", (active, coach_ids))


def _active_coaches(dbname: str) -> list[tuple[int, bool]]:
    with psycopg.connect(dsn(dbname)) as conn:
        return conn.execute("SELECT id, on_shift FROM users WHERE role = 'coach' AND active ORDER BY id").fetchall()


def _explain(recorder: StatementRecorder, captured: list) -> list[tuple[float, float]]:
    """EXPLAIN ANALYZE each statement (plan ms, exec ms); (0, 0) for what is not a SELECT."""
    out = []
    with recorder.engine.connect() as conn:
        for statement, parameters, _ms in captured:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                out.append((0.0, 0.0))
                continue
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).scalar()
            plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
            out.append((plan["Planning Time"], plan["Execution Time"]))
        conn.rollback()
    return out


def _check(client, headers: dict, recorder: StatementRecorder, rounds: int, check: TeamSizeCheck) -> None:
    for _ in range(3):
        client.get(TEAM_PATH, headers=headers)
    recorder.clear()
    response = client.get(TEAM_PATH, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"{TEAM_PATH}: {response.status_code} {response.get_data(as_text=True)[:300]}")
    captured = list(recorder.captured)
    check.team_statements = [short(s) for s, _p, _ms in captured]
    check.team_explains = _explain(recorder, captured)
    check.team_rows = len(response.get_json())
    started = time.perf_counter()
    for _ in range(rounds):
        client.get(TEAM_PATH, headers=headers)
    check.team_ms = (time.perf_counter() - started) * 1000 / rounds

    client.post(CREATE_PATH, json=COUNT_BODY, headers=headers)  # warm the compiled-statement cache
    recorder.clear()
    response = client.post(CREATE_PATH, json=COUNT_BODY, headers=headers)
    if response.status_code != 201:
        raise RuntimeError(f"POST {CREATE_PATH}: {response.status_code} {response.get_data(as_text=True)[:300]}")
    check.create_statements = [short(s) for s, _p, _ms in recorder.captured]
    assigned = [response.get_json().get("coach_id") is not None]
    posts = max(1, rounds // 4)
    started = time.perf_counter()
    for _ in range(posts):
        assigned.append(client.post(CREATE_PATH, json=COUNT_BODY, headers=headers).get_json().get("coach_id")
                        is not None)
    check.create_ms = (time.perf_counter() - started) * 1000 / posts
    check.create_assigned = sum(assigned)


def team_size_checks(dbname: str, redis_url: str | None, email: str, sizes: list[int],
                     rounds: int = 20) -> list[TeamSizeCheck]:
    """For each team size (active coaches, the lowest ids kept): statements and time of the two endpoints."""
    app = make_app(dbname, redis_url)
    client = app.test_client()
    headers = login_headers(client, email)
    recorder = StatementRecorder(app)
    everyone = _active_coaches(dbname)
    checks = []
    try:
        with recorder:
            for size in sorted(sizes, reverse=True):
                kept, dropped = everyone[:size], [cid for cid, _on in everyone[size:]]
                _set_active(dbname, dropped, False)
                try:
                    check = TeamSizeCheck(coaches=len(kept), on_shift=sum(1 for _cid, on in kept if on))
                    _check(client, headers, recorder, rounds, check)
                    checks.append(check)
                finally:
                    _set_active(dbname, dropped, True)
    finally:
        recorder.engine.dispose()
        remove_created_patients(dbname, COUNT_BODY["last_name"])
    return checks
