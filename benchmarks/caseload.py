"""Caseloads (caseload issue): the supervisor's team view and automatic assignment of ED referrals.

Full run: the base data set with a realistic status mix (about a third open),
a caseload policy (default cap 40), 50 coaches on shift with room, shifts,
contacts in the last 14 days, supervision sessions, wellness check-ins and
recent assignments; wrk at 16 connections on `GET /api/v1/team/caseloads` and
`POST /api/v1/patients` (an ED referral without a coach). Properties (also
--quick, where two threads post referrals beyond the on-shift coaches' room):
the team view sends as many SQL statements for a small team as for the whole
one; automatic assignment never takes a coach over their cap; every referral
is either assigned or left waiting with a review task for a supervisor.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from benchmarks.data import (
    PROGRAM_ID,
    SUPERVISOR_EMAIL,
    SUPERVISOR_ID,
    BaseData,
    analyze,
    insert_rows,
    load_base,
    row_counts,
)
from benchmarks.harness import (
    ScenarioRun,
    app_env,
    bench_app,
    explain,
    http_login,
    log,
    login_headers,
    machine_facts,
    measure,
    recorded_statements,
    start_gunicorn,
    stop_process,
)

SIZES = {"coaches": 200, "patients": 20_000, "contacts": 200_000, "recent_contacts": 20_000, "tasks": 20_000,
         "on_shift": 50, "on_shift_cap": 100, "small_team": 20, "referrals": 0}
QUICK = {"coaches": 8, "patients": 80, "contacts": 80, "recent_contacts": 100, "tasks": 40, "on_shift": 3,
         "on_shift_cap": 8, "small_team": 4, "referrals": 24}
CONNECTIONS = 16
STATUSES = ["referred"] * 5 + ["engaged"] * 8 + ["active"] * 12 + ["linked"] * 10 + ["closed"] * 50 + ["declined"] * 15
ACUITIES = ["low"] * 3 + ["standard"] * 5 + ["high"] * 2
ACTIVE = ("referred", "engaged", "active", "linked")
TEAM_PATH, CREATE_PATH = "/api/v1/team/caseloads", "/api/v1/patients"
REFERRAL = {"first_name": "Bench", "last_name": "Mark", "source": "ed"}  # no coach: automatic assignment


def load_caseload_data(conn: sa.Connection, sizes: dict, seed: int = 7) -> None:
    """Policy, on-shift coaches, 14 days of shifts and contacts, supervision, check-ins, recent assignments."""
    from backend.caseload.models import Assignment
    from backend.contacts.models import Contact
    from backend.patients.models import Patient
    from backend.programs.models import CaseloadPolicy
    from backend.shifts.models import Shift
    from backend.users.models import User
    from backend.wellness.models import SupervisionSession, WellnessCheckIn

    rng, users = random.Random(seed), User.__table__
    now = datetime.now(UTC).replace(microsecond=0)
    coaches = list(conn.scalars(sa.select(users.c.id).where(users.c.role == "coach").order_by(users.c.id)))
    on_shift = set(coaches[::max(1, len(coaches) // sizes["on_shift"])][:sizes["on_shift"]])
    insert_rows(conn, CaseloadPolicy, [{"program_id": PROGRAM_ID, "default_cap": 40}])
    conn.execute(users.update().where(users.c.id.in_(on_shift)).values(on_shift=True,
                                                                        caseload_cap=sizes["on_shift_cap"]))
    part_time = [c for c in coaches if c not in on_shift and rng.random() < 0.1]
    conn.execute(users.update().where(users.c.id.in_(part_time)).values(caseload_cap=30))
    # Five working days a week (a tenth never off); the 14 days end with the last finished 08:00 CST shift.
    workdays = {}
    for c in coaches:
        off = set() if rng.random() < 0.1 else {rng.randrange(7), rng.randrange(7)}
        workdays[c] = [d for d in range(14) if d % 7 not in off]
    day0 = now.replace(hour=14, minute=0, second=0)
    day0 -= timedelta(days=1) if day0 + timedelta(hours=9) > now else timedelta()
    insert_rows(conn, Shift, [
        *({"program_id": PROGRAM_ID, "coach_id": c, "started_at": day0 - timedelta(days=d),
           "ended_at": day0 - timedelta(days=d) + timedelta(hours=9), "ended_reason": "ended"}
          for c in coaches for d in workdays[c]),
        *({"program_id": PROGRAM_ID, "coach_id": c, "started_at": now - timedelta(hours=rng.randint(1, 6)),
           "ended_at": None, "ended_reason": None} for c in sorted(on_shift))])
    open_patients: dict[int, list[int]] = {}
    for pid, coach in conn.execute(sa.select(Patient.id, Patient.coach_id).where(Patient.status.in_(ACTIVE))
                                   .order_by(Patient.id)):
        open_patients.setdefault(coach, []).append(pid)
    after_hours = {c: rng.choice([0.01, 0.02, 0.03, 0.05, 0.08, 0.15]) for c in coaches}

    def recent_contacts():
        with_patients = [c for c in coaches if open_patients.get(c)]
        for _ in range(sizes["recent_contacts"]):
            coach = rng.choice(with_patients)
            start = day0 - timedelta(days=rng.choice(workdays[coach] or [0]))
            at = start + (timedelta(hours=rng.choice([-3, -2, 10, 11, 12, 13]), minutes=rng.randint(0, 59))
                          if rng.random() < after_hours[coach] else timedelta(minutes=rng.randint(10, 530)))
            at = now - timedelta(minutes=rng.randint(1, 60)) if at > now else at
            kind = rng.choice(["phone"] * 5 + ["sms"] * 3 + ["in_person", "video"])
            yield {"program_id": PROGRAM_ID, "patient_id": rng.choice(open_patients[coach]), "coach_id": coach,
                   "kind": kind, "direction": "inbound" if rng.random() < 0.2 else "outbound", "occurred_at": at,
                   "duration_minutes": None if kind == "sms" else rng.randint(1, 60), "note": None, "created_at": at,
                   "outcome": "crisis" if rng.random() < 0.02 else rng.choice(["reached"] * 4 + ["no_answer"])}

    insert_rows(conn, Contact, recent_contacts())
    insert_rows(conn, SupervisionSession, (
        {"program_id": PROGRAM_ID, "coach_id": c, "supervisor_id": SUPERVISOR_ID, "held_at": held, "created_at": held,
         "duration_minutes": rng.choice([30, 45, 60]), "notes": "Synthetic supervision note.", "follow_ups": []}
        for c in coaches for last in [rng.randint(2, 60)] for k in range(rng.randint(1, 4))
        for held in [now - timedelta(days=last + 21 * k, hours=rng.randint(0, 8))]))
    insert_rows(conn, WellnessCheckIn, (
        {"program_id": PROGRAM_ID, "coach_id": c, "stress": rng.choice([1, 2, 2, 3, 3, 3, 4, 5]),
         "energy": rng.randint(1, 5), "wants_supervisor_contact": rng.random() < 0.05, "note": None,
         "created_at": now - timedelta(days=7 * week + rng.randint(0, 6), hours=rng.randint(0, 8))}
        for week in range(8, -1, -1) for c in coaches if rng.random() >= 0.2))
    insert_rows(conn, Assignment, (
        {"program_id": PROGRAM_ID, "patient_id": pid, "coach_id": c, "previous_coach_id": None, "load_before": 0,
         "assigned_by_id": SUPERVISOR_ID, "method": rng.choice(["automatic", "manual"]), "override_reason": None,
         "cap": 40, "created_at": now - timedelta(days=rng.randint(0, 13), hours=rng.randint(0, 23))}
        for c in coaches for mine in [open_patients.get(c, [])]
        for pid in mine[len(mine) - min(len(mine), rng.randint(0, 4)):]))


def on_shift_loads(app) -> dict[int, tuple[int, int]]:
    """(load, cap) in hundredths of each on-shift coach, by the app's own rules."""
    from backend.caseload.caps import cap_of
    from backend.caseload.policy import loads_for
    from backend.database import db
    from backend.programs.policies import policy_for
    from backend.users.models import User

    with app.app_context():
        coaches = list(db.session.scalars(sa.select(User).where(User.on_shift.is_(True), User.active.is_(True))))
        policy = policy_for(PROGRAM_ID)
        loads = loads_for([c.id for c in coaches], policy)
        db.session.remove()
    return {c.id: (loads[c.id][0], cap_of(c, policy) * 100) for c in coaches}


