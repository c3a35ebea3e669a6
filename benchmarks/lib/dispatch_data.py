"""Data for the SMS dispatch benchmark (benchmarks/dispatch.py): patients, outbox rows, checks.

The base data set is the foundation one (benchmarks/lib/database.py) with no
contacts or tasks; every patient is then made textable: open (status active),
sms_consent true, not opted out, a phone +1312555 01xx, and a time zone where
it is daytime now, so that no text is deferred by quiet hours (21:00-08:00
local by default). Outbox rows are COPYed into ``messages`` after a TRUNCATE,
so each run starts from exactly the rows it loaded.
"""

from __future__ import annotations

import random
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from benchmarks.lib.common import dsn
from benchmarks.lib.database import PROGRAM_ID, SUPERVISOR_ID, copy_rows

# Candidate patient time zones, the programme's own first; one of them is in daytime at any hour.
ZONES = ["America/Chicago", "America/New_York", "America/Denver", "America/Los_Angeles", "America/Anchorage",
         "Pacific/Honolulu", "Pacific/Auckland", "Australia/Sydney", "Asia/Tokyo", "Asia/Shanghai", "Asia/Bangkok",
         "Asia/Dhaka", "Asia/Kolkata", "Asia/Karachi", "Asia/Dubai", "Europe/Moscow", "Europe/Athens",
         "Europe/Berlin", "Europe/London", "Atlantic/Azores", "America/Noronha", "America/Sao_Paulo",
         "America/Halifax"]
DAYTIME = (9, 19)  # local hours that stay outside 21:00-08:00 for a run of up to two hours
MESSAGE_COLUMNS = ["program_id", "patient_id", "direction", "body", "scheduled_for", "expires_at", "status",
                   "attempts", "created_by_id", "created_at", "updated_at"]


def daytime_zone(now: datetime | None = None) -> tuple[str, str]:
    """(zone, local time) for the patients: America/Chicago when it is 09:00-19:00 there, else the zone
    whose local time is nearest 13:00."""
    now = now or datetime.now(UTC)

    def local(zone: str) -> datetime:
        return now.astimezone(zoneinfo.ZoneInfo(zone))

    first = local(ZONES[0])
    if DAYTIME[0] <= first.hour < DAYTIME[1]:
        return ZONES[0], first.strftime("%H:%M %Z")
    zone = min(ZONES, key=lambda z: abs(local(z).hour + local(z).minute / 60 - 13))
    return zone, local(zone).strftime("%H:%M %Z")


def make_textable(dbname: str, timezone: str) -> dict[str, int]:
    """Every patient open, consenting, not opted out, +1312555 01xx, in `timezone`; no messaging policy
    (the defaults: quiet hours 21:00-08:00)."""
    with psycopg.connect(dsn(dbname)) as conn:
        cur = conn.execute(
            "UPDATE patients SET status = 'active', closed_at = NULL, declined_peer_support = false, "
            "sms_consent = true, sms_consent_at = created_at, sms_opted_out = false, sms_opted_out_at = NULL, "
            "phone_flagged_at = NULL, timezone = %s, phone = '+131255501' || lpad(((id - 1) %% 100)::text, 2, '0')",
            (timezone,))
        conn.execute("DELETE FROM messaging_policies")
        conn.commit()
        return {"textable_patients": cur.rowcount}


def patient_count(dbname: str) -> int:
    with psycopg.connect(dsn(dbname)) as conn:
        return conn.execute("SELECT count(*) FROM patients").fetchone()[0]


def _due_rows(count: int, tag: str, patients: int, rng: random.Random, now: datetime, first: int = 0):
    """`count` queued texts due in the last 10 minutes, created up to 30 minutes before that, unique bodies."""
    for i in range(first, first + count):
        due = now - timedelta(seconds=rng.randint(1, 600))
        created = due - timedelta(seconds=rng.randint(0, 1800))
        body = f"Bench {tag} #{i:07d}: your coach will call you today. Reply STOP to opt out."
        yield (PROGRAM_ID, i % patients + 1, "outbound", body, due, now + timedelta(hours=12), "queued", 0,
               SUPERVISOR_ID, created, created)


def _truncate(cur: psycopg.Cursor) -> None:
    cur.execute("TRUNCATE messages RESTART IDENTITY")


