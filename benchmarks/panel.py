"""Supervision panel (panel issue): the Team page and a coach's page with 200 coaches and 20,000 patients.

    python -m benchmarks.panel            # load, measure, write benchmarks/results/panel.json, render the docs block
    python -m benchmarks.panel --render   # only rewrite the docs block from benchmarks/results/panel.json

Goal (the issue): on PostgreSQL, p95 render of `GET /admin/team` and `GET /admin/coaches/<id>` under 300 ms at 4
concurrent clients. Data, loaded through the models' tables (benchmarks/data.py, and the caseload scenario's
loader for shifts, recent contacts, supervision, check-ins and assignments): one programme, 200 coaches under 4
supervisors (50 each), 20,000 patients with the caseload scenario's status and acuity mix (about a third open),
historic and recent contacts, finished tasks, open tasks per open patient (some overdue, the ones more than a day
overdue escalated to the supervisor with a review task), weekly wellness check-in tasks, and a daily caseload
snapshot per coach for 90 days. The app runs under gunicorn (sync workers, production settings, no Redis); the
benchmark logs in once through the panel's form (CSRF token from the login page, e-mail and password: supervisors
have no second factor unless their programme's policy asks for one), and every wrk connection reuses that session
cookie with the same User-Agent (Flask-Login's "strong" session protection ties the session to it).

Measured: per page, wrk at 4 connections (a warm-up, then one measured run): req/s and the latency distribution,
every answer checked to be a 200 (a redirect to the login page would count as a success for wrk); CPU per request
by process, and the share of the 2 cores other processes took (the machine is shared: load average and the busiest
other processes are recorded). In-process (Flask's test client, one request at a time): the SQL statements each page
sends and the rows they fetch, for the whole team and for a team of 20 (the other coaches deactivated and their
snapshots moved out of the window, then restored), time in SQL, in template rendering and in the rest, the slowest
statements with EXPLAIN ANALYZE, and a cProfile of one request. --quick: tiny sizes, in-process only, properties only.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from benchmarks.data import (
    PROGRAM_ID,
    SUPERVISOR_EMAIL,
    SUPERVISOR_ID,
    BaseData,
    analyze,
    insert_rows,
    load_base,
    reset_sequences,
    row_counts,
)
from benchmarks.harness import (
    PASSWORD,
    RESULTS,
    ROOT,
    TICKS,
    Database,
    LoadSettings,
    ScenarioRun,
    Server,
    app_env,
    bench_app,
    create_postgres_database,
    drop_database,
    explain,
    log,
    machine_facts,
    migrate,
    recorded_statements,
    start_gunicorn,
    stop_process,
    stop_processes,
)

SIZES = {"coaches": 200, "patients": 20_000, "contacts": 100_000, "recent_contacts": 20_000, "done_tasks": 20_000,
         "supervisors": 4, "snapshot_days": 90, "on_shift": 50, "on_shift_cap": 45, "small_team": 20,
         "profile_rounds": 10}
QUICK = {"coaches": 8, "patients": 80, "contacts": 80, "recent_contacts": 100, "done_tasks": 40, "supervisors": 2,
         "snapshot_days": 10, "on_shift": 3, "on_shift_cap": 45, "small_team": 4, "profile_rounds": 2}
CONNECTIONS = 4
GOAL_MS = 300
DATABASE_NAME = "bridgeline_bench_panel"
LOCAL_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
USER_AGENT = "bridgeline-bench-panel/1"  # the login and every wrk connection: "strong" session protection
TEAM_PATH, COACH_PATH = "/admin/team", "/admin/coaches/{}"
STATUS_ORDER = ("referred", "engaged", "active", "linked", "closed", "declined")
OPEN_TASK_TITLES = ["Call back after discharge", "Follow up on the detox referral", "Confirm Thursday's appointment",
                    "Check the new phone number", "Drive to the clinic intake"]


# -- data -------------------------------------------------------------------------------------------------------------


def load_panel_data(conn: sa.Connection, sizes: dict, seed: int = 20261203) -> dict:
    """The base data set, the caseload scenario's activity, supervisors, open tasks and 90 days of snapshots."""
    from backend.caseload.models import CaseloadSnapshot
    from backend.patients.models import OPEN_STATUSES, Patient
    from backend.programs.models import CaseloadPolicy
    from backend.tasks.models import Task
    from backend.users.models import User
    from backend.wellness.models import SupervisionSession
    from benchmarks.caseload import ACUITIES, STATUSES, load_caseload_data

    rng, users = random.Random(seed), User.__table__
    now = datetime.now(UTC).replace(microsecond=0)
    load_base(conn, BaseData(sizes["coaches"], sizes["patients"], sizes["contacts"], 0, seed=seed, min_age_days=45,
                             statuses=STATUSES, acuities=ACUITIES))
    load_caseload_data(conn, sizes, seed=seed)
    # Supervisors: user 1 (who logs in) and the others after the coaches; coaches in equal blocks by id.
    coaches = list(conn.scalars(sa.select(users.c.id).where(users.c.role == "coach").order_by(users.c.id)))
    password_hash = conn.scalar(sa.select(users.c.password_hash).where(users.c.id == SUPERVISOR_ID))
    extra = list(range(max(coaches) + 1, max(coaches) + sizes["supervisors"]))
    insert_rows(conn, User, [{"id": uid, "program_id": PROGRAM_ID, "password_hash": password_hash, "active": True,
                              "email": f"supervisor{n + 2}@bench.test", "full_name": f"Bench Supervisor {n + 2}",
                              "phone": None, "role": "supervisor", "supervisor_id": None}
                             for n, uid in enumerate(extra)])
    reset_sequences(conn, User)
    supervisor_of = {c: [SUPERVISOR_ID, *extra][i * len([SUPERVISOR_ID, *extra]) // len(coaches)]
                     for i, c in enumerate(coaches)}
    for supervisor in {*supervisor_of.values()}:
        mine = [c for c, s in supervisor_of.items() if s == supervisor]
        conn.execute(users.update().where(users.c.id.in_(mine)).values(supervisor_id=supervisor))
        conn.execute(SupervisionSession.__table__.update().where(SupervisionSession.coach_id.in_(mine))
                     .values(supervisor_id=supervisor))
    # Tasks: finished ones over the patients' history; 0-3 open per open patient, due from 4 days ago to 10 days
    # ahead; those overdue by more than a day escalated to the coach's supervisor (a review task); a weekly
    # wellness check-in task per coach.
    patients = conn.execute(sa.select(Patient.id, Patient.coach_id, Patient.status, Patient.created_at)
                            .order_by(Patient.id)).all()
    rows, escalations, next_id = [], [], 1
    for n in range(sizes["done_tasks"]):
        pid, coach, _status, created = patients[n % len(patients)]
        at = created + timedelta(days=rng.randint(0, 30))
        rows.append({"id": next_id, "program_id": PROGRAM_ID, "patient_id": pid, "assignee_id": coach,
                     "created_by_id": coach, "kind": rng.choice(["call_back", "follow_up", "confirm_appointment"]),
                     "title": rng.choice(OPEN_TASK_TITLES), "due_at": at + timedelta(days=2), "status": "done",
                     "completed_at": at + timedelta(days=1), "completed_by_id": coach, "created_at": at,
                     "updated_at": at + timedelta(days=1)})
        next_id += 1
    for pid, coach, status, _created in patients:
        if status not in OPEN_STATUSES:
            continue
        for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3])):
            due = now + timedelta(hours=rng.randint(-96, 240))
            task = {"id": next_id, "program_id": PROGRAM_ID, "patient_id": pid, "assignee_id": coach,
                    "created_by_id": coach, "kind": rng.choice(["call_back", "follow_up", "confirm_appointment",
                                                                "check_phone_number"]),
                    "title": rng.choice(OPEN_TASK_TITLES), "due_at": due, "status": "open",
                    "created_at": due - timedelta(days=3), "updated_at": due - timedelta(days=3)}
            next_id += 1
            if due < now - timedelta(hours=24):
                review = next_id
                next_id += 1
                escalations.append({"id": review, "program_id": PROGRAM_ID, "patient_id": pid, "kind": "review",
                                    "assignee_id": supervisor_of[coach], "created_by_id": None,
                                    "title": f"Overdue follow-up of Bench Coach {coach - 1}: {task['title']}",
                                    "due_at": due + timedelta(hours=28), "status": "open",
                                    "created_at": due + timedelta(hours=24), "updated_at": due + timedelta(hours=24)})
                task |= {"escalated_at": due + timedelta(hours=24), "escalation_task_id": review}
            rows.append(task)
    for coach in coaches:
        due = now + timedelta(hours=rng.randint(-48, 72))
        rows.append({"id": next_id, "program_id": PROGRAM_ID, "patient_id": None, "assignee_id": coach,
                     "created_by_id": None, "kind": "wellness_check_in", "status": "open",
                     "title": "Weekly wellness check-in: how are you doing?", "due_at": due,
                     "created_at": due - timedelta(days=3), "updated_at": due - timedelta(days=3)})
        next_id += 1
    blank = {"patient_id": None, "created_by_id": None, "completed_at": None, "completed_by_id": None,
             "escalated_at": None, "escalation_task_id": None, "note": None}
    insert_rows(conn, Task, (blank | row for row in escalations))  # first: the coaches' tasks point at them
    insert_rows(conn, Task, (blank | row for row in rows))
    reset_sequences(conn, Task)
    # A snapshot per coach and day (programme-local days), walking back from today's load with small steps.
    policy = conn.execute(sa.select(CaseloadPolicy.__table__)
                          .where(CaseloadPolicy.program_id == PROGRAM_ID)).mappings().one()
    caps = dict(conn.execute(sa.select(users.c.id, sa.func.coalesce(users.c.caseload_cap, policy["default_cap"]))
                             .where(users.c.id.in_(coaches))).all())
    loads = current_loads(conn, coaches, policy)
    today = now.date()

    def snapshots():
        for coach in coaches:
            load, active = loads[coach]
            for back in range(sizes["snapshot_days"]):
                use = load / (caps[coach] * 100)
                level = "high" if use > 1 else "watch" if use >= 0.9 or rng.random() < 0.25 else "ok"
                reasons = (["over_cap"] if use > 1 else ["near_cap"] if use >= 0.9 else []) + \
                    (["no_supervision"] if level == "watch" and use < 0.9 else [])
                yield {"program_id": PROGRAM_ID, "coach_id": coach, "day": today - timedelta(days=back),
                       "load": load, "cap": caps[coach], "active_patients": active, "level": level,
                       "reasons": reasons, "created_at": now - timedelta(days=back, hours=3)}
                step = rng.choice([-150, -100, -50, 0, 0, 0, 50, 100, 150])
                load, active = max(0, load + step), max(0, active + (step > 0) - (step < 0))

    insert_rows(conn, CaseloadSnapshot, snapshots())
    return {"supervisors": [SUPERVISOR_ID, *extra], "supervisor_of": supervisor_of}