def team_size_checks(run: ScenarioRun, app) -> list[dict]:
    """In-process, whole team then a small one (others deactivated, then restored): statements of the team
    view and of one automatic assignment, and their mean time one request at a time."""
    from backend.database import db
    from backend.users.models import User

    client, rounds = app.test_client(), 3 if run.quick else 20
    headers = login_headers(client, SUPERVISOR_EMAIL)
    with app.app_context():
        engine = db.engine
    with engine.begin() as conn:
        team = conn.execute(sa.select(User.id, User.on_shift).where(User.role == "coach").order_by(User.id)).all()
    checks = []
    for size in (len(team), run.sizes["small_team"]):
        dropped = [cid for cid, _on in team[size:]]
        with engine.begin() as conn:
            conn.execute(User.__table__.update().where(User.id.in_(dropped)).values(active=False))
        try:
            client.get(TEAM_PATH, headers=headers)
            with recorded_statements(engine) as team_sql:
                rows = client.get(TEAM_PATH, headers=headers).get_json()
            started = time.perf_counter()
            for _ in range(rounds):
                client.get(TEAM_PATH, headers=headers)
            team_ms = (time.perf_counter() - started) * 1000 / rounds
            with recorded_statements(engine) as create_sql:
                started = time.perf_counter()
                client.post(CREATE_PATH, json=REFERRAL, headers=headers)
                create_ms = (time.perf_counter() - started) * 1000
        finally:
            with engine.begin() as conn:
                conn.execute(User.__table__.update().where(User.id.in_(dropped)).values(active=True))
        checks.append({"coaches": size, "on_shift": sum(on for _cid, on in team[:size]), "rows": len(rows),
                       "team_statements": [s for s, _p, _ms in team_sql], "team_ms": team_ms,
                       "team_explain_ms": [explain(engine, s, p)[1] if run.database.is_postgres and not dropped
                                           and s.startswith("SELECT") else 0.0 for s, p, _ms in team_sql],
                       "levels": Counter(r["level"] for r in rows),
                       "reasons": Counter(x["code"] for r in rows for x in r["reasons"]),
                       "create_statements": [s for s, _p, _ms in create_sql], "create_ms": create_ms})
    big, small = (len(c["team_statements"]) for c in checks)
    run.check("the team view sends as many statements for a small team as for the whole one", big == small,
              f"{checks[0]['coaches']} coaches: {big}, {checks[1]['coaches']} coaches: {small}")
    return checks


