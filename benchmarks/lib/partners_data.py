"""Synthetic partner catalogue for benchmarks/partners.py, bulk-loaded with COPY.

Organisations (one location and one or two point people each), services spread
evenly over them (UUID ids), coded attributes (service types, payers, MOUD,
languages) with realistic weights, ages, walk-in / same-day flags, and a
capacity history per service over the last 30 days, some of it fresh (within
24 h) with free capacity.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from benchmarks.lib.common import dsn
from benchmarks.lib.database import AREA_CODES, LAST_NAMES, PROGRAM_ID, SUPERVISOR_ID, copy_rows

# Weighted lists (sampled uniformly, so repeats weight a value).
SERVICE_TYPES = (["detox"] * 3 + ["residential"] * 2 + ["intensive_outpatient"] * 2 + ["outpatient_moud"] * 3
                 + ["opioid_treatment_program", "harm_reduction", "harm_reduction", "counselling", "counselling",
                    "behavioral_health", "behavioral_health", "psychiatric_inpatient", "faith_based_recovery",
                    "recovery_housing"])
PAYERS = ["medicaid"] * 6 + ["medicare"] * 3 + ["private"] * 4 + ["uninsured"] * 2 + ["sliding_scale"] * 2 \
    + ["va", "tricare", "state_funded", "state_funded"]
MOUDS = ["buprenorphine"] * 3 + ["methadone"] * 2 + ["naltrexone"]
OTHER_LANGUAGES = ["pl", "zh", "ar", "vi", "ko", "ru", "tl", "fr"]
UNITS = {"detox": "bed", "residential": "bed", "psychiatric_inpatient": "bed", "recovery_housing": "bed"}
CITIES = ["Chicago", "Evanston", "Oak Park", "Cicero", "Skokie", "Joliet", "Aurora", "Waukegan"]
STREETS = ["Halsted St", "Ashland Ave", "Western Ave", "Cermak Rd", "Madison St", "Division St", "Irving Park Rd"]
ORG_WORDS = ["Recovery", "Health", "Community", "Family", "Hope", "Bridge", "Harbor", "New Day", "Lakeside",
             "Westside", "Northside", "Unity", "Haven", "Pathways", "Renewal"]
ORG_KINDS = ["Center", "Clinic", "Services", "Alliance", "House", "Network", "Institute"]
SERVICE_LABEL = {"detox": "Withdrawal management", "residential": "Residential programme",
                 "intensive_outpatient": "IOP", "outpatient_moud": "MOUD clinic",
                 "opioid_treatment_program": "OTP", "harm_reduction": "Harm reduction",
                 "counselling": "Counselling", "behavioral_health": "Behavioural health",
                 "psychiatric_inpatient": "Inpatient psychiatry", "faith_based_recovery": "Faith-based recovery",
                 "recovery_housing": "Recovery home"}
HOURS = [None, "Mon-Fri 8am-5pm", "24/7", "Mon-Sat 7am-7pm", "Walk-in Tue/Thu 9-11am"]


@dataclass
class PartnerSpec:
    organizations: int = 2_000
    services: int = 8_000
    reports_per_service: int = 10
    history_days: int = 30
    fresh_share: float = 0.35  # services whose latest report is within 24 h
    free_share: float = 0.6  # of those, share with available > 0
    seed: int = 20261124

    def describe(self) -> str:
        return (f"{self.organizations:,} organisations, {self.services:,} services, "
                f"{self.services * self.reports_per_service:,} capacity reports")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _phone(rng: random.Random) -> str:
    return f"+1{rng.choice(AREA_CODES)}555{rng.randint(0, 9999):04d}"


def _attributes(rng: random.Random, sid: str):
    types = {rng.choice(SERVICE_TYPES)}
    if rng.random() < 0.3:
        types.add(rng.choice(SERVICE_TYPES))
    payers = set(rng.sample(PAYERS, rng.randint(1, 4)))
    moud = set(rng.sample(MOUDS, rng.randint(1, 2))) if types & {"outpatient_moud", "opioid_treatment_program",
                                                                  "detox"} or rng.random() < 0.15 else set()
    languages = {"en"}
    if rng.random() < 0.35:
        languages.add("es")
    if rng.random() < 0.15:
        languages.add(rng.choice(OTHER_LANGUAGES))
    rows = [(sid, "service_type", v) for v in types] + [(sid, "payer", v) for v in payers]
    rows += [(sid, "moud", v) for v in moud] + [(sid, "language", v) for v in languages]
    return rows, sorted(types)


def load_partners(dbname: str, spec: PartnerSpec) -> dict[str, int]:
    """COPY the catalogue into a database holding the programme and users of benchmarks/lib/database.py."""
    rng = random.Random(spec.seed)
    now = datetime.now(UTC).replace(microsecond=0)
    orgs, locations, contacts, services, attributes, reports = [], [], [], [], [], []
    org_ids = [_uuid(rng) for _ in range(spec.organizations)]
    org_location: dict[str, str] = {}
    for n, oid in enumerate(org_ids):
        name = f"{rng.choice(ORG_WORDS)} {rng.choice(ORG_WORDS)} {rng.choice(ORG_KINDS)} {n + 1}"
        verified = now - timedelta(days=rng.randint(0, 200))
        orgs.append((oid, PROGRAM_ID, name, None if rng.random() < 0.7 else f"{name.split()[0]} {n + 1}",
                     "A synthetic partner organisation.", f"intake{n + 1}@partner.test",
                     f"https://partner{n + 1}.test", _phone(rng), verified, "{}", verified, verified))
        lid = _uuid(rng)
        org_location[oid] = lid
        locations.append((lid, oid, "Main site", f"{rng.randint(100, 9999)} {rng.choice(STREETS)}",
                          rng.choice(CITIES), "IL", f"60{rng.randint(600, 699)}", "US"))
        for _ in range(rng.randint(1, 2)):
            contacts.append((_uuid(rng), oid, None, f"{rng.choice(LAST_NAMES)} Intake", "Intake coordinator",
                             None, _phone(rng), "Mon-Fri 9am-4pm"))
    for n in range(spec.services):
        sid, oid = _uuid(rng), org_ids[n % spec.organizations]
        rows, types = _attributes(rng, sid)
        attributes.extend(rows)
        youth = rng.random() < 0.1
        verified = now - timedelta(days=rng.randint(0, 120))
        services.append((sid, PROGRAM_ID, oid, org_location[oid] if rng.random() < 0.9 else None,
                         f"{SERVICE_LABEL[types[0]]} {n + 1}", "A synthetic partner service.", "active",
                         12 if youth else (18 if rng.random() < 0.7 else None), 17 if youth else None,
                         None, rng.random() < 0.3, rng.random() < 0.2, rng.choice(HOURS), _phone(rng), None, None,
                         verified, "{}", verified, verified))
        unit = UNITS.get(types[0], "slot")
        maximum = rng.choice([10, 16, 20, 30, 40])
        fresh = rng.random() < spec.fresh_share
        for k in range(spec.reports_per_service):
            if k == spec.reports_per_service - 1:  # the latest one
                age = timedelta(minutes=rng.randint(5, 23 * 60)) if fresh else \
                    timedelta(hours=rng.randint(25, 24 * 5))
                available = rng.randint(1, maximum) if fresh and rng.random() < spec.free_share else \
                    rng.randint(0, 2) * (not fresh)
            else:
                age = timedelta(days=spec.history_days * (spec.reports_per_service - k) / spec.reports_per_service,
                                minutes=rng.randint(0, 600))
                available = rng.randint(0, maximum)
            reports.append((_uuid(rng), sid, unit, available, maximum, None, SUPERVISOR_ID + 1, now - age))
    counts: dict[str, int] = {}
    with psycopg.connect(dsn(dbname)) as conn, conn.cursor() as cur:
        counts["organizations"] = copy_rows(cur, "organizations", [
            "id", "program_id", "name", "alternate_name", "description", "email", "website", "phone",
            "last_verified_at", "hsds_extra", "created_at", "updated_at"], orgs)
        counts["locations"] = copy_rows(cur, "locations", [
            "id", "organization_id", "name", "address_1", "city", "state_province", "postal_code", "country"],
            locations)
        counts["partner_contacts"] = copy_rows(cur, "partner_contacts", [
            "id", "organization_id", "service_id", "name", "title", "email", "phone", "best_hours"], contacts)
        counts["services"] = copy_rows(cur, "services", [
            "id", "program_id", "organization_id", "location_id", "name", "description", "status", "minimum_age",
            "maximum_age", "eligibility_description", "walk_in", "same_day_intake", "hours", "phone", "email",
            "url", "last_verified_at", "hsds_extra", "created_at", "updated_at"], services)
        counts["service_attributes"] = copy_rows(cur, "service_attributes", ["service_id", "kind", "value"],
                                                 attributes)
        counts["capacity_reports"] = copy_rows(cur, "capacity_reports", [
            "id", "service_id", "unit", "available", "maximum", "note", "reported_by_id", "reported_at"], reports)
        # What report_capacity keeps up to date: each service's newest report (COPY bypasses it).
        cur.execute("UPDATE services SET latest_capacity_id = (SELECT c.id FROM capacity_reports c "
                    "WHERE c.service_id = services.id ORDER BY c.reported_at DESC, c.id DESC LIMIT 1)")
        # And the programme's catalogue token, which any write through the app sets (searches cache under it).
        cur.execute("INSERT INTO catalogue_versions (program_id, token, changed_at) VALUES (%s, %s, now()) "
                    "ON CONFLICT (program_id) DO UPDATE SET token = excluded.token", (PROGRAM_ID, uuid.uuid4().hex))
        conn.commit()
    return counts


def catalogue_mix(dbname: str) -> dict:
    """Shares of the filter values and the number of services each filter keeps (for the report)."""
    with psycopg.connect(dsn(dbname)) as conn:
        total = conn.execute("SELECT count(*) FROM services").fetchone()[0]

        def share(kind: str, value: str) -> str:
            n = conn.execute("SELECT count(*) FROM service_attributes WHERE kind = %s AND value = %s",
                             (kind, value)).fetchone()[0]
            return f"{100 * n / total:.0f} %"

        fresh = conn.execute(
            "SELECT count(*) FROM (SELECT DISTINCT ON (service_id) available, reported_at FROM capacity_reports "
            "ORDER BY service_id, reported_at DESC) l WHERE available > 0 AND reported_at >= now() - interval "
            "'24 hours'").fetchone()[0]
        walk_in = conn.execute("SELECT avg(walk_in::int) FROM services").fetchone()[0]
        return {"detox": share("service_type", "detox"), "medicaid": share("payer", "medicaid"),
                "es": share("language", "es"), "moud_any": conn.execute(
                    "SELECT count(DISTINCT service_id) FROM service_attributes WHERE kind = 'moud'").fetchone()[0],
                "fresh_free": f"{fresh:,} ({100 * fresh / total:.0f} %)",
                "walk_in": f"{100 * walk_in:.0f} %"}