def current_loads(conn: sa.Connection, coaches: list[int], policy) -> dict[int, tuple[int, int]]:
    """Each coach's weighted load now (hundredths) and open patients, with the policy's weights."""
    from backend.patients.models import OPEN_STATUSES, Patient

    weight = sa.case((Patient.acuity == "low", policy["weight_low"]), (Patient.acuity == "high", policy["weight_high"]),
                     else_=policy["weight_standard"])
    found = {coach: (int(load), count) for coach, load, count in conn.execute(
        sa.select(Patient.coach_id, sa.func.coalesce(sa.func.sum(weight), 0), sa.func.count())
        .where(Patient.coach_id.in_(coaches), Patient.status.in_(OPEN_STATUSES)).group_by(Patient.coach_id))}
    return {coach: found.get(coach, (0, 0)) for coach in coaches}


def pick_coach(conn: sa.Connection, supervised_by: int) -> dict:
    """Of the logged-in supervisor's coaches, the one with the median number of open patients."""
    from backend.patients.models import OPEN_STATUSES, Patient
    from backend.tasks.models import Task
    from backend.users.models import User

    rows = conn.execute(
        sa.select(User.id, sa.func.count(Patient.id)).outerjoin(
            Patient, sa.and_(Patient.coach_id == User.id, Patient.status.in_(OPEN_STATUSES)))
        .where(User.supervisor_id == supervised_by, User.role == "coach").group_by(User.id)
        .order_by(sa.func.count(Patient.id), User.id)).all()
    coach, open_patients = rows[len(rows) // 2]
    now = datetime.now(UTC)
    tasks, overdue = conn.execute(sa.select(sa.func.count(), sa.func.count().filter(Task.due_at < now)).where(
        Task.assignee_id == coach, Task.status == "open")).one()
    return {"coach_id": coach, "open_patients": open_patients, "open_tasks": tasks, "overdue_tasks": overdue}


# -- in-process ------------------------------------------------------------------------------------------------------


def panel_login(client, email: str = SUPERVISOR_EMAIL) -> None:
    """Log a Flask test client in through the panel's form (CSRF token from the login page)."""
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', page)
    response = client.post("/admin/login", data={"csrf_token": next(g for g in token.groups() if g),
                                                 "email": email, "password": PASSWORD})
    if response.status_code != 302 or "/admin/login" in response.headers.get("Location", ""):
        raise RuntimeError(f"panel login as {email} failed: {response.status_code}")


@contextlib.contextmanager
def rows_and_rendering(app, engine: sa.Engine):
    """Per statement, the rows it returned and whether it ran while a template rendered; render time (ms)."""
    from flask import before_render_template, template_rendered

    state = {"rendering": 0, "started": 0.0, "render_ms": 0.0, "statements": []}

    def before_render(sender, template, context, **extra):
        state["rendering"] += 1
        state["started"] = time.perf_counter()

    def rendered(sender, template, context, **extra):
        state["rendering"] -= 1
        if not state["rendering"]:
            state["render_ms"] += (time.perf_counter() - state["started"]) * 1000

    def after(conn, cursor, statement, parameters, context, executemany):
        rows = cursor.rowcount if statement.lstrip().upper().startswith(("SELECT", "WITH")) else None
        state["statements"].append({"rows": rows if rows is not None and rows >= 0 else None,
                                    "during_render": bool(state["rendering"])})

    before_render_template.connect(before_render, app)
    template_rendered.connect(rendered, app)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield state
    finally:
        sa.event.remove(engine, "after_cursor_execute", after)
        template_rendered.disconnect(rendered, app)
        before_render_template.disconnect(before_render, app)


def page_anatomy(app, engine: sa.Engine, client, path: str, rounds: int, is_postgres: bool) -> dict:
    """One page in-process: statements, rows, SQL / render / other ms (mean of `rounds`), the slowest statements
    explained, and where one request spends its time (cProfile)."""
    response = client.get(path)  # warm the statement and template caches
    body = response.get_data()
    samples = []
    for _ in range(rounds):
        with recorded_statements(engine) as captured, rows_and_rendering(app, engine) as state:
            started, cpu = time.perf_counter(), time.process_time()
            client.get(path)
            wall, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
        sql_ms = sum(ms for _s, _p, ms in captured)
        render_sql = sum(ms for (_s, _p, ms), x in zip(captured, state["statements"], strict=True)
                         if x["during_render"])
        samples.append({"wall": wall, "cpu": cpu, "sql": sql_ms, "render": state["render_ms"] - render_sql,
                        "statements": captured, "rows": [x["rows"] for x in state["statements"]],
                        "during_render": sum(x["during_render"] for x in state["statements"])})
    last = samples[-1]
    mean = {k: sum(s[k] for s in samples) / len(samples) for k in ("wall", "cpu", "sql", "render")}
    statements = [{"sql": s, "rows": rows, "ms": ms, "mean_ms": sum(x["statements"][i][2] for x in samples)
                   / len(samples)} for i, ((s, p, ms), rows) in enumerate(zip(last["statements"], last["rows"],
                                                                                    strict=True))]
    slowest = sorted(range(len(statements)), key=lambda i: -statements[i]["mean_ms"])[:3]
    for i in slowest if is_postgres else []:
        if statements[i]["sql"].lstrip().upper().startswith("SELECT"):
            plan, exec_ms = explain(engine, statements[i]["sql"], last["statements"][i][1])
            jit = re.search(r"Timing: .*Total ([\d.]+) ms", plan)
            statements[i] |= {"explain_ms": exec_ms, "jit_ms": float(jit.group(1)) if jit else 0.0, "plan": plan}
    profiler = cProfile.Profile()
    profiler.enable()
    client.get(path)
    profiler.disable()
    return {"status": response.status_code, "bytes": len(body), "statement_count": len(statements),
            "coach_rows": body.count(b'data-testid="coach-'), "patient_rows": body.count(b'data-testid="patient-'),
            "statements": statements, "slowest": slowest, "mean_ms": mean | {"other": mean["wall"] - mean["sql"]
                                                                              - mean["render"]},
            "statements_during_render": last["during_render"], "rounds": rounds, "profile": profile_top(profiler)}


PROFILE_PARTS = {  # (label, file fragment, function name): cumulative time of one request, parts can nest
    "template rendering (Jinja, incl. macros)": ("flask/templating.py", "_render"),
    "SQL execute calls (driver and round trips)": ("sqlalchemy/engine/default.py", "do_execute"),
    "ORM row loading (instances)": ("sqlalchemy/orm/loading.py", "instances"),
    "team_caseloads": ("backend/caseload/service.py", "team_caseloads"),
    "team_signals (burnout reasons)": ("backend/caseload/signals.py", "team_signals"),
    "coach_caseload": ("backend/caseload/service.py", "coach_caseload"),
    "caseload_history (every coach's snapshots)": ("backend/caseload/service.py", "caseload_history"),
    "coach_headroom (every coach's load)": ("backend/caseload/service.py", "coach_headroom"),
    "coach_open_tasks": ("backend/tasks/service.py", "coach_open_tasks"),
    "commit (audit rows)": ("sqlalchemy/orm/session.py", "commit"),
    "user loader and session checks": ("admin/core.py", "load_user"),
}


def profile_top(profiler: cProfile.Profile) -> dict:
    """Cumulative ms of the named parts of one profiled request, the request's total, and the project's own
    functions (admin/, backend/) with the most cumulative time."""
    stats = pstats.Stats(profiler)
    found, own = {}, []
    for (path, line, name), (_cc, calls, _tt, cumulative, _callers) in stats.stats.items():
        path = path.replace(os.sep, "/")
        for label, (fragment, function) in PROFILE_PARTS.items():
            if name == function and path.endswith(fragment):
                found[label] = max(found.get(label, 0.0), cumulative * 1000)
        if "/.venv/" not in path and re.search(r"/(admin|backend)/", path):
            own.append([f"{os.path.relpath(path, ROOT)}:{line} {name}", round(cumulative * 1000, 2), calls])
    found["whole request (under cProfile, slower than without)"] = stats.total_tt * 1000
    return {"parts": found, "own": sorted(own, key=lambda x: -x[1])[:12]}


@contextlib.contextmanager
def team_of(engine: sa.Engine, size: int):
    """Only the first `size` coaches active, the others' snapshots moved a year back (out of the window)."""
    from backend.caseload.models import CaseloadSnapshot
    from backend.users.models import User

    with engine.begin() as conn:
        dropped = list(conn.scalars(sa.select(User.id).where(User.role == "coach").order_by(User.id).offset(size)))
    snapshots = CaseloadSnapshot.__table__

    def shift(days: int):  # a date column moved by whole days (date + integer on PostgreSQL)
        if engine.dialect.name == "postgresql":
            return snapshots.c.day + days
        return sa.func.date(snapshots.c.day, f"{days:+d} days")

    with engine.begin() as conn:
        conn.execute(User.__table__.update().where(User.id.in_(dropped)).values(active=False))
        conn.execute(snapshots.update().where(snapshots.c.coach_id.in_(dropped)).values(day=shift(-400)))
    try:
        yield len(dropped)
    finally:
        with engine.begin() as conn:
            conn.execute(User.__table__.update().where(User.id.in_(dropped)).values(active=True))
            conn.execute(snapshots.update().where(snapshots.c.coach_id.in_(dropped)).values(day=shift(400)))


def in_process(run: ScenarioRun, pages: dict[str, str], coach: dict) -> dict:
    """Every page for the whole team, then (statements and rows only) for a team of `small_team`."""
    from backend.database import db

    app = bench_app(run.database)
    client = app.test_client()
    panel_login(client)
    with app.app_context():
        engine = db.engine
    rounds = run.sizes["profile_rounds"]
    whole = {label: page_anatomy(app, engine, client, path, rounds, run.database.is_postgres)
             for label, path in pages.items()}
    with team_of(engine, run.sizes["small_team"]):
        small = {label: page_anatomy(app, engine, client, path, rounds, False) for label, path in pages.items()}
    engine.dispose()
    refused = [f"{label} {x['status']}" for label, x in {**whole, **small}.items() if x["status"] != 200]
    run.check("every page answers 200 in-process (whole team and small team)", not refused,
              ", ".join(refused) or f"{len(pages)} pages x 2 team sizes")
    shown = (whole["team"]["coach_rows"], small["team"]["coach_rows"], whole["coach"]["patient_rows"])
    run.check("the team page lists every active coach, the coach page every open patient of the coach",
              shown == (run.sizes["coaches"], run.sizes["small_team"], coach["open_patients"]),
              f"team rows {shown[0]} and {shown[1]} (teams of {run.sizes['coaches']} and {run.sizes['small_team']}), "
              f"caseload rows {shown[2]} of {coach['open_patients']} open patients")
    for label, path in pages.items():
        if "/admin/coaches/" not in path or not run.database.is_postgres:  # SQLite tells no SELECT's row count
            continue
        read = [sum(st["rows"] or 0 for st in x[label]["statements"] if "FROM caseload_snapshots" in st["sql"])
                for x in (whole, small)]
        # One coach's chart: at most one snapshot a day of the period (the small team's coach may have fewer).
        days = 90 if "days=90" in path else 30
        run.check(f"{label}: the daily snapshots it reads do not grow with the team (its chart is one coach's)",
                  max(read) <= days + 1, f"{read[0]:,} snapshot rows read with {run.sizes['coaches']} coaches, "
                  f"{read[1]:,} with {run.sizes['small_team']} (at most {days + 1}: one coach's days)")
    for label in pages:
        big, little = whole[label]["statement_count"], small[label]["statement_count"]
        run.check(f"{label}: as many statements for {run.sizes['small_team']} coaches as for "
                  f"{run.sizes['coaches']}", big == little, f"{run.sizes['coaches']} coaches: {big}, "
                  f"{run.sizes['small_team']} coaches: {little}")
        run.check(f"{label}: no statement while the template renders (no lazy loads)",
                  whole[label]["statements_during_render"] == 0, f"{whole[label]['statements_during_render']}")
    return {"whole": whole, "small": small}


# -- under load ------------------------------------------------------------------------------------------------------


def http_panel_login(server: Server) -> str:
    """Log in through the panel's form of a running server (over plain HTTP: the production cookie is Secure, so
    it is carried by hand); the session cookie's value."""
    import httpx

    def cookie(response) -> str | None:
        found = [c.split(";", 1)[0].split("=", 1)[1] for c in response.headers.get_list("set-cookie")
                 if c.startswith("session=")]
        return found[-1] if found else None

    with httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=30) as client:
        page = client.get(server.url("/admin/login"))
        client.cookies.clear()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        response = client.post(server.url("/admin/login"), headers={"Cookie": f"session={cookie(page)}"},
                               data={"csrf_token": token, "email": SUPERVISOR_EMAIL, "password": PASSWORD})
        client.cookies.clear()
        if response.status_code != 302 or cookie(response) is None:
            raise RuntimeError(f"panel login failed: {response.status_code} {response.text[:300]}")
        return cookie(response)


