"""Partners (handoffs issue): the filtered service search, cached and computed, and the HSDS export.

Full run: a catalogue of 2,000 organisations and 8,000 services with coded
attributes and 30 days of capacity reports; gunicorn (Redis) as shipped
(answers cached until the catalogue changes) and with CATALOGUE_CACHE_SECONDS=0,
wrk at 16 connections, 3 runs each (the median run by p95 counts), and
`GET /api/v1/me` for scale; the export of the whole catalogue in-process,
streamed (wall time, peak RSS, tracemalloc). Goal: p95 < 30 ms as shipped.
Properties (also --quick): a computed search sends as many SQL statements for
5 cards as for 100; a cached answer equals the computed one; the export holds
every organisation and service.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from benchmarks.data import (
    PROGRAM_ID,
    SUPERVISOR_ID,
    BaseData,
    analyze,
    coach_email,
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
    status_kb,
    stop_process,
)

SIZES = {"organizations": 2_000, "services": 8_000, "reports": 10, "repeat": 3}
QUICK = {"organizations": 10, "services": 40, "reports": 3, "repeat": 0}
CONNECTIONS = 16
SEARCH_PATH = "/api/v1/services?service_type=detox&payer=medicaid&language=es&has_capacity=true"
EVERY_PATH = "/api/v1/services?language=en&page_size={}"  # every service speaks English
EXPORT_PATH, FLOOR_PATH = "/api/v1/hsds/export", "/api/v1/me"
SERVICE_TYPES = (["detox"] * 3 + ["residential"] * 2 + ["intensive_outpatient"] * 2 + ["outpatient_moud"] * 3
                 + ["opioid_treatment_program", "psychiatric_inpatient", "faith_based_recovery", "recovery_housing"]
                 + ["harm_reduction", "counselling", "behavioral_health"] * 2)
PAYERS = ["medicaid"] * 6 + ["medicare"] * 3 + ["private"] * 4 + ["uninsured"] * 2 + ["sliding_scale"] * 2 \
    + ["va", "tricare", "state_funded", "state_funded"]
BEDS = {"detox", "residential", "psychiatric_inpatient", "recovery_housing"}


def load_catalogue(conn: sa.Connection, sizes: dict, seed: int = 20261124) -> None:
    """Organisations (a location, one or two point people), services with coded attributes, capacity history."""
    from backend.partners.models import (
        CapacityReport,
        CatalogueVersion,
        Location,
        Organization,
        PartnerContact,
        Service,
        ServiceAttribute,
    )

    rng, now = random.Random(seed), datetime.now(UTC).replace(microsecond=0)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    orgs = [{"id": new_id(), "program_id": PROGRAM_ID, "name": f"{rng.choice(['Hope', 'Bridge', 'Harbor', 'Unity'])} "
             f"{rng.choice(['Recovery', 'Health', 'Community'])} Center {n + 1}", "phone": f"+1312555{n % 10000:04d}",
             "email": f"intake{n + 1}@partner.test", "website": f"https://partner{n + 1}.test",
             "last_verified_at": now - timedelta(days=rng.randint(0, 200))} for n in range(sizes["organizations"])]
    locations = [{"id": new_id(), "organization_id": o["id"], "name": "Main site", "address_1": "100 Halsted St",
                  "city": rng.choice(["Chicago", "Evanston", "Oak Park"]), "state_province": "IL",
                  "postal_code": f"60{rng.randint(600, 699)}"} for o in orgs]
    insert_rows(conn, Organization, orgs)
    insert_rows(conn, Location, locations)
    insert_rows(conn, PartnerContact, ({"id": new_id(), "organization_id": o["id"], "name": "Intake desk",
                                        "title": "Intake coordinator", "phone": o["phone"]}
                                       for o in orgs for _ in range(rng.randint(1, 2))))
    services, attributes, reports = [], [], []
    for n in range(sizes["services"]):
        sid, at = new_id(), n % len(orgs)
        types = sorted({rng.choice(SERVICE_TYPES) for _ in range(1 + (rng.random() < 0.3))})
        codes = {("service_type", t) for t in types} | {("payer", p) for p in rng.sample(PAYERS, rng.randint(1, 4))}
        codes |= {("language", "en")} | ({("language", "es")} if rng.random() < 0.35 else set())
        if set(types) & {"outpatient_moud", "opioid_treatment_program", "detox"} or rng.random() < 0.15:
            codes |= {("moud", m) for m in rng.sample(["buprenorphine", "methadone", "naltrexone"], rng.randint(1, 2))}
        attributes += [{"service_id": sid, "kind": kind, "value": value} for kind, value in sorted(codes)]
        services.append({"id": sid, "program_id": PROGRAM_ID, "organization_id": orgs[at]["id"],
                         "location_id": locations[at]["id"], "name": f"{types[0].replace('_', ' ').title()} {n + 1}",
                         "walk_in": rng.random() < 0.3, "minimum_age": 18 if rng.random() < 0.7 else None,
                         "last_verified_at": now - timedelta(days=rng.randint(0, 120))})
        fresh, maximum = rng.random() < 0.35, rng.choice([10, 20, 30])
        for k in range(sizes["reports"]):  # the last one is the latest: fresh (< 24 h) or days old
            latest = k == sizes["reports"] - 1
            age = (timedelta(minutes=rng.randint(5, 1380)) if fresh else timedelta(hours=rng.randint(25, 120))) \
                if latest else timedelta(days=30 * (sizes["reports"] - k) / sizes["reports"])
            free = (rng.randint(1, maximum) if rng.random() < 0.6 else 0) if fresh else rng.randint(0, 2)
            reports.append({"id": new_id(), "service_id": sid, "unit": "bed" if types[0] in BEDS else "slot",
                            "available": free if latest else rng.randint(0, maximum), "maximum": maximum,
                            "reported_by_id": SUPERVISOR_ID + 1, "reported_at": now - age})
    insert_rows(conn, Service, services)
    insert_rows(conn, ServiceAttribute, attributes)
    insert_rows(conn, CapacityReport, reports)
    latest = sa.select(CapacityReport.id).where(CapacityReport.service_id == Service.id).order_by(
        CapacityReport.reported_at.desc(), CapacityReport.id.desc()).limit(1).scalar_subquery()
    conn.execute(Service.__table__.update().values(latest_capacity_id=latest))  # what report_capacity keeps
    insert_rows(conn, CatalogueVersion, [{"program_id": PROGRAM_ID, "token": uuid.uuid4().hex, "changed_at": now}])


def search_checks(run: ScenarioRun) -> dict:
    """In-process: statements of a computed search at three page sizes and of a cache hit; cached == computed."""
    from backend.database import db

    computed, cached = bench_app(run.database, CATALOGUE_CACHE_SECONDS=0), bench_app(run.database)
    clients = {app: (app.test_client(), login_headers(app.test_client(), coach_email(1))) for app in (computed,
                                                                                                     cached)}

    def get(app, path: str) -> tuple[object, list]:
        client, headers = clients[app]
        with app.app_context():
            engine = db.engine
        with recorded_statements(engine) as captured:
            response = client.get(path, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        return response, captured

    counts = {size: len(get(computed, EVERY_PATH.format(size))[1]) for size in (5, 25, 100)}
    run.check("a computed search sends as many statements for 5 cards as for 25 and 100",
              len(set(counts.values())) == 1, f"statements by page size: {counts}")
    for path in (SEARCH_PATH, EVERY_PATH.format(25)):
        answer = get(computed, path)[0].get_json()
        get(cached, path)  # fills the cache
        hit, hit_sql = get(cached, path)
        run.check(f"a cached answer equals the computed one ({path})", hit.get_json() == answer,
                  f"{len(answer)} cards computed, {len(hit.get_json())} from the cache ({len(hit_sql)} statements)")
    response, captured = get(computed, SEARCH_PATH)
    out = {"rows": len(response.get_json()), "total": json.loads(response.headers["X-Pagination"])["total"],
           "computed_sql": [s for s, _p, _ms in captured], "hit_sql": [s for s, _p, _ms in get(cached, SEARCH_PATH)[1]]}
    page = next((c for c in captured if "LIMIT" in c[0] and "services" in c[0]), None)
    if run.database.is_postgres and page:
        with computed.app_context():
            out["explain"], out["page_exec_ms"] = explain(db.engine, page[0], page[1])
    rounds = 3 if run.quick else 20
    for name, app in (("computed", computed), ("cached", cached)):
        started, (client, headers) = time.perf_counter(), clients[app]
        for _ in range(rounds):
            client.get(SEARCH_PATH, headers=headers)
        out[f"{name}_ms"] = (time.perf_counter() - started) * 1000 / rounds
    return out


def export_check(run: ScenarioRun, services: int, organizations: int) -> dict:
    """The whole catalogue as HSDS, streamed in-process: every organisation and service; time and memory."""
    from backend.database import db

    app = bench_app(run.database)
    client, out = app.test_client(), {}
    headers = login_headers(client, coach_email(1))
    with app.app_context():
        engine = db.engine

    def stream() -> tuple[int, int]:  # as a server sends it: chunk by chunk, nothing kept
        response = client.get(EXPORT_PATH, headers=headers, buffered=False)
        size = sum(len(chunk) for chunk in response.response)
        response.close()
        return response.status_code, size

    gc.collect()
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets the peak RSS (VmHWM)
    out["rss_before_mb"] = status_kb(os.getpid()) / 1024
    with recorded_statements(engine) as captured:
        started = time.perf_counter()
        out["status"], out["bytes"] = stream()
        out["wall_s"] = time.perf_counter() - started
    out |= {"hwm_mb": status_kb(os.getpid(), "VmHWM") / 1024, "rss_after_mb": status_kb(os.getpid()) / 1024,
            "statements": len(captured), "sql_s": sum(ms for _s, _p, ms in captured) / 1000}
    if not run.quick:
        tracemalloc.start()
        started = time.perf_counter()
        stream()
        out["traced_wall_s"] = time.perf_counter() - started
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        tracemalloc.stop()
    document = client.get(EXPORT_PATH, headers=headers).get_json()
    out["organizations"], out["services"] = len(document["organizations"]), len(document["services"])
    run.check("the HSDS export holds every organisation and service",
              out["status"] == 200 and (out["organizations"], out["services"]) == (organizations, services),
              f"status {out['status']}; {out['organizations']} of {organizations} organisations, "
              f"{out['services']} of {services} services")
    return out


def under_load(run: ScenarioRun) -> dict:
    """The search as shipped and computed every time, and `GET /api/v1/me`, under wrk (the median run by p95)."""
    out = {}
    for mode, seconds in (("cached", 30), ("computed", 0)):
        api = start_gunicorn("backend:create_app()", app_env(run.database, True, CATALOGUE_CACHE_SECONDS=str(seconds)),
                             run.load, run.workdir, "/healthz")
        token = http_login(api, coach_email(1))
        for name, path in ((mode, SEARCH_PATH), *((("floor", FLOOR_PATH),) if mode == "cached" else ())):
            runs = sorted((measure(api.url(path), run.load, api, token) for _ in range(run.sizes["repeat"])),
                          key=lambda r: r["p95_ms"])
            out[name] = runs[len(runs) // 2] | {"p95_runs": [r["p95_ms"] for r in runs]}
            run.check(f"{name}: {path} under load answers without errors", all(
                r["errors"] + r["non_2xx"] == 0 for r in runs), "errors / non-2xx per run: " + ", ".join(
                f"{r['errors']} / {r['non_2xx']}" for r in runs))
        stop_process(api.proc)
    return out


def main(run: ScenarioRun) -> dict:
    """Load one coach and the catalogue, check the search and export, then (full run) measure under wrk."""
    from backend.partners.models import (
        CapacityReport,
        Location,
        Organization,
        PartnerContact,
        Service,
        ServiceAttribute,
    )

    engine = sa.create_engine(run.database.url)
    with engine.begin() as conn:
        load_base(conn, BaseData(coaches=1, patients=1, seed=20261124))
        load_catalogue(conn, run.sizes)
    analyze(engine)
    with engine.connect() as conn:
        rows = row_counts(conn, Organization, Location, PartnerContact, Service, ServiceAttribute, CapacityReport)
        share = {f"{kind}={value}": conn.scalar(sa.select(sa.func.count()).where(
            ServiceAttribute.kind == kind, ServiceAttribute.value == value)) / max(1, rows["services"])
            for kind, value in (("service_type", "detox"), ("payer", "medicaid"), ("language", "es"))}
        share["fresh with room"] = conn.scalar(sa.select(sa.func.count()).select_from(Service).join(
            CapacityReport, CapacityReport.id == Service.latest_capacity_id).where(
            CapacityReport.reported_at >= datetime.now(UTC) - timedelta(hours=24), CapacityReport.available > 0)) \
            / max(1, rows["services"])
    result = {"rows": rows, "mix": share, "search": search_checks(run),
              "export": export_check(run, rows["services"], rows["organizations"])}
    log(f"catalogue {rows}; search {len(result['search']['computed_sql'])} statements computed, "
        f"{len(result['search']['hit_sql'])} from the cache")
    if not run.quick:
        result["wrk"] = under_load(run)
    result["machine"] = machine_facts(engine)
    engine.dispose()
    return result