def post_referrals(run: ScenarioRun, count: int) -> None:
    """Two threads, each with its own app and connections, post `count` referrals between them."""
    errors: list[str] = []

    def poster(n: int) -> None:
        client = bench_app(run.database).test_client()
        headers = login_headers(client, SUPERVISOR_EMAIL)
        for _ in range(n):
            response = client.post(CREATE_PATH, json=REFERRAL, headers=headers)
            if response.status_code != 201:
                errors.append(f"{response.status_code} {response.get_data(as_text=True)[:200]}")

    threads = [threading.Thread(target=poster, args=(n,)) for n in (count // 2, count - count // 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    run.check("every referral is accepted (201)", not errors, f"{count - len(errors)} of {count}"
              + (f"; refused: {errors[:2]}" if errors else ""))


def referral_tally(conn: sa.Connection) -> dict[str, int]:
    """Patients the run created: with a coach, without, review tasks, automatic assignments, coaches used."""
    from backend.caseload.models import Assignment
    from backend.patients.models import Patient
    from backend.tasks.models import Task

    mine = sa.select(Patient.id).where(Patient.first_name == REFERRAL["first_name"])
    assigned, unassigned, coaches = conn.execute(sa.select(
        sa.func.count(Patient.coach_id), sa.func.count() - sa.func.count(Patient.coach_id),
        sa.func.count(sa.distinct(Patient.coach_id))).where(Patient.id.in_(mine))).one()
    return {"created": assigned + unassigned, "assigned": assigned, "unassigned": unassigned, "coaches_used": coaches,
            "automatic_assignments": conn.scalar(sa.select(sa.func.count()).where(
                Assignment.patient_id.in_(mine), Assignment.method == "automatic")),
            "review_tasks": conn.scalar(sa.select(sa.func.count()).where(Task.patient_id.in_(mine),
                                                                       Task.kind == "review"))}


def room(loads: dict[int, tuple[int, int]]) -> dict[str, float]:
    """Room left on the on-shift coaches, in load units."""
    left = [max(0, cap - load) / 100 for load, cap in loads.values()]
    return {"coaches": len(loads), "room": sum(left), "min_room": min(left, default=0.0),
            "mean_load": sum(load for load, _cap in loads.values()) / 100 / max(1, len(loads))}


def main(run: ScenarioRun) -> dict:
    """Load, check statement counts, post referrals (in-process or under wrk), check caps and the tally."""
    from backend.caseload.models import Assignment
    from backend.patients.models import Patient
    from backend.shifts.models import Shift
    from backend.tasks.models import Task
    from backend.wellness.models import SupervisionSession, WellnessCheckIn

    s, engine = run.sizes, sa.create_engine(run.database.url)
    with engine.begin() as conn:
        load_base(conn, BaseData(s["coaches"], s["patients"], s["contacts"], s["tasks"], seed=20261123,
                                 min_age_days=45, statuses=STATUSES, acuities=ACUITIES))
        load_caseload_data(conn, s)
    analyze(engine)
    with engine.connect() as conn:
        open_patients = conn.scalar(sa.select(sa.func.count()).where(Patient.status.in_(ACTIVE)))
    app = bench_app(run.database)
    before = on_shift_loads(app)
    result = {"open_patients": open_patients, "room_before": room(before),
              "team_size_checks": team_size_checks(run, app)}
    if run.quick:
        post_referrals(run, s["referrals"])
    else:
        api = start_gunicorn("backend:create_app()", app_env(run.database, redis=True), run.load, run.workdir,
                             "/healthz")
        token = http_login(api, SUPERVISOR_EMAIL)
        result["team"] = measure(api.url(TEAM_PATH), run.load, api, token)
        result["create"] = measure(api.url(CREATE_PATH), run.load, api, token, "POST", REFERRAL)
        stop_process(api.proc)  # requests still in flight when wrk stops finish first
    after = on_shift_loads(app)
    over = {cid: f"{load / 100:g} of {cap / 100:g}" for cid, (load, cap) in after.items()
            if load > cap and load != before[cid][0]}
    run.check("automatic assignment never takes a coach over their cap", not over,
              f"{len(after)} on-shift coaches, least room left {room(after)['min_room']:g} load units"
              + (f"; over the cap: {over}" if over else ""))
    with engine.connect() as conn:
        tally = referral_tally(conn)
        result["rows"] = row_counts(conn, Patient, Shift, SupervisionSession, WellnessCheckIn, Assignment, Task)
    log(f"referrals: {tally}")
    run.check("every referral is assigned, or waits unassigned with a review task",
              tally["created"] == tally["assigned"] + tally["unassigned"] == tally["automatic_assignments"]
              + tally["review_tasks"] and tally["unassigned"] == tally["review_tasks"], str(tally))
    if run.quick:
        run.check("referrals beyond the on-shift coaches' room were left unassigned", tally["unassigned"] > 0,
                  f"{tally['unassigned']} of {tally['created']} unassigned; room before "
                  f"{room(before)['room']:g} load units")
    result |= {"tally": tally, "room_after": room(after), "machine": machine_facts(engine),
               "mix": {"statuses": dict(Counter(STATUSES)), "acuities": dict(Counter(ACUITIES))}}
    engine.dispose()
    return result