LUA = r"""
local threads = {}
wrk.headers["Cookie"] = "session=" .. os.getenv("BENCH_SESSION")
wrk.headers["User-Agent"] = os.getenv("BENCH_USER_AGENT")
ok, other, bytes, first_other = 0, 0, 0, 0
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body)
  if status == 200 then ok = ok + 1; bytes = bytes + #body
  else other = other + 1; if first_other == 0 then first_other = status end end
end
function done(s, lat, req)
  local n_ok, n_other, n_bytes, first = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    n_ok = n_ok + t:get("ok"); n_other = n_other + t:get("other"); n_bytes = n_bytes + t:get("bytes")
    if first == 0 then first = t:get("first_other") end
  end
  local e = s.errors
  io.write(string.format('BENCH_RESULT {"requests": %d, "seconds": %f, "errors": %d, "ok_200": %d, ' ..
    '"not_200": %d, "first_not_200": %d, "bytes_200": %d, "mean_ms": %f, "stdev_ms": %f, "p50_ms": %f, ' ..
    '"p75_ms": %f, "p90_ms": %f, "p95_ms": %f, "p99_ms": %f, "p999_ms": %f, "max_ms": %f}\n', s.requests,
    s.duration / 1e6, e.connect + e.read + e.write + e.timeout, n_ok, n_other, first, n_bytes, lat.mean / 1e3,
    lat.stdev / 1e3, lat:percentile(50) / 1e3, lat:percentile(75) / 1e3, lat:percentile(90) / 1e3,
    lat:percentile(95) / 1e3, lat:percentile(99) / 1e3, lat:percentile(99.9) / 1e3, lat.max / 1e3))
end
"""