def load_due_messages(dbname: str, count: int, tag: str, seed: int = 20261124) -> None:
    """Replace the outbox with `count` due texts (status queued, scheduled_for in the past), then ANALYZE."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    patients = patient_count(dbname)
    with psycopg.connect(dsn(dbname)) as conn, conn.cursor() as cur:
        _truncate(cur)
        copy_rows(cur, "messages", MESSAGE_COLUMNS, _due_rows(count, tag, patients, rng, now))
        conn.commit()
    with psycopg.connect(dsn(dbname), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE messages")


def load_scan_messages(dbname: str, future: int, due: int, seed: int = 20261125) -> None:
    """Replace the outbox with `future` scheduled texts (1 hour to 30 days ahead) and `due` due ones."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    patients = patient_count(dbname)

    def future_rows():
        for i in range(future):
            when = now + timedelta(seconds=rng.randint(3600, 30 * 86400))
            created = now - timedelta(seconds=rng.randint(0, 14 * 86400))
            yield (PROGRAM_ID, i % patients + 1, "outbound", f"Bench future #{i:07d}: check-in from your coach.",
                   when, when + timedelta(hours=12), "scheduled", 0, SUPERVISOR_ID, created, created)

    with psycopg.connect(dsn(dbname)) as conn, conn.cursor() as cur:
        _truncate(cur)
        copy_rows(cur, "messages", MESSAGE_COLUMNS, future_rows())
        copy_rows(cur, "messages", MESSAGE_COLUMNS, _due_rows(due, "due", patients, rng, now))
        conn.commit()
    with psycopg.connect(dsn(dbname), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE messages")


def requeue_sending(dbname: str) -> int:
    """Put texts a claim marked `sending` back to queued (between timed claims); returns how many."""
    with psycopg.connect(dsn(dbname)) as conn:
        cur = conn.execute("UPDATE messages SET status = 'queued', attempts = 0, lease_until = NULL, "
                           "sending_started_at = NULL, to_number = NULL, reason = NULL WHERE status = 'sending'")
        conn.commit()
        return cur.rowcount


def settle_due(dbname: str) -> int:
    """Mark every due text sent (for the nothing-due timing); returns how many."""
    with psycopg.connect(dsn(dbname)) as conn:
        cur = conn.execute("UPDATE messages SET status = 'sent', sent_at = now() WHERE status IN "
                           "('scheduled', 'queued', 'sending') AND scheduled_for <= now()")
        conn.commit()
    with psycopg.connect(dsn(dbname), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE messages")
    return cur.rowcount


def sent_count(dbname: str) -> int:
    with psycopg.connect(dsn(dbname)) as conn:
        return conn.execute("SELECT count(*) FROM messages WHERE status = 'sent'").fetchone()[0]


@dataclass
class Verification:
    """Every loaded text sent exactly once: the database against what the fake Twilio received."""

    loaded: int
    statuses: Counter = field(default_factory=Counter)  # in the database after the run
    fake_creates: int = 0  # create-message requests the fake answered
    fake_non_201: int = 0
    exactly_once: int = 0  # loaded bodies the fake received exactly once
    duplicated: int = 0  # bodies the fake received more than once
    missing: int = 0  # loaded bodies the fake never received
    foreign: int = 0  # bodies the fake received that were not loaded
    sid_match: int = 0  # rows whose twilio_sid is the SID the fake answered for that body
    attempts_over_one: int = 0
    fake_errors: list[str] = field(default_factory=list)

    @property
    def left(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "sent")

    @property
    def ok(self) -> bool:
        return (self.statuses.get("sent", 0) == self.loaded and self.exactly_once == self.loaded
                and self.fake_creates == self.loaded and self.sid_match == self.loaded and not self.duplicated
                and not self.foreign and not self.fake_non_201 and not self.attempts_over_one
                and not self.fake_errors)

    def summary(self) -> str:
        return (f"{'OK' if self.ok else 'FAILED'}: {self.statuses.get('sent', 0):,} of {self.loaded:,} sent, "
                f"{self.left} left ({dict(self.statuses)}); fake: {self.fake_creates:,} creates, "
                f"{self.exactly_once:,} bodies exactly once, {self.duplicated} twice or more, {self.missing} "
                f"missing, {self.foreign} unknown, {self.fake_non_201} non-201; twilio_sid matches "
                f"{self.sid_match:,}; attempts > 1: {self.attempts_over_one}")


def verify(dbname: str, loaded: int, report: dict) -> Verification:
    fake_bodies: dict[str, list] = report.get("bodies", {})
    check = Verification(loaded=loaded, fake_creates=report.get("creates", 0),
                         fake_non_201=sum(n for s, n in report.get("statuses", {}).items() if s != "201"),
                         fake_errors=list(report.get("errors", [])))
    seen = set()
    with psycopg.connect(dsn(dbname)) as conn:
        for body, status, sid, attempts in conn.execute("SELECT body, status, twilio_sid, attempts FROM messages"):
            seen.add(body)
            check.statuses[status] += 1
            count, fake_sid = fake_bodies.get(body, (0, None))
            check.exactly_once += count == 1
            check.missing += count == 0
            check.sid_match += sid is not None and sid == fake_sid
            check.attempts_over_one += attempts > 1
    check.duplicated = sum(1 for count, _sid in fake_bodies.values() if count > 1)
    check.foreign = sum(1 for body in fake_bodies if body not in seen)
    return check
