"""API throughput (foundation issue): the patients list and a timeline against a bare Flask app, under wrk.

Full run: the base data set (200 coaches, 20,000 patients, 200,000 contacts,
20,000 tasks), gunicorn serving the app once with Redis (token blocklist in
Redis, the production shape) and once without (blocklist in PostgreSQL), and
benchmarks/bare_app.py with the same settings; wrk at 32 connections drives
the bare endpoint, `GET /api/v1/patients?page_size=25` and a timeline as a
coach with ~100 patients. Goals: >= 40 % of the bare endpoint's throughput and
p95 < 50 ms. Properties (also --quick, in-process): the list sends as many SQL
statements for 5 rows as for 25, the timeline as many for a patient with few
contacts as for one with many; under wrk, no errors and no non-2xx answers.
"""

from __future__ import annotations

import sqlalchemy as sa

from benchmarks.data import BaseData, analyze, coach_email, load_base, row_counts
from benchmarks.harness import (
    ScenarioRun,
    app_env,
    bench_app,
    http_login,
    log,
    login_headers,
    machine_facts,
    measure,
    recorded_statements,
    start_gunicorn,
    stop_process,
)

SIZES = {"coaches": 200, "patients": 20_000, "contacts": 200_000, "tasks": 20_000}
QUICK = {"coaches": 3, "patients": 30, "contacts": 45, "tasks": 30}  # 1 or 2 contacts per patient
CONNECTIONS = 32
LIST_PATH = "/api/v1/patients?page_size={}"
TIMELINE_PATH = "/api/v1/patients/{}/timeline"


def pick_subjects(conn: sa.Connection) -> dict:
    """The coach whose caseload is nearest 100, and of their patients the fewest, median and most contacts."""
    from backend.contacts.models import Contact
    from backend.patients.models import Patient

    coach, patients = conn.execute(
        sa.select(Patient.coach_id, sa.func.count()).group_by(Patient.coach_id)
        .order_by(sa.func.abs(sa.func.count() - 100), Patient.coach_id).limit(1)).one()
    contacts = conn.execute(
        sa.select(Patient.id, sa.func.count(Contact.id)).outerjoin(Contact, Contact.patient_id == Patient.id)
        .where(Patient.coach_id == coach).group_by(Patient.id).order_by(sa.func.count(Contact.id), Patient.id)).all()
    return {"coach_id": coach, "coach_email": coach_email(coach - 1), "coach_patients": patients,
            "fewest": list(contacts[0]), "median": list(contacts[len(contacts) // 2]), "most": list(contacts[-1])}


def statement_checks(run: ScenarioRun, subjects: dict) -> dict[str, list[str]]:
    """In-process: SQL statements per request (list at two page sizes, timelines with few and many contacts)."""
    from backend.database import db

    app = bench_app(run.database)
    client = app.test_client()
    headers = login_headers(client, subjects["coach_email"])
    paths = {"list 5": LIST_PATH.format(5), "list 25": LIST_PATH.format(25),
             "timeline fewest": TIMELINE_PATH.format(subjects["fewest"][0]),
             "timeline most": TIMELINE_PATH.format(subjects["most"][0])}
    statements, refused = {}, []
    with app.app_context():
        engine = db.engine
    for label, path in paths.items():
        client.get(path, headers=headers)  # warm the statement caches
        with recorded_statements(engine) as captured:
            response = client.get(path, headers=headers)
        if response.status_code != 200 or not response.get_json():
            refused.append(f"{path}: {response.status_code}")
        statements[label] = [s for s, _p, _ms in captured]
    engine.dispose()
    run.check("the list and the timelines answer 200 with rows", not refused, ", ".join(refused) or "all did")
    counts = {label: len(s) for label, s in statements.items()}
    run.check("the list sends as many statements for 5 rows as for 25", counts["list 5"] == counts["list 25"],
              f"{counts['list 5']} and {counts['list 25']}")
    run.check("a timeline sends as many statements for few contacts as for many",
              counts["timeline fewest"] == counts["timeline most"],
              f"{counts['timeline fewest']} ({subjects['fewest'][1]} contacts) and {counts['timeline most']} "
              f"({subjects['most'][1]} contacts)")
    return {"list": statements["list 25"], "timeline": statements["timeline most"]}


def under_load(run: ScenarioRun, subjects: dict) -> list[dict]:
    """The bare app, then the app with and without Redis: bare endpoint, list and timeline under wrk."""
    load, env = run.load, app_env(run.database, redis=False)
    bare = start_gunicorn("benchmarks.bare_app:app", env, load, run.workdir, "/bare")
    modes = []
    try:
        for mode, redis in (("Redis", True), ("PostgreSQL", False)):
            api = start_gunicorn("backend:create_app()", app_env(run.database, redis), load, run.workdir, "/healthz")
            token = http_login(api, subjects["coach_email"])
            results = {"bare": measure(bare.url("/bare"), load, bare),
                       "list": measure(api.url(LIST_PATH.format(25)), load, api, token),
                       "timeline": measure(api.url(TIMELINE_PATH.format(subjects["median"][0])), load, api, token)}
            stop_process(api.proc)
            for key, r in results.items():
                run.check(f"{mode}: {key} under load answers without errors", r["errors"] + r["non_2xx"] == 0,
                          f"{r['errors']} errors, {r['non_2xx']} non-2xx of {r['requests']:,}")
            modes.append({"mode": mode, "results": results})
    finally:
        stop_process(bare.proc)
    return modes


def main(run: ScenarioRun) -> dict:
    """Load the base data, check the statement counts, then (full run) measure under wrk."""
    from backend.audit.models import AuditEvent
    from backend.contacts.models import Contact
    from backend.patients.models import Patient, PatientEvent
    from backend.tasks.models import Task
    from backend.users.models import User

    engine = sa.create_engine(run.database.url)
    with engine.begin() as conn:
        load_base(conn, BaseData(**run.sizes))
    analyze(engine)
    with engine.connect() as conn:
        subjects = pick_subjects(conn)
    log(f"coach {subjects['coach_email']} ({subjects['coach_patients']} patients); timelines of patients "
        f"(id, contacts) {subjects['fewest']}, {subjects['median']}, {subjects['most']}")
    result = {"subjects": subjects, "statements": statement_checks(run, subjects)}
    if not run.quick:
        result["modes"] = under_load(run, subjects)
    with engine.connect() as conn:
        result["rows"] = row_counts(conn, User, Patient, PatientEvent, Contact, Task, AuditEvent)
    result["machine"] = machine_facts(engine)
    engine.dispose()
    return result