def run_wrk(url: str, seconds: int, load: LoadSettings, session: str) -> dict:
    """One closed-loop wrk run with the session cookie; requests, latency distribution, answers that were not 200."""
    env = dict(os.environ, BENCH_SESSION=session, BENCH_USER_AGENT=USER_AGENT)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(LUA)
        lua.flush()
        done = subprocess.run(["wrk", f"-t{load.wrk_threads}", f"-c{load.connections}", f"-d{seconds}s", "--timeout",
                               "60s", "-s", lua.name, url], env=env, capture_output=True, text=True, check=False)
    match = re.search(r"^BENCH_RESULT (\{.*\})$", done.stdout, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = json.loads(match.group(1))
    return result | {"rps": result["requests"] / result["seconds"]}


def processes() -> dict[int, tuple[float, int, str]]:
    """Every process: (own CPU seconds, parent pid, a short label)."""
    found = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, ValueError, IndexError):
            raw = Path(f"/proc/{entry}/stat").read_text()
            comm, fields = raw[raw.index("(") + 1: raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
            args = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            backend = re.match(r"postgres: (?:[^:\s]+: )?\S+ (\S+) \S+\(\d+\)", args)  # (cluster:) user db host(port)
            if comm == "postgres":
                label = f"postgres backends of {backend.group(1)}" if backend else "postgres (server processes)"
            else:
                label = re.sub(r"\S*/", "", args)[:70] or comm
            found[int(entry)] = (sum(int(f) for f in fields[11:13]) / TICKS, int(fields[1]), label)
    return found


def machine_jiffies() -> tuple[float, float]:
    """Busy and total CPU seconds of the machine so far."""
    jiffies = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(jiffies) - jiffies[3] - jiffies[4]) / TICKS, sum(jiffies) / TICKS


def measure_page(url: str, load: LoadSettings, server: Server, session: str, database: str) -> dict:
    """A warm-up, then a measured wrk run; CPU per request by process group, the machine's busy share, what else
    ran (the busiest other processes) and the load average."""
    if load.warmup:
        run_wrk(url, load.warmup, load, session)
    loadavg_before = Path("/proc/loadavg").read_text().split()[:3]
    before, busy_before, own_before = processes(), machine_jiffies(), os.times()
    result = run_wrk(url, load.duration, load, session)
    after, busy_after, own_after = processes(), machine_jiffies(), os.times()
    capacity = (busy_after[1] - busy_before[1]) or 1.0
    used: Counter = Counter()
    others: Counter = Counter()
    for pid, (seconds, ppid, label) in after.items():
        if pid not in before or pid == os.getpid():
            continue
        delta = seconds - before[pid][0]
        if pid == server.proc.pid or ppid == server.proc.pid:
            used["gunicorn"] += delta
        elif label == f"postgres backends of {database}":
            used["postgres (this database)"] += delta
        else:
            others[label] += delta
    used["load generator"] = own_after.children_user + own_after.children_system - own_before.children_user \
        - own_before.children_system
    used["benchmark script"] = own_after.user + own_after.system - own_before.user - own_before.system
    busy = busy_after[0] - busy_before[0]
    result |= {"cpu_ms": {k: v * 1000 / max(1, result["requests"]) for k, v in used.items()},
               "busy": busy / capacity, "other": max(0.0, busy - sum(used.values())) / capacity,
               "other_processes": [[label, s / capacity] for label, s in others.most_common(5) if s > 0],
               "loadavg": [loadavg_before, Path("/proc/loadavg").read_text().split()[:3]]}
    log(f"GET {url}: {result['rps']:,.1f} req/s, p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, "
        f"p99 {result['p99_ms']:.0f} ms, {result['not_200']} not 200, {result['errors']} errors; machine "
        f"{result['busy']:.0%} busy, other processes {result['other']:.0%}")
    return result


def under_load(run: ScenarioRun, pages: dict[str, str]) -> dict:
    """gunicorn with the app, one panel login, each page under wrk."""
    server = start_gunicorn("backend:create_app()", app_env(run.database, redis=False), run.load, run.workdir,
                            "/healthz")
    try:
        session = http_panel_login(server)
        results = {label: measure_page(server.url(path), run.load, server, session, run.database.name)
                   for label, path in pages.items()}
    finally:
        stop_process(server.proc)
    for label, r in results.items():
        run.check(f"{label} under load: every answer a 200 (no redirect to the login, no error)",
                  r["errors"] == 0 and r["not_200"] == 0 and r["ok_200"] > 0,
                  f"{r['ok_200']:,} x 200, {r['not_200']} other (first {r['first_not_200']}), {r['errors']} errors")
    return results


# -- the scenario ----------------------------------------------------------------------------------------------------


def main(run: ScenarioRun) -> dict:
    """Load, pick the coach, in-process anatomy and team-size comparison, then (full run) gunicorn and wrk."""
    from backend.audit.models import AuditEvent
    from backend.caseload.models import Assignment, CaseloadSnapshot
    from backend.contacts.models import Contact
    from backend.patients.models import Patient
    from backend.shifts.models import Shift
    from backend.tasks.models import Task
    from backend.users.models import User
    from backend.wellness.models import SupervisionSession, WellnessCheckIn

    engine = sa.create_engine(run.database.url)
    started = time.monotonic()
    with engine.begin() as conn:
        people = load_panel_data(conn, run.sizes)
    analyze(engine)
    log(f"loaded in {time.monotonic() - started:.0f} s")
    with engine.connect() as conn:
        coach = pick_coach(conn, SUPERVISOR_ID)
        now = datetime.now(UTC)
        open_tasks, overdue = conn.execute(sa.select(sa.func.count(), sa.func.count().filter(Task.due_at < now))
                                           .where(Task.status == "open")).one()
        statuses = dict(conn.execute(sa.select(Patient.status, sa.func.count()).group_by(Patient.status)).all())
        acuities = dict(conn.execute(sa.select(Patient.acuity, sa.func.count()).group_by(Patient.acuity)).all())
        counts = row_counts(conn, User, Patient, Contact, Task, Shift, SupervisionSession, WellnessCheckIn,
                            Assignment, CaseloadSnapshot)
    log(f"coach page of coach id {coach['coach_id']} ({coach['open_patients']} open patients, "
        f"{coach['open_tasks']} open tasks, {coach['overdue_tasks']} overdue)")
    pages = {"team": TEAM_PATH, "coach": COACH_PATH.format(coach["coach_id"]),
             "coach, 90 days": COACH_PATH.format(coach["coach_id"]) + "?days=90"}
    result = {"coach": coach, "pages": pages, "supervisors": len(people["supervisors"]),
              "coaches_of_supervisor": sum(1 for s in people["supervisor_of"].values() if s == SUPERVISOR_ID),
              "tasks": {"open": open_tasks, "overdue": overdue}, "mix": {
                  "statuses": {str(k): v for k, v in statuses.items()},
                  "acuities": {str(k): v for k, v in acuities.items()}},
              "in_process": in_process(run, pages, coach), "goal_ms": GOAL_MS}
    if not run.quick:
        result["load_results"] = under_load(run, pages)
        for label, r in result["load_results"].items():
            log(f"{label}: p95 {r['p95_ms']:.0f} ms (goal < {GOAL_MS} ms: "
                f"{'met' if meets(r, GOAL_MS) else 'NOT met'})")
    with engine.connect() as conn:
        result["rows"] = counts | row_counts(conn, AuditEvent)
    result["machine"] = machine_facts(engine)
    engine.dispose()
    return result


# -- docs/PERFORMANCE.md ---------------------------------------------------------------------------------------------


def meets(x: dict, goal: float) -> bool:
    """Whether a wrk run met the goal: answers, all of them 200, none over the timeout, p95 under the goal."""
    return x["ok_200"] > 0 and x["not_200"] == 0 and x["errors"] == 0 and x["p95_ms"] < goal


def short(statement: str, width: int = 100) -> str:
    """A statement on one line, cut to `width`."""
    text = " ".join(statement.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def panel_section(r: dict) -> list[str]:
    """The generated block of the "Supervision panel (panel issue)" section."""
    from benchmarks.render import table

    m, pg, s, load, n = r["machine"], r["machine"].get("pg_settings", {}), r["sizes"], r["load"], r["rows"]
    ip, c, goal = r["in_process"], r["coach"], r["goal_ms"]
    labels = {"team": "`GET /admin/team`", "coach": "`GET /admin/coaches/<id>`",
              "coach, 90 days": "`GET /admin/coaches/<id>?days=90`"}
    lines = [f"Measured {r['started_at']} by `benchmarks/panel.py`. Reproduce from the project root with:", "",
             "```sh", r["command"], "```", "",
             "(`--keep-database` keeps `bridgeline_bench_panel`; `--render` rewrites this block from "
             "benchmarks/results/panel.json; `--help` lists the flags.)", "", "**Machine**", "",
             f"- nproc: {m['nproc']}; CPU: {m['cpu']}; RAM: {m['ram']}; kernel {m['kernel']}; Python {m['python']}",
             f"- PostgreSQL {m.get('postgresql')} on 127.0.0.1 (shared_buffers={pg.get('shared_buffers')} x 8 kB, "
             f"synchronous_commit={pg.get('synchronous_commit')}, fsync={pg.get('fsync')}); no Redis",
             f"- wrk, gunicorn and PostgreSQL share the same {m['nproc']} cores, and during this run **so did other "
             "work** (see \"machine busy\" and \"other processes\" below): the latencies are those of a shared, "
             "loaded machine, not of a quiet one", "",
             "**Data** (synthetic, inserted through the models' tables, then VACUUM ANALYZE)", "",
             f"- 1 programme, {s['coaches']} coaches under {r['supervisors']} supervisors "
             f"({r['coaches_of_supervisor']} each; the benchmark logs in as supervisor 1), "
             f"{n['patients']:,} patients: " + ", ".join(
                 f"{k} {r['mix']['statuses'].get(k, 0) / n['patients']:.0%}" for k in STATUS_ORDER)
             + "; acuity " + ", ".join(f"{k} {r['mix']['acuities'].get(k, 0) / n['patients']:.0%}"
                                       for k in ("low", "standard", "high")),
             f"- {n['contacts']:,} contacts ({s['recent_contacts']:,} in the last 14 days), {n['tasks']:,} tasks "
             f"({r['tasks']['open']:,} open, {r['tasks']['overdue']:,} of them overdue; those more than a day "
             f"overdue escalated with a review task), {n['shifts']:,} shifts, {n['supervision_sessions']:,} "
             f"supervision sessions, {n['wellness_check_ins']:,} wellness check-ins, {n['assignments']:,} "
             f"assignments, {n['caseload_snapshots']:,} daily caseload snapshots ({s['snapshot_days']} days per "
             f"coach); database size {m.get('db_size')} ({n['audit_events']:,} audit events written by the run); "
             f"schema at migration {m['migration']}",
             f"- Coach page of coach id {c['coach_id']}, one of supervisor 1's own coaches (check-ins shown) with the "
             f"median caseload of that team: {c['open_patients']} open patients, {c['open_tasks']} open tasks "
             f"({c['overdue_tasks']} overdue)", "", "**Server and load**", "",
             f"- `gunicorn -w {load['workers']} -b 127.0.0.1:PORT 'backend:create_app()'` (sync workers), "
             "BRIDGELINE_ENV=production, LOG_LEVEL=WARNING, no REDIS_URL",
             "- One login through `POST /admin/login` (the CSRF token from the login page; e-mail and password, no "
             "second factor: the programme does not require one of supervisors); every wrk connection sends that "
             "session cookie and the login's User-Agent",
             f"- wrk ({load['wrk_threads']} threads), **{load['connections']} concurrent connections**, "
             f"{load['warmup']} s warm-up then {load['duration']} s measured per page, loopback only; every answer "
             "checked to be a 200", ""]
    if r.get("load_results"):
        rows, cpu = [], []
        for label, x in r["load_results"].items():
            rows.append([labels[label], f"{x['rps']:,.1f}", *(f"{x[k]:.0f}" for k in (
                "p50_ms", "p75_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")), f"{x['not_200']} / {x['errors']}",
                f"{x['requests']:,}", f"{x['bytes_200'] / max(1, x['ok_200']) / 1024:.0f}",
                "yes" if meets(x, goal) else "**no**"])
            app_cpu = x["cpu_ms"].get("gunicorn", 0.0) + x["cpu_ms"].get("postgres (this database)", 0.0)
            cpu.append([labels[label], *(f"{x['cpu_ms'].get(k, 0.0):.0f}" for k in (
                "gunicorn", "postgres (this database)", "load generator")), f"{app_cpu:.0f}",
                f"{app_cpu * load['connections'] / m['nproc']:.0f}", f"{x['busy']:.0%}", f"{x['other']:.0%}",
                " / ".join(x["loadavg"][0]) + " → " + " / ".join(x["loadavg"][1]),
                "; ".join(f"{label_} {share:.0%}" for label_, share in x["other_processes"][:3])])
        lines += ["**Figures** (latency in ms, as wrk saw it)", "",
                  table(["Page", "req/s", "p50", "p75", "p90", "p95", "p99", "max", "not 200 / errors", "requests",
                         "KB", f"p95 < {goal} ms"], rows, "lrrrrrrrrrrc"), "",
                  "**CPU** (ms of CPU per request by process during the measured run: CPU in the window over the "
                  "requests completed in it, so rough when few complete; \"floor\": the mean latency "
                  f"{load['connections']} closed-loop clients would see on {m['nproc']} otherwise idle cores if "
                  "the page is CPU-bound, clients x CPU per request / cores (Little's law); machine busy: both "
                  "cores; other processes: CPU used by work outside this benchmark)", "",
                  table(["Page", "gunicorn", "postgres", "wrk", "app + db", f"floor at {load['connections']} "
                         "clients", "machine busy", "other processes", "load average (1/5/15 min) before → after",
                         "busiest other processes (share of the machine)"], cpu, "lrrrrrrrll"), "",
                  f"**Goal** (p95 < {goal} ms at {load['connections']} clients, every answer a 200)", "",
                  *(f"- {labels[label]}: p95 {x['p95_ms']:.0f} ms ({'met' if meets(x, goal) else 'NOT met'}"
                    + (f"; {x['errors']} requests over wrk's 60 s timeout" if x["errors"] else "") + ")"
                    for label, x in r["load_results"].items()), ""]
    anatomy = []
    for label, x in ip["whole"].items():
        small = ip["small"][label]
        rows_big = sum(st["rows"] or 0 for st in x["statements"])
        rows_small = sum(st["rows"] or 0 for st in small["statements"])
        ms = x["mean_ms"]
        anatomy.append([labels[label], x["statement_count"], small["statement_count"], f"{rows_big:,}",
                        f"{rows_small:,}", f"{ms['wall']:.0f}", f"{ms['cpu']:.0f}", f"{ms['sql']:.0f}",
                        f"{ms['render']:.0f}", f"{ms['other']:.0f}",
                        f"{small['mean_ms']['wall']:.0f} / {small['mean_ms']['cpu']:.0f}",
                        f"{x['bytes'] / 1024:.0f}"])
    lines += [f"**In-process** (Flask's test client, one request at a time, mean of {s['profile_rounds']}; ms: "
              "wall time, which on this shared machine includes waiting for a core; Python CPU ms: this process's "
              "CPU time; SQL: time in cursor execute, PostgreSQL's work included; \"Python (rest)\": wall minus SQL "
              f"minus template; \"{s['small_team']} coaches\": the other coaches deactivated and their snapshots "
              "moved out of the window, then restored)", "",
              table(["Page", f"statements, {s['coaches']} coaches", f"statements, {s['small_team']} coaches",
                     f"rows fetched, {s['coaches']}", f"rows fetched, {s['small_team']}", "ms", "Python CPU ms",
                     "of which SQL", "template", "Python (rest)", f"ms / CPU ms, {s['small_team']} coaches", "KB"],
                    anatomy, "lrrrrrrrrrrr"),
              "", "**Where one request's time goes** (cProfile, cumulative ms, parts nest; the profiler slows it "
              "down)", ""]
    for label, x in ip["whole"].items():
        parts = ", ".join(f"{k} {v:.0f}" for k, v in sorted(x["profile"]["parts"].items(), key=lambda kv: -kv[1]))
        lines.append(f"- {labels[label]}: {parts}")
    lines += ["", "**Slowest statements** (mean ms in-process, rows fetched; EXPLAIN ANALYZE execution ms)", ""]
    for label, x in ip["whole"].items():
        for i in x["slowest"]:
            st = x["statements"][i]
            lines.append(f"- {labels[label]}: {st['mean_ms']:.1f} ms, {st['rows'] if st['rows'] is not None else '?'}"
                         f" rows" + (f", EXPLAIN {st['explain_ms']:.1f} ms" if "explain_ms" in st else "")
                         + (f" (of which JIT compilation {st['jit_ms']:.1f} ms)" if st.get("jit_ms") else "")
                         + f": `{short(st['sql'])}`")
    lines += ["", "**Properties checked**", "",
              *(f"- {'held' if ch['ok'] else '**FAILED**'}: {ch['property']} ({ch['detail']})" for ch in r["checks"])]
    return lines


def render_docs(result_path: Path, docs: Path) -> None:
    """Replace this scenario's block of docs/PERFORMANCE.md (re-read just before writing)."""
    from benchmarks.render import replace_block

    result = json.loads(result_path.read_text())
    if result.get("quick"):
        log(f"{result_path}: a --quick result, the docs are left alone")
        return
    body = "\n".join(panel_section(result))
    text = docs.read_text()
    docs.write_text(replace_block(text, "panel", body))
    log(f"{docs}: panel block rendered from {os.path.relpath(result_path)}")


# -- command line ----------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.panel", description=__doc__.split("\n\n")[0])
    parser.add_argument("--render", action="store_true", help="only rewrite the docs block from the result file")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite the docs block after the run")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, in-process only, properties only")
    parser.add_argument("--database-url", default=LOCAL_SERVER, help="a PostgreSQL server (any database on it); "
                        f"the run creates {DATABASE_NAME} there and drops it at the end")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write panel.json")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    parser.add_argument("--size", action="append", default=[], metavar="KEY=N",
                        help=f"override a size: {', '.join(SIZES)}")
    parser.add_argument("--connections", type=int, default=CONNECTIONS, help="wrk connections (default 4)")
    parser.add_argument("--duration", type=int, default=15, help="measured seconds per page (default 15)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per page (default 3)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    args = parser.parse_args(argv)
    args.command = shlex.join([".venv/bin/python", "-m", "benchmarks.panel",
                               *(sys.argv[1:] if argv is None else argv)])
    return args


def cli(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.panel`: its own database, the run, benchmarks/results/panel.json, the docs block;
    1 when a property failed."""
    from backend.config import normalise_database_url

    args = parse_args(argv)
    result_path = args.results / "panel.json"
    if args.render:
        render_docs(result_path, args.docs)
        return 0
    sizes = dict(QUICK if args.quick else SIZES)
    for item in args.size:
        key, _, value = item.partition("=")
        if key not in SIZES:
            raise SystemExit(f"unknown --size {key}; the sizes are {', '.join(SIZES)}")
        sizes[key] = int(value)
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    workdir = Path(tempfile.mkdtemp(prefix="bridgeline-panel-"))
    database: Database = create_postgres_database(normalise_database_url(args.database_url), DATABASE_NAME)
    load = LoadSettings(connections=args.connections, duration=args.duration, warmup=args.warmup,
                        workers=args.workers, quiet_wait=0)
    log(f"panel: database {database.name}, sizes {sizes}")
    run = ScenarioRun(database, args.quick, sizes, load, workdir)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        migrate(database)
        result = main(run)
    finally:
        stop_processes()
        if not args.keep_database:
            drop_database(database)
            log(f"dropped database {database.name}")
        shutil.rmtree(workdir, ignore_errors=True)
    result = {"scenario": "panel", "started_at": started, "command": args.command, "quick": args.quick,
              "database": database.name, "sizes": sizes, "load": vars(load), **result, "checks": run.checks}
    args.results.mkdir(parents=True, exist_ok=True)
    result_path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    log(f"wrote {result_path}")
    if not args.no_docs and not args.quick:
        render_docs(result_path, args.docs)
    failed = [c for c in run.checks if not c["ok"]]
    for c in failed:
        print(f"FAILED panel: {c['property']}: {c['detail']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(cli())
