"""Reliability soak (soak issue): mixed load on two app instances and two job workers, Redis restarted and a
worker SIGKILLed mid-run.

    python -m benchmarks.soak --minutes 10      # then: python -m benchmarks.render

On PostgreSQL (its own database, dropped at the end unless --keep-database)
and its own `redis-server` (started on a free port from 6390, `--save ""
--appendonly no`, so the machine's Redis is never touched): two gunicorn
instances of `backend:create_app()` behind no balancer (the load picks one at
random per request), two `flask --app backend worker` processes, and the fake
Twilio server (fake_twilio) inside this process. For --minutes the load runs:

- coaches (one thread each, closed loop with think time): patient lists,
  patient reads and If-Match edits, timelines, contacts (logged with an
  Idempotency-Key, some replayed), tasks (listed, created, completed), texts
  (listed, scheduled a few seconds ahead), catalogue searches (cached in
  Redis) and `GET /me`;
- inbound texts signed with the fake's auth token for PUBLIC_BASE_URL + path
  (some HELP, some Twilio retries of the same MessageSid), and signed status
  callbacks (sent, then delivered) for every text the fake accepted;
- texts scheduled straight into the outbox, due across the run, and a burst due
  just before the worker is killed;
- sessions logged in and revoked (logout, password change, refresh-token
  reuse), whose old access and refresh tokens are probed all along, all at once
  while Redis is down and right after it is back;
- `GET /readyz` on both instances every second.

At --redis-at of the run the Redis server is stopped (SIGTERM) for
--redis-down seconds and started again, empty; at --kill-at one job worker is
SIGKILLed while it holds claimed texts, and started again --restart-after
seconds later. Then the load stops and the outbox drains (the killed worker's
claims wait out their lease, SMS_SEND_LEASE_SECONDS, and are reconciled with
the fake). Every request carries its own X-Request-ID, which the app writes
into each audit row, so rows are matched to answers one by one.

Properties: no 5xx outside the seconds Redis is down, and none then either on
endpoints that do not need it; every text due sent exactly once (no duplicate,
none lost; texts left `unknown` are counted apart); no revoked token ever
answered 2xx; exactly one audit row per 2xx answer on a patient-data route;
each inbound text stored once. Results go to benchmarks/results/soak.json.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import itertools
import json
import os
import platform
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import requests
import sqlalchemy as sa

from benchmarks.data import (
    PROGRAM_ID,
    SUPERVISOR_ID,
    BaseData,
    analyze,
    coach_email,
    insert_rows,
    load_base,
)
from benchmarks.dispatch import daytime_zone
from benchmarks.harness import (
    BIN,
    HOST,
    PASSWORD,
    RESULTS,
    LoadSettings,
    ScenarioRun,
    Server,
    app_env,
    cpu_snapshot,
    cpu_used,
    create_postgres_database,
    drop_database,
    log,
    machine_facts,
    migrate,
    start_gunicorn,
    start_process,
    stop_process,
    stop_processes,
    wait_for_line,
)
from benchmarks.partners import SEARCH_PATH, load_catalogue

SIZES = {"minutes": 10, "coaches": 10, "probe_users": 3, "patients": 480, "contacts": 4_800, "tasks": 960,
         "organizations": 60, "services": 240, "think_ms": 300, "inbound_per_minute": 60, "scheduled_per_minute": 30,
         "burst": 100, "redis_down_s": 10, "restart_after_s": 20, "gunicorn_workers": 2, "sms_rate": 10,
         "lease_s": 60, "fake_latency_ms": 20, "probe_cycle_s": 5}
QUICK = dict(SIZES, minutes=1)  # no in-process form: the soak needs its processes (see main)
CONNECTIONS = 0  # no wrk
REDIS_AT, KILL_AT = 0.35, 0.6  # fractions of the run
FROM_NUMBER = "+13125550100"
PUBLIC_BASE_URL = "https://bridgeline-soak.test"  # what Twilio signs; requests go to an instance on 127.0.0.1
DATABASE_NAME = "bridgeline_soak"
LOCAL_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TEXT_MARK = "Soak"
SENT_STATUSES = ("sent", "delivered")
# Each text's body is unique (the loop guard blocks a body sent 3 times an hour) and carries a marker.
TEXT_BODY = "{mark} {origin} #{n:06d}: your coach will call you today. Reply STOP to opt out."
NAMES = ["Sam", "Jo", "Alex", "Dee", "Lou", "Max", "Kit", "Ray"]

# Routes that answer with patient data (or store a patient's words): each 2xx answer must leave one audit row.
PATIENT_DATA = {"GET /api/v1/patients", "GET /api/v1/patients/<id>", "PATCH /api/v1/patients/<id>",
                "GET /api/v1/patients/<id>/timeline", "GET /api/v1/patients/<id>/contacts",
                "POST /api/v1/patients/<id>/contacts", "GET /api/v1/patients/<id>/messages",
                "POST /api/v1/patients/<id>/messages", "POST /api/v1/patients/<id>/tasks", "GET /api/v1/me/tasks",
                "PATCH /api/v1/tasks/<id>", "POST /webhooks/twilio/sms"}
# Routes whose code talks to Redis: the login rate limit, the catalogue cache (the job workers' shared SMS
# pace too). By design none needs it (in-memory limits and no cache meanwhile), but a 5xx there while Redis
# is down is what the goal allows.
USES_REDIS = {"POST /api/v1/auth/login", "GET /api/v1/services", "GET /readyz"}
# Other audit rows an answer writes by design: (label, status class or status) -> rows.
OTHER_ROWS = {("POST /api/v1/auth/login", 200): 1, ("POST /api/v1/auth/logout", 204): 1,
              ("PUT /api/v1/me/password", 200): 1}


def _free_port(first: int) -> int:
    for port in range(first, first + 50):
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port from {first}")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Answer:
    """One request the load made and what came back (times in seconds from the start of the load)."""

    started: float
    ended: float
    label: str
    group: str  # coach, webhook, probe, readiness, setup
    instance: int
    status: int  # -1: no answer (connection error, timeout)
    request_id: str
    code: str | None = None  # the JSON error code, or the exception's name
    kind: str | None = None  # sub-kind (inbound reply / HELP / retry, probe token type)


@dataclass
class Tokens:
    access: str
    refresh: str


@dataclass
class Revoked:
    kind: str  # logout, password_change, refresh_reuse
    token_type: str  # access, refresh
    token: str
    at: float
    probes: int = 0
    revived: int = 0


class Load:
    """The shared state of the run: the servers, the fake, what was asked and answered."""

    def __init__(self, servers: list[Server], fake, t0: float, load_end: float):
        self.servers, self.fake = servers, fake  # the fake signs the webhooks with its own auth token
        self.t0, self.load_end = t0, load_end  # time.time() of the start; seconds from the start to the end
        self.answers: list[Answer] = []
        self.seq = itertools.count(1)
        self.local = threading.local()
        self.stop = threading.Event()
        self.stop_callbacks = threading.Event()
        self.events: list[dict] = []
        self.burst = threading.Event()
        self.lock = threading.Lock()
        self.redis_down: list[list[float]] = []  # [stopped, answering again] in seconds from the start
        # The fake's side: create requests per body, status callbacks to send.
        self.bodies: dict[str, list] = {}
        self.fake_statuses: Counter[str] = Counter()
        self.callbacks: list[tuple[float, int, str, str]] = []
        self.callback_seq = itertools.count()
        self.inbound_sids: dict[str, dict] = {}
        self.readiness: list[tuple[float, int, str | None]] = []

    def now(self) -> float:
        return time.time() - self.t0

    def event(self, name: str, **details) -> None:
        entry = {"t": round(self.now(), 2), "event": name, **details}
        self.events.append(entry)
        log(f"t={entry['t']:.1f}s {name} {details or ''}")

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.trust_env = False  # loopback only, never a proxy
        return self.local.session

    def request_id(self) -> str:
        return f"soak-{next(self.seq):07d}-{secrets.token_hex(3)}"

    def call(self, method: str, path: str, label: str, group: str, token: str | None = None, body=None,
             headers: dict | None = None, kind: str | None = None, instance: int | None = None,
             form: dict | None = None) -> tuple[int, object, dict]:
        """One request to an instance (random unless given); recorded; (status, JSON body or text, headers)."""
        instance = random.randrange(len(self.servers)) if instance is None else instance
        rid = self.request_id()
        sent = {"X-Request-ID": rid, **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        started = self.now()
        status, payload, answer_headers, code = -1, None, {}, None
        try:
            response = self.session().request(method, self.servers[instance].url(path), json=body, data=form,
                                              headers=sent, timeout=30)
            status, answer_headers = response.status_code, response.headers
            try:
                payload = response.json()
            except ValueError:
                payload = response.text
            if status >= 400 and isinstance(payload, dict):
                code = str(payload.get("error") or payload.get("code") or "")
        except requests.RequestException as exc:
            code = type(exc).__name__
        self.answers.append(Answer(started, self.now(), label, group, instance, status, rid, code, kind))
        return status, payload, answer_headers

    # -- the fake Twilio's side -------------------------------------------------------------------------------

    def on_fake_request(self, request) -> None:
        """The fake's listener: count create requests per body, schedule the status callbacks of each text."""
        if not request.is_create:
            return
        with self.lock:
            self.fake_statuses[str(request.response_status)] += 1
            if request.response_status != 201:
                return
            sid = (request.response or {}).get("sid")
            entry = self.bodies.setdefault(request.form.get("Body", ""), [0, [], self.now()])
            entry[0] += 1
            entry[1].append(sid)
            if not self.stop_callbacks.is_set():
                due = time.monotonic()
                heapq.heappush(self.callbacks, (due + 1.0, next(self.callback_seq), sid, "sent"))
                heapq.heappush(self.callbacks, (due + 3.0, next(self.callback_seq), sid, "delivered"))

    def webhook_transport(self, label: str, kind: str):
        """A transport for the fake's webhooks: the public URL it signed, posted to a random instance."""

        def post(url: str, data: dict[str, str], headers: dict[str, str]):
            status, payload, _ = self.call("POST", url[len(PUBLIC_BASE_URL):], label, "webhook", form=data,
                                           headers=headers, kind=kind)
            return status, payload

        return post


class Coach(threading.Thread):
    """One coach on the phone app: a closed loop of API calls with think time."""

    ACTIONS = {"list": 12, "read": 14, "edit": 4, "timeline": 12, "contacts": 8, "log_contact": 8, "tasks": 8,
               "new_task": 3, "close_task": 3, "messages": 6, "text": 6, "services": 8, "me": 4}

    def __init__(self, load: Load, index: int, tokens: Tokens, patients: list[int], think: float):
        super().__init__(name=f"coach-{index}", daemon=True)
        self.load, self.index, self.tokens, self.patients, self.think = load, index, tokens, patients, think
        self.rng = random.Random(index)
        self.etags: dict[int, str] = {}
        self.open_tasks: list[int] = []
        self.contact_keys: list[tuple[str, int, dict]] = []
        self.texts = 0

    def run(self) -> None:
        actions, weights = list(self.ACTIONS), list(self.ACTIONS.values())
        while not self.load.stop.wait(self.rng.expovariate(1 / self.think)):
            action = self.rng.choices(actions, weights)[0]
            getattr(self, f"do_{action}")(self.rng.choice(self.patients))

    def api(self, method: str, path: str, label: str, body=None, headers=None) -> tuple[int, object, dict]:
        status, payload, answer_headers = self.load.call(method, path, label, "coach", self.tokens.access, body,
                                                         headers)
        if status == 401 and isinstance(payload, dict) and payload.get("error") == "token_expired":
            refreshed, new, _ = self.load.call("POST", "/api/v1/auth/refresh", "POST /api/v1/auth/refresh",
                                               "coach", self.tokens.refresh)
            if refreshed == 200:
                self.tokens = Tokens(new["access_token"], new["refresh_token"])
        return status, payload, answer_headers

    def do_list(self, _pid: int) -> None:
        self.api("GET", f"/api/v1/patients?page_size=25&page={self.rng.randint(1, 2)}", "GET /api/v1/patients")

    def do_read(self, pid: int) -> None:
        status, _, headers = self.api("GET", f"/api/v1/patients/{pid}", "GET /api/v1/patients/<id>")
        if status == 200 and headers.get("ETag"):
            self.etags[pid] = headers["ETag"]

    def do_edit(self, pid: int) -> None:
        if pid not in self.etags:
            self.do_read(pid)
        if pid not in self.etags:
            return
        status, _, headers = self.api("PATCH", f"/api/v1/patients/{pid}", "PATCH /api/v1/patients/<id>",
                                      {"preferred_name": self.rng.choice(NAMES)}, {"If-Match": self.etags[pid]})
        if status == 200 and headers.get("ETag"):
            self.etags[pid] = headers["ETag"]
        else:
            self.etags.pop(pid, None)

    def do_timeline(self, pid: int) -> None:
        self.api("GET", f"/api/v1/patients/{pid}/timeline?page_size=20", "GET /api/v1/patients/<id>/timeline")

    def do_contacts(self, pid: int) -> None:
        self.api("GET", f"/api/v1/patients/{pid}/contacts?page_size=20", "GET /api/v1/patients/<id>/contacts")

    def do_log_contact(self, pid: int) -> None:
        label = "POST /api/v1/patients/<id>/contacts"
        if self.contact_keys and self.rng.random() < 0.1:  # the phone retries: the same key and body
            key, pid, body = self.rng.choice(self.contact_keys)
            self.api("POST", f"/api/v1/patients/{pid}/contacts", label, body, {"Idempotency-Key": key})
            return
        key = f"soak-{secrets.token_hex(8)}"
        body = {"kind": self.rng.choice(["phone", "sms", "in_person"]), "outcome": "reached",
                "duration_minutes": self.rng.randint(1, 30), "note": "Synthetic soak note."}
        status, _, _ = self.api("POST", f"/api/v1/patients/{pid}/contacts", label, body, {"Idempotency-Key": key})
        if status == 201:
            self.contact_keys = [*self.contact_keys[-20:], (key, pid, body)]

    def do_tasks(self, _pid: int) -> None:
        status, payload, _ = self.api("GET", "/api/v1/me/tasks?page_size=20", "GET /api/v1/me/tasks")
        if status == 200 and isinstance(payload, list):
            self.open_tasks = [t["id"] for t in payload if t.get("status") == "open"][:20]

    def do_new_task(self, pid: int) -> None:
        due = datetime.now(UTC) + timedelta(days=self.rng.randint(1, 5))
        status, payload, _ = self.api("POST", f"/api/v1/patients/{pid}/tasks", "POST /api/v1/patients/<id>/tasks",
                                      {"title": "Soak follow-up call", "due_at": _iso(due)})
        if status == 201:
            self.open_tasks.append(payload["id"])

    def do_close_task(self, pid: int) -> None:
        if not self.open_tasks:
            return self.do_tasks(pid)
        task = self.open_tasks.pop(self.rng.randrange(len(self.open_tasks)))
        self.api("PATCH", f"/api/v1/tasks/{task}", "PATCH /api/v1/tasks/<id>", {"status": "done"})
        return None

    def do_messages(self, pid: int) -> None:
        self.api("GET", f"/api/v1/patients/{pid}/messages?page_size=20", "GET /api/v1/patients/<id>/messages")

    def do_text(self, pid: int) -> None:
        ahead = self.rng.uniform(3, 40)
        if self.load.now() + ahead > self.load.load_end - 5:  # every text must fall due while the load runs
            return self.do_messages(pid)
        self.texts += 1
        body = TEXT_BODY.format(mark=TEXT_MARK, origin=f"api c{self.index}", n=self.texts)
        send_at = datetime.now(UTC) + timedelta(seconds=ahead)
        self.api("POST", f"/api/v1/patients/{pid}/messages", "POST /api/v1/patients/<id>/messages",
                 {"body": body, "send_at": _iso(send_at)})
        return None

    def do_services(self, _pid: int) -> None:
        self.api("GET", SEARCH_PATH, "GET /api/v1/services")

    def do_me(self, _pid: int) -> None:
        self.api("GET", "/api/v1/me", "GET /api/v1/me")


def inbound_loop(load: Load, patients: list[tuple[int, str]], per_minute: float, seed: int) -> None:
    """Patients' texts, signed like Twilio signs them: replies, some HELP, some retries of the same MessageSid."""
    rng, sent, n = random.Random(seed), [], 0
    url = PUBLIC_BASE_URL + "/webhooks/twilio/sms"
    while not load.stop.wait(rng.expovariate(per_minute / 60)):
        roll = rng.random()
        if sent and roll < 0.05:
            kind, (sid, phone, body) = "retry", rng.choice(sent)
        else:
            n += 1
            _pid, phone = rng.choice(patients)
            kind, sid = ("help", None) if roll < 0.10 else ("reply", "SM" + secrets.token_hex(16))
            body = "HELP" if kind == "help" else f"{TEXT_MARK} reply #{n:06d}: running late, will call back"
            sid = sid or "SM" + secrets.token_hex(16)
            if kind == "reply":
                sent.append((sid, phone, body))
        status, _ = load.fake.inbound(url, phone, FROM_NUMBER, body, post=load.webhook_transport(
            "POST /webhooks/twilio/sms", kind), message_sid=sid)
        if kind != "help":
            entry = load.inbound_sids.setdefault(sid, {"deliveries": 0, "ok": 0})
            entry["deliveries"] += 1
            entry["ok"] += status == 200


def callback_loop(load: Load) -> None:
    """Delivery receipts for the texts the fake accepted: `sent` after 1 s, `delivered` after 3 s."""
    transport = load.webhook_transport("POST /webhooks/twilio/sms/status", "receipt")
    while not load.stop_callbacks.is_set():
        with load.lock:
            item = heapq.heappop(load.callbacks) if load.callbacks and load.callbacks[0][0] <= time.monotonic() \
                else None
        if item is None:
            time.sleep(0.05)
            continue
        _due, _n, sid, status = item
        load.fake.send_status_callback(sid, status, post=transport)


def readiness_loop(load: Load) -> None:
    """`GET /readyz` on each instance every second: what the app itself says about Redis."""
    for n in itertools.count():
        if load.stop.wait(0.5):
            return
        started = load.now()
        status, payload, _ = load.call("GET", "/readyz", "GET /readyz", "readiness", instance=n % len(load.servers))
        said = payload.get("status") if isinstance(payload, dict) else None
        load.readiness.append((started, status, said))


class Revocations(threading.Thread):
    """Sessions logged in and ended (logout, password change, a refresh token reused), old tokens probed."""

    def __init__(self, load: Load, emails: list[str], cycle: float, seed: int):
        super().__init__(name="revocations", daemon=True)
        self.load, self.cycle, self.rng = load, cycle, random.Random(seed)
        self.passwords = dict.fromkeys(emails, PASSWORD)
        self.revoked: list[Revoked] = []
        self.anomalies: list[dict] = []  # a step that did not answer as it should (not a revival)
        self.revivals: list[dict] = []
        self.bursts: list[dict] = []

    def login(self, email: str) -> Tokens | None:
        status, payload, _ = self.load.call("POST", "/api/v1/auth/login", "POST /api/v1/auth/login", "probe",
                                            body={"email": email, "password": self.passwords[email]})
        if status != 200:
            self.anomalies.append({"t": round(self.load.now(), 1), "step": "login", "status": status})
            return None
        return Tokens(payload["access_token"], payload["refresh_token"])

    def expect(self, status: int, wanted: int, step: str) -> bool:
        if status != wanted:
            self.anomalies.append({"t": round(self.load.now(), 1), "step": step, "status": status})
        return status == wanted

    def revoke(self, kind: str, *tokens: Tokens) -> None:
        at = self.load.now()
        for pair in tokens:
            self.revoked += [Revoked(kind, "access", pair.access, at), Revoked(kind, "refresh", pair.refresh, at)]

    def run(self) -> None:
        steps = itertools.cycle(["logout", "password_change", "refresh_reuse"])
        emails = itertools.cycle(self.passwords)
        next_cycle = next_probe = time.monotonic()
        while not self.load.stop.is_set():
            if self.load.burst.is_set():
                self.load.burst.clear()
                self.probe(self.revoked, "burst")
            if time.monotonic() >= next_cycle:
                next_cycle += self.cycle
                getattr(self, next(steps))(next(emails))
            if time.monotonic() >= next_probe:
                next_probe += 2
                recent = self.revoked[-4:]
                older = self.rng.sample(self.revoked[:-4], min(8, max(0, len(self.revoked) - 4)))
                self.probe(recent + older, "rolling")
            self.load.stop.wait(0.1)

    def logout(self, email: str) -> None:
        pair = self.login(email)
        if pair is None:
            return
        status, _, _ = self.load.call("GET", "/api/v1/me", "GET /api/v1/me", "probe", pair.access, kind="live")
        self.expect(status, 200, "live session before logout")
        status, _, _ = self.load.call("POST", "/api/v1/auth/logout", "POST /api/v1/auth/logout", "probe", pair.access)
        if self.expect(status, 204, "logout"):
            self.revoke("logout", pair)

    def password_change(self, email: str) -> None:
        first, second = self.login(email), self.login(email)
        if first is None or second is None:
            return
        new = f"soak-{secrets.token_urlsafe(12)}"
        status, payload, _ = self.load.call("PUT", "/api/v1/me/password", "PUT /api/v1/me/password", "probe",
                                            second.access, {"current_password": self.passwords[email],
                                                            "new_password": new})
        if self.expect(status, 200, "password change"):
            self.passwords[email] = new
            self.revoke("password_change", first, second)
            # The answer's tokens are this device's new session: it stays live (ended at the next change).
            status, _, _ = self.load.call("GET", "/api/v1/me", "GET /api/v1/me", "probe", payload["access_token"],
                                          kind="live")
            self.expect(status, 200, "new session after password change")

    def refresh_reuse(self, email: str) -> None:
        pair = self.login(email)
        if pair is None:
            return
        status, payload, _ = self.load.call("POST", "/api/v1/auth/refresh", "POST /api/v1/auth/refresh", "probe",
                                            pair.refresh, kind="rotate")
        if not self.expect(status, 200, "refresh"):
            return
        rotated = Tokens(payload["access_token"], payload["refresh_token"])
        # The replaced refresh token comes back (a stolen copy): the whole session must end.
        status, _, _ = self.load.call("POST", "/api/v1/auth/refresh", "POST /api/v1/auth/refresh", "probe",
                                      pair.refresh, kind="reuse")
        if self.expect(status, 401, "reused refresh token"):
            self.revoke("refresh_reuse", pair, rotated)

    def probe(self, tokens: list[Revoked], why: str) -> None:
        """Present each revoked token once (a burst: the newest 150 and 50 older ones, 4 at a time)."""
        if why == "burst":
            tokens = tokens[-150:] + self.rng.sample(tokens[:-150], min(50, max(0, len(tokens) - 150)))
        started, answered = self.load.now(), Counter()

        def one(item: Revoked) -> None:
            with self.load.lock:
                item.probes += 1
                turn = item.probes
            if item.token_type == "refresh":  # noqa: S105 - the kind of token, not a password
                status, _, _ = self.load.call("POST", "/api/v1/auth/refresh", "POST /api/v1/auth/refresh", "probe",
                                              item.token, kind="revoked")
            elif turn % 2:
                status, _, _ = self.load.call("GET", "/api/v1/me", "GET /api/v1/me", "probe", item.token,
                                              kind="revoked")
            else:
                status, _, _ = self.load.call("GET", "/api/v1/patients?page_size=1", "GET /api/v1/patients",
                                              "probe", item.token, kind="revoked")
            with self.load.lock:
                answered[status] += 1
                if 200 <= status < 300:
                    item.revived += 1
                    self.revivals.append({"t": round(self.load.now(), 1), "kind": item.kind,
                                          "token": item.token_type, "why": why, "status": status,
                                          "seconds_after_revocation": round(self.load.now() - item.at, 1)})

        if why == "burst":
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(one, tokens))
            self.bursts.append({"t": round(started, 1), "seconds": round(self.load.now() - started, 1),
                                "tokens": len(tokens), "answers": dict(answered)})
            log(f"t={started:.1f}s probed {len(tokens)} revoked tokens in {self.load.now() - started:.1f} s: "
                f"{dict(answered)}")
        else:
            for item in tokens:
                one(item)


class Sampler(threading.Thread):
    """Every second: the outbox by status (and which texts were ever `sending` or `unknown`); CPU every 5 s."""

    def __init__(self, load: Load, engine: sa.Engine, groups):
        super().__init__(name="sampler", daemon=True)
        self.load, self.engine, self.groups = load, engine, groups
        self.samples: list[dict] = []
        self.ever_unknown: set[int] = set()
        self.cpu: list[tuple[float, dict]] = []
        self.done = threading.Event()

    def run(self) -> None:
        last_cpu = 0.0
        while not self.done.wait(1.0):
            with contextlib.suppress(sa.exc.SQLAlchemyError), self.engine.connect() as conn:
                counts = dict(conn.execute(sa.text(
                    "SELECT status, count(*) FROM messages WHERE direction = 'outbound' GROUP BY status")).all())
                unknown = conn.execute(sa.text("SELECT id FROM messages WHERE status = 'unknown'")).scalars().all()
                self.ever_unknown.update(unknown)
                self.samples.append({"t": round(self.load.now(), 1), **counts})
            if self.load.now() - last_cpu >= 5:
                last_cpu = self.load.now()
                self.cpu.append((last_cpu, cpu_snapshot(self.groups())))


def start_redis(port: int, workdir: Path, n: int) -> subprocess.Popen:
    """Our own redis-server (never the machine's): no snapshots, no AOF, so a restart comes back empty."""
    proc = start_process(["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
                          "--dir", str(workdir)], dict(os.environ), workdir / f"redis-{n}.log")
    client = redis.Redis(host=HOST, port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if client.ping():
                return proc
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited:\n{(workdir / f'redis-{n}.log').read_text()[-2000:]}")
        time.sleep(0.05)
    raise RuntimeError("redis-server did not answer PING within 20 s")


def start_worker(env: dict[str, str], workdir: Path, name: str) -> subprocess.Popen:
    """`flask --app backend worker`: every scheduled job on APScheduler, as production runs it."""
    out = workdir / f"{name}.log"
    proc = start_process([str(BIN / "flask"), "--app", "backend", "worker"], env, out)
    wait_for_line(out, "Worker running", proc, 60)
    return proc


def seed(engine: sa.Engine, s: dict, zone: str) -> dict:
    """Coaches and their patients (all open, consenting, in daytime), the programme's number, a small catalogue."""
    from backend.patients.models import Patient
    from backend.programs.models import ProgramNumber

    with engine.begin() as conn:
        counts = load_base(conn, BaseData(s["coaches"] + s["probe_users"], s["patients"], s["contacts"], s["tasks"]))
        conn.execute(Patient.__table__.update().values(status="active", closed_at=None, declined_peer_support=False,
                                                       sms_consent=True, sms_consent_at=Patient.created_at,
                                                       timezone=zone))
        insert_rows(conn, ProgramNumber, [{"program_id": PROGRAM_ID, "number": FROM_NUMBER}])
        load_catalogue(conn, {"organizations": s["organizations"], "services": s["services"], "reports": 3})
        patients = conn.execute(sa.select(Patient.id, Patient.coach_id, Patient.phone).order_by(Patient.id)).all()
    analyze(engine)
    by_coach = defaultdict(list)
    for pid, coach, _phone in patients:
        by_coach[coach].append(pid)
    coaches = list(range(1, s["coaches"] + 1))
    return {"counts": counts, "by_coach": {coach_email(n): by_coach[n + 1] for n in coaches},
            "coach_patients": [(pid, phone) for pid, coach, phone in patients if coach - 1 in coaches],
            "probe_users": [coach_email(n) for n in range(s["coaches"] + 1, s["coaches"] + s["probe_users"] + 1)]}


def schedule_texts(engine: sa.Engine, origin: str, times: list[datetime], patients: list[int], first: int) -> int:
    """Texts written straight into the outbox as `scheduled` (as a follow-up plan leaves them), due at `times`."""
    from backend.messaging.models import Message

    now = datetime.now(UTC)
    rows = [{"program_id": PROGRAM_ID, "patient_id": patients[(first + n) % len(patients)], "direction": "outbound",
             "status": "scheduled", "scheduled_for": at, "expires_at": at + timedelta(hours=12),
             "body": TEXT_BODY.format(mark=TEXT_MARK, origin=origin, n=first + n), "created_by_id": SUPERVISOR_ID,
             "created_at": now, "updated_at": now} for n, at in enumerate(times)]
    with engine.begin() as conn:
        return insert_rows(conn, Message, rows)


def outbox_pending(engine: sa.Engine) -> dict[str, int]:
    """Texts still to settle: due and not claimed, claimed (`sending`), `unknown`."""
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT count(*) FILTER (WHERE status IN ('scheduled', 'queued') AND scheduled_for <= now()) AS due, "
            "count(*) FILTER (WHERE status = 'sending') AS sending, count(*) FILTER (WHERE status = 'unknown') "
            "AS unknown FROM messages WHERE direction = 'outbound'")).mappings().one())


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def phase_of(answer: Answer, down: list[list[float]]) -> str:
    """before / redis_down (the request overlapped the outage) / after the Redis restart."""
    for stopped, back in down:
        if answer.started <= back and answer.ended >= stopped:
            return "redis_down"
    return "before" if not down or answer.ended < down[0][0] else "after"


def expected_refusal(a: Answer) -> bool:
    """A non-2xx the load asked for: a revoked token presented, a replaced refresh token reused."""
    return a.status == 401 and a.kind in ("revoked", "reuse")


def summarise_answers(load: Load) -> dict:
    """Requests by endpoint and phase: counts, statuses, 5xx, unexpected refusals, latency."""
    by_label: dict[str, dict] = {}
    phases = {p: Counter() for p in ("before", "redis_down", "after")}
    minutes: dict[int, dict] = defaultdict(lambda: {"requests": 0, "5xx": 0, "unexpected_4xx": 0, "errors": 0,
                                                     "expected_401": 0, "latency": []})
    texts = Counter(int(entry[2] // 60) for entry in list(load.bodies.values()) for _ in range(entry[0]))
    for a in load.answers:
        phase = phase_of(a, load.redis_down)
        entry = by_label.setdefault(a.label, {"requests": 0, "statuses": Counter(), "latency_ms": defaultdict(list),
                                              "5xx_by_phase": Counter(), "errors_by_phase": Counter(),
                                              "requests_by_phase": Counter(), "groups": Counter(),
                                              "unexpected_4xx": Counter(), "expected_401": 0,
                                              "uses_redis": a.label in USES_REDIS,
                                              "patient_data": a.label in PATIENT_DATA})
        entry["requests"] += 1
        entry["statuses"][str(a.status)] += 1
        entry["requests_by_phase"][phase] += 1
        entry["groups"][a.group] += 1
        entry["latency_ms"][phase].append((a.ended - a.started) * 1000)
        phases[phase]["requests"] += 1
        minute = minutes[int(a.started // 60)]
        minute["requests"] += 1
        minute["latency"].append((a.ended - a.started) * 1000)
        if a.status >= 500:
            entry["5xx_by_phase"][phase] += 1
            phases[phase]["5xx"] += 1
            minute["5xx"] += 1
        elif a.status < 0:
            entry["errors_by_phase"][phase] += 1
            phases[phase]["errors"] += 1
            minute["errors"] += 1
        elif expected_refusal(a):
            entry["expected_401"] += 1
            minute["expected_401"] += 1
        elif a.status >= 400:
            entry["unexpected_4xx"][f"{a.status} {a.code}"] += 1
            phases[phase]["unexpected_4xx"] += 1
            minute["unexpected_4xx"] += 1
    for entry in by_label.values():
        by_phase = entry.pop("latency_ms")
        latency = [x for xs in by_phase.values() for x in xs]
        entry |= {"p50_ms": percentile(latency, 0.5), "p95_ms": percentile(latency, 0.95),
                  "p99_ms": percentile(latency, 0.99), "max_ms": max(latency),
                  "p95_ms_by_phase": {p: percentile(xs, 0.95) for p, xs in by_phase.items()},
                  "max_ms_by_phase": {p: max(xs) for p, xs in by_phase.items()}}
    timeline = [{"minute": m, **{k: v for k, v in x.items() if k != "latency"},
                 "p95_ms": percentile(x["latency"], 0.95), "texts_sent": texts.get(m, 0)}
                for m, x in sorted(minutes.items())]
    return {"by_label": by_label, "phases": {k: dict(v) for k, v in phases.items()}, "minutes": timeline,
            "total": len(load.answers), "unexpected_4xx": sum(p.get("unexpected_4xx", 0) for p in phases.values())}


EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout|Refused)\w*)(:?)(.*)$")


def log_excerpt(lines: list[str], request_id: str) -> list[str]:
    """The app's log line naming the request id and the exception that ended its traceback: the logger's words and
    the exception's type and first words, never SQL parameters (so no patient data)."""
    out = []
    for n, line in enumerate(lines):
        if request_id not in line:
            continue
        out.append(re.sub(r"\s+", " ", line.split(f"[{request_id}]", 1)[-1]).strip()[:160])
        for later in lines[n + 1: n + 80]:
            match = EXCEPTION_LINE.match(later)
            if match:
                words = match[3].split("[SQL")[0].split("[parameters")[0].strip()[:120]
                out.append(f"{match[1]}{match[2]} {words}".strip())
                break
        break
    return out


def failures(load: Load, workdir: Path) -> list[dict]:
    """Every 5xx and every request without an answer: when, where, and what the app logged about it."""
    logs = {p.name: p.read_text(errors="replace").splitlines() for p in sorted(workdir.glob("gunicorn-*.log"))}
    out = []
    for a in load.answers:
        if a.status >= 500 or a.status < 0:
            excerpt = next((lines for lines in (log_excerpt(text, a.request_id) for text in logs.values()) if lines),
                           [])
            out.append({"t": round(a.started, 2), "label": a.label, "status": a.status, "code": a.code,
                        "phase": phase_of(a, load.redis_down), "request_id": a.request_id, "instance": a.instance,
                        "group": a.group, "kind": a.kind, "log": excerpt})
    return out


LOG_LINE = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) (\S+) \[[^\]]*\] (.*)$")
GUNICORN_LINE = re.compile(r"^\[[^\]]+\] \[\d+\] \[(WARNING|ERROR|CRITICAL)\] (.*)$")


def log_summary(workdir: Path) -> dict[str, int]:
    """Warnings and errors the processes logged, counted by process, level, logger and the message's first words
    (long digit runs masked; the app never logs patient data, and tracebacks are not counted)."""
    counts: Counter[str] = Counter()
    for path in sorted(workdir.glob("*.log")):
        process = re.sub(r"-\d+$", "", path.stem).replace("gunicorn", "gunicorn instance")
        for line in path.read_text(errors="replace").splitlines():
            match = LOG_LINE.match(line)
            if match:
                level, logger, message = match.groups()
            elif (match := GUNICORN_LINE.match(line)) is not None:
                (level, message), logger = match.groups(), "gunicorn"
            else:
                continue
            words = re.sub(r"\d{5,}", "…", re.split(r"[:;(]", message)[0]).strip()[:90]
            counts[f"{process}: {level} {logger}: {words}"] += 1
    return dict(counts.most_common(40))


def verify_texts(engine: sa.Engine, load: Load, ever_unknown: set[int], held_at_kill: list[int],
                 killed_at: float | None) -> dict:
    """Each outbound text against the create requests the fake answered for its body."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT id, body, status, twilio_sid, attempts, reason, created_by_id FROM messages "
            "WHERE direction = 'outbound' ORDER BY id")).all()
    with load.lock:
        bodies = {body: (entry[0], list(entry[1])) for body, entry in load.bodies.items()}
    statuses, origin = Counter(), Counter()
    once = duplicated = lost = not_sent = sid_mismatch = 0
    duplicates, unknown_outcome, at_kill = [], Counter(), Counter()
    first_sent = {body: entry[2] for body, entry in load.bodies.items()}
    # A text can be `unknown` for less than the sampler's second (reconciliation marks and settles it in one run):
    # its row tells too (a confirmed send keeps its reason, a requeued one is on its second attempt).
    ever_unknown = ever_unknown | {row[0] for row in rows if (row[5] or "").startswith("confirmed with Twilio")
                                   or row[4] > 1}
    for mid, body, status, sid, attempts, reason, _by in rows:
        count, sids = bodies.get(body, (0, []))
        if mid in held_at_kill:
            at_kill["left unknown by the killed worker" if mid in ever_unknown else
                    "reached the fake before the kill" if first_sent.get(body, 1e12) < (killed_at or 0) else
                    "reached the fake after the kill (the other worker's batch)"] += 1
        statuses[status] += 1
        origin["api" if " api " in body else "burst" if " burst " in body else "scheduled"] += 1
        if count > 1:
            duplicated += 1
            duplicates.append({"message": mid, "creates": count, "status": status, "attempts": attempts})
        elif count == 1 and status in SENT_STATUSES:
            once += 1
            sid_mismatch += sid != sids[0]
        elif count == 0 and status in SENT_STATUSES:
            lost += 1
        elif status not in SENT_STATUSES and status != "unknown":
            not_sent += 1
        if mid in ever_unknown:
            unknown_outcome["still unknown" if status == "unknown" else
                            "confirmed sent with Twilio" if reason and reason.startswith("confirmed") else
                            f"requeued and sent again (attempt {attempts})" if status in SENT_STATUSES and count == 1
                            else f"{status}, {count} create(s) at the fake"] += 1
    known = {row[1] for row in rows}
    held = set(held_at_kill)
    return {"texts": len(rows), "by_origin": dict(origin), "statuses": dict(statuses), "sent_once": once,
            "duplicated": duplicated, "duplicates": duplicates[:20], "lost": lost, "not_sent": not_sent,
            "unknown_left": statuses.get("unknown", 0), "sid_mismatch": sid_mismatch,
            "foreign": len(set(bodies) - known), "fake_statuses": dict(load.fake_statuses),
            "fake_errors": len(load.fake.errors), "fake_creates": sum(c for c, _ in bodies.values()),
            "ever_unknown": len(ever_unknown), "unknown_outcome": dict(unknown_outcome),
            "sending_at_kill": len(held), "sending_at_kill_later_unknown": len(held & ever_unknown),
            "sending_at_kill_outcome": dict(at_kill)}


def verify_inbound(engine: sa.Engine, load: Load) -> dict:
    """Each inbound text (by its MessageSid) stored once, however often Twilio delivered it."""
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT twilio_sid, count(*) FROM messages WHERE direction = 'inbound' "
                                           "GROUP BY twilio_sid")).all())
    accepted = {sid for sid, x in load.inbound_sids.items() if x["ok"]}
    return {"texts": len(load.inbound_sids), "accepted": len(accepted),
            "deliveries": sum(x["deliveries"] for x in load.inbound_sids.values()),
            "stored_once": sum(1 for sid in accepted if stored.get(sid) == 1),
            "stored_twice_or_more": sum(1 for sid in accepted if stored.get(sid, 0) > 1),
            "missing": sum(1 for sid in accepted if not stored.get(sid)),
            "stored_unasked": len(set(stored) - set(load.inbound_sids))}


def expected_rows(a: Answer) -> int:
    """Audit rows an answer writes by design."""
    if a.label in PATIENT_DATA and 200 <= a.status < 300:
        return 0 if a.kind in ("help", "retry") else 1
    if a.status == 401 and " /api/v1/patients" in a.label:
        return 1  # a refused token on a patient route is audited (the client's address, no user)
    if a.label == "POST /api/v1/auth/refresh" and a.kind == "reuse" and a.status == 401:
        return 1  # the session ended because a replaced refresh token came back
    if a.group == "coach" and 400 <= a.status < 500 and a.status != 401 and a.label not in ("GET /api/v1/me",
                                                                                          "GET /api/v1/services"):
        return 1  # a refusal by an audited view: written after the rollback
    return OTHER_ROWS.get((a.label, a.status), 0)


def verify_audit(engine: sa.Engine, load: Load, first_id: int) -> dict:
    """Audit rows written during the load, matched to the answers by request id."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT request_id, action, resource, outcome, user_id IS NULL AS no_user FROM audit_events "
            "WHERE id > :first"), {"first": first_id}).all()
    by_request: dict[str, list] = defaultdict(list)
    other = Counter()
    for request_id, action, resource, outcome, no_user in rows:
        if request_id and request_id.startswith("soak-"):
            by_request[request_id].append((action, resource, outcome))
        else:
            other[f"{action} {resource} {outcome} (no request: {'a job' if no_user else 'a user'})"] += 1
    answered = {a.request_id: a for a in load.answers}
    patient_answers = [a for a in load.answers if a.label in PATIENT_DATA and 200 <= a.status < 300]
    rows_for_patient = sum(len(by_request.get(a.request_id, [])) for a in patient_answers)
    audited_answers = [a for a in patient_answers if expected_rows(a)]
    mismatch = Counter()
    for a in load.answers:
        got = len(by_request.get(a.request_id, []))
        if got != expected_rows(a):
            mismatch[f"{a.label} {a.status}{' ' + a.kind if a.kind else ''}: expected {expected_rows(a)}, "
                     f"found {got}"] += 1
    breakdown = Counter()
    for rid, found in by_request.items():
        a = answered.get(rid)
        where = "no answer reached the client" if a is None else \
            "2xx patient-data answer" if a.label in PATIENT_DATA and 200 <= a.status < 300 else \
            f"{a.status} on {a.label}{' (' + a.kind + ')' if a.kind else ''}"
        for action, resource, outcome in found:
            breakdown[f"{where}: {action} {resource} {outcome}"] += 1
    return {"rows": len(rows), "patient_answers": len(patient_answers), "audited_patient_answers":
            len(audited_answers), "rows_for_patient_answers": rows_for_patient,
            "patient_answers_without_row": sum(1 for a in audited_answers if not by_request.get(a.request_id)),
            "patient_answers_with_extra_rows": sum(1 for a in audited_answers
                                                   if len(by_request.get(a.request_id, [])) > 1),
            "unaudited_by_design": Counter(f"{a.label} ({a.kind})" for a in patient_answers
                                           if not expected_rows(a)),
            "mismatches": dict(mismatch), "breakdown": dict(breakdown.most_common()),
            "rows_without_request": dict(other)}


def cpu_minutes(samples: list[tuple[float, dict]]) -> list[dict]:
    """Machine busy and the share of processes outside the benchmark, per minute, from the 5 s snapshots."""
    out = []
    for (t1, s1), (t2, s2) in itertools.pairwise(samples):
        used = cpu_used(s1, s2, t2 - t1)
        used["cpu_s"] = {k: max(0.0, v) for k, v in used["cpu_s"].items()}
        out.append({"t": t1, "seconds": t2 - t1, "busy": used["busy"], "other": used["other"],
                    "cpu_s": used["cpu_s"]})
    minutes = defaultdict(list)
    for x in out:
        minutes[int(x["t"] // 60)].append(x)
    return [{"minute": m, "busy": statistics.fmean(x["busy"] for x in xs),
             "other": statistics.fmean(x["other"] for x in xs)} for m, xs in sorted(minutes.items())]


def versions(redis_port: int) -> dict:
    """uname -r, nproc and the Redis server's version (PostgreSQL's comes from machine_facts)."""
    info = redis.Redis(host=HOST, port=redis_port).info("server")
    return {"uname_r": platform.release(), "nproc": os.cpu_count(), "redis": info.get("redis_version")}


def main(run: ScenarioRun) -> dict:
    """Seed, start the processes, run the load with its two incidents, drain the outbox, check."""
    from fake_twilio import FakeTwilio

    if run.quick or not run.database.is_postgres:
        raise SystemExit("the soak runs on PostgreSQL with its processes only: python -m benchmarks.soak "
                         "--minutes 1 is the short form")
    s, workdir = run.sizes, run.workdir
    seconds, load_before = s["minutes"] * 60, os.getloadavg()
    engine = sa.create_engine(run.database.url, pool_size=2)
    zone, local = daytime_zone()
    subjects = seed(engine, s, zone)
    log(f"seeded {subjects['counts']}; patients' time zone {zone} (local time {local})")

    redis_port = _free_port(6390)
    redis_n = itertools.count()
    redis_proc = start_redis(redis_port, workdir, next(redis_n))
    fake = FakeTwilio(auth_token=secrets.token_hex(16))
    fake.latency = s["fake_latency_ms"] / 1000
    fake.start()
    env = app_env(run.database, False, REDIS_URL=f"redis://{HOST}:{redis_port}/0", PUBLIC_BASE_URL=PUBLIC_BASE_URL,
                  TWILIO_ACCOUNT_SID=fake.account_sid, TWILIO_AUTH_TOKEN=fake.auth_token,
                  TWILIO_API_BASE_URL=fake.base_url, TWILIO_FROM_NUMBER=FROM_NUMBER,
                  SMS_RATE_PER_SECOND=str(s["sms_rate"]), SMS_SEND_LEASE_SECONDS=str(s["lease_s"]),
                  # One client address makes every login: the per-address limit is for people, not for this.
                  LOGIN_ATTEMPTS_PER_ADDRESS="1000 per minute", PYTHONUNBUFFERED="1")
    worker_env = env
    settings = LoadSettings(connections=0, duration=int(seconds), warmup=0, workers=s["gunicorn_workers"])
    servers = [start_gunicorn("backend:create_app()", env, settings, workdir, "/healthz") for _ in range(2)]
    workers = [start_worker(worker_env, workdir, f"worker-{n}") for n in range(2)]
    log(f"redis-server on port {redis_port}; gunicorn on ports {[x.port for x in servers]} "
        f"({s['gunicorn_workers']} workers each); job workers pids {[w.pid for w in workers]}; fake {fake.base_url}")

    load = Load(servers, fake, 0.0, seconds)
    fake.listener = load.on_fake_request
    tokens = {}
    for email in subjects["by_coach"]:
        status, payload, _ = load.call("POST", "/api/v1/auth/login", "POST /api/v1/auth/login", "setup",
                                       body={"email": email, "password": PASSWORD})
        if status != 200:
            raise RuntimeError(f"login as {email}: {status} {payload}")
        tokens[email] = Tokens(payload["access_token"], payload["refresh_token"])
    load.answers.clear()
    with engine.connect() as conn:
        first_audit = conn.scalar(sa.text("SELECT coalesce(max(id), 0) FROM audit_events"))

    all_patients = [pid for pids in subjects["by_coach"].values() for pid in pids]
    start = datetime.now(UTC)
    load.t0 = start.timestamp()
    redis_at, kill_at = seconds * REDIS_AT, seconds * KILL_AT
    per_minute = s["scheduled_per_minute"]
    spread = [start + timedelta(seconds=5 + i * 60 / per_minute) for i in range(int((seconds * 0.9 - 5) / 60
                                                                                     * per_minute))]
    scheduled = schedule_texts(engine, "scheduled", spread, all_patients, 1)
    burst = schedule_texts(engine, "burst", [start + timedelta(seconds=kill_at - 3)] * s["burst"], all_patients,
                           scheduled + 1)
    load.event("load started", scheduled_texts=scheduled, burst_texts=burst)

    def groups():
        return {"gunicorn": [x.proc.pid for x in servers], "job workers": [w.pid for w in workers],
                "soak redis": [redis_proc.pid]}

    sampler = Sampler(load, engine, groups)
    threads = [Coach(load, n, tokens[email], subjects["by_coach"][email], s["think_ms"] / 1000)
               for n, email in enumerate(subjects["by_coach"], 1)]
    revocations = Revocations(load, subjects["probe_users"], s["probe_cycle_s"], 7)
    threads += [threading.Thread(target=inbound_loop, args=(load, subjects["coach_patients"],
                                                            s["inbound_per_minute"], 11), daemon=True),
                threading.Thread(target=callback_loop, args=(load,), daemon=True),
                threading.Thread(target=readiness_loop, args=(load,), daemon=True), revocations]
    sampler.start()
    for thread in threads:
        thread.start()

    held_at_kill: list[int] = []
    killed_at = None
    next_report = 60
    try:
        while load.now() < seconds:
            now = load.now()
            if now >= redis_at and not load.redis_down:
                stopped = load.now()
                stop_process(redis_proc)
                load.redis_down.append([stopped, float("inf")])
                load.event("redis stopped (SIGTERM)")
                time.sleep(1)
                load.burst.set()
                time.sleep(max(0.0, s["redis_down_s"] - (load.now() - stopped)))
                redis_proc = start_redis(redis_port, workdir, next(redis_n))
                load.redis_down[-1][1] = load.now()
                load.event("redis answering again (empty)", down_s=round(load.now() - stopped, 1))
                load.burst.set()
                time.sleep(2)
                load.burst.set()
            elif now >= kill_at and killed_at is None:
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:  # kill it while texts are claimed and going out
                    with engine.connect() as conn:
                        held_at_kill = list(conn.execute(sa.text(
                            "SELECT id FROM messages WHERE status = 'sending'")).scalars())
                    if len(held_at_kill) >= 10:
                        break
                    time.sleep(0.2)
                os.killpg(workers[0].pid, signal.SIGKILL)
                workers[0].wait(timeout=10)
                killed_at = load.now()
                load.event("job worker 0 SIGKILLed", pid=workers[0].pid, texts_sending=len(held_at_kill))
                load.burst.set()
            elif killed_at is not None and workers[0].poll() is not None and now >= killed_at + s["restart_after_s"]:
                workers[0] = start_worker(worker_env, workdir, "worker-0-restarted")
                load.event("job worker 0 started again", pid=workers[0].pid)
            if now >= next_report:
                next_report += 60
                done = [a for a in load.answers if a.started >= now - 60]
                log(f"t={now:.0f}s: {len(load.answers):,} requests ({len(done) / 60:.1f}/s last minute), "
                    f"5xx {sum(a.status >= 500 for a in load.answers)}, no answer "
                    f"{sum(a.status < 0 for a in load.answers)}, texts at the fake "
                    f"{sum(x[0] for x in list(load.bodies.values()))}, revoked tokens {len(revocations.revoked)}, "
                    f"revived {len(revocations.revivals)}")
            time.sleep(0.2)
        load.burst.set()
        time.sleep(1.5)  # the last burst of probes, with the load still on
        load.stop.set()
        load.stop_callbacks.set()  # receipts of texts sent from now on are not sent (they are not needed)
        for thread in threads:
            thread.join(timeout=60)
        load.event("load stopped", requests=len(load.answers))
        if workers[0].poll() is not None:  # the run was shorter than the restart delay
            workers[0] = start_worker(worker_env, workdir, "worker-0-restarted")
            load.event("job worker 0 started again", pid=workers[0].pid)
        deadline = time.monotonic() + s["lease_s"] + 240
        pending = outbox_pending(engine)
        while any(pending.values()) and time.monotonic() < deadline:
            time.sleep(2)
            pending = outbox_pending(engine)
        load.event("outbox drained" if not any(pending.values()) else "outbox NOT drained", **pending)
        time.sleep(2)
        sampler.done.set()
        sampler.join(timeout=10)
        revocations.probe(revocations.revoked, "burst")  # after the drain: every revoked token once more
    finally:
        load.stop.set()
        load.stop_callbacks.set()

    requests_summary = summarise_answers(load)
    texts = verify_texts(engine, load, sampler.ever_unknown, held_at_kill, killed_at)
    inbound = verify_inbound(engine, load)
    audit = verify_audit(engine, load, first_audit)
    by_kind = defaultdict(lambda: {"tokens": 0, "probes": 0, "revived": 0})
    for item in revocations.revoked:
        entry = by_kind[f"{item.kind} ({item.token_type})"]
        entry["tokens"] += 1
        entry["probes"] += item.probes
        entry["revived"] += item.revived
    after_restart = [a for a in load.answers if a.kind == "revoked" and load.redis_down
                     and load.redis_down[0][1] <= a.started <= load.redis_down[0][1] + 10]
    during = [a for a in load.answers if a.kind == "revoked" and phase_of(a, load.redis_down) == "redis_down"]
    revocation = {"revoked_tokens": len(revocations.revoked), "by_kind": dict(by_kind),
                  "probes": sum(1 for a in load.answers if a.kind == "revoked"),
                  "probes_during_outage": len(during), "probes_10s_after_restart": len(after_restart),
                  "probe_statuses": dict(Counter(str(a.status) for a in load.answers if a.kind == "revoked")),
                  "revived": len(revocations.revivals), "revivals": revocations.revivals[:20],
                  "anomalies": revocations.anomalies[:20], "anomaly_count": len(revocations.anomalies),
                  "bursts": revocations.bursts}
    readiness = Counter()
    fails = failures(load, workdir)
    for started, status, said in load.readiness:
        phase = phase_of(Answer(started, started, "", "", 0, 0, ""), load.redis_down)
        readiness[f"{phase}: {status} {said}"] += 1
    facts = machine_facts(engine) | versions(redis_port) | {"load_average_before": load_before,
                                                            "load_average_after": os.getloadavg()}
    result = {
        "machine": facts, "zone": zone, "local_time": local, "seeded": subjects["counts"],
        "coaches": s["coaches"], "probe_users": s["probe_users"], "redis_port": redis_port,
        "events": load.events, "redis_down": load.redis_down, "requests": requests_summary, "failures": fails[:50],
        "failure_count": len(fails), "no_answer": sum(a.status < 0 for a in load.answers), "texts": texts,
        "inbound": inbound, "audit": audit, "revocations": revocation,
        "readiness": dict(readiness), "cpu_minutes": cpu_minutes(sampler.cpu), "log_summary": None,
        "outbox_samples": sampler.samples[:: max(1, len(sampler.samples) // 120)],
    }
    fake.stop()
    for worker in workers:
        stop_process(worker)
    for server in servers:
        stop_process(server.proc)
    stop_process(redis_proc)
    engine.dispose()
    result["log_summary"] = log_summary(workdir)
    check(run, result)
    return result


def check(run: ScenarioRun, r: dict) -> None:
    """The soak's properties."""
    by_label, t, a, v, i = r["requests"]["by_label"], r["texts"], r["audit"], r["revocations"], r["inbound"]
    outside = {k: sum(n for p, n in x["5xx_by_phase"].items() if p != "redis_down") for k, x in by_label.items()}
    during = {k: x["5xx_by_phase"].get("redis_down", 0) for k, x in by_label.items()}
    run.check("no 5xx outside the seconds Redis is down", not sum(outside.values()),
              ", ".join(f"{k}: {n}" for k, n in outside.items() if n) or "0")
    run.check("no 5xx while Redis is down on endpoints that do not use it",
              not sum(n for k, n in during.items() if k not in USES_REDIS),
              ", ".join(f"{k}: {n}" for k, n in during.items() if n and k not in USES_REDIS) or "0")
    run.check("every request answered (no connection error or timeout)", not r["no_answer"],
              f"{r['no_answer']} of {r['requests']['total']:,} without an answer")
    run.check("every text due sent exactly once (0 duplicated, 0 lost)",
              t["duplicated"] == 0 and t["lost"] == 0 and t["not_sent"] == 0 and t["foreign"] == 0
              and t["sid_mismatch"] == 0 and t["texts"] == t["sent_once"] + t["unknown_left"],
              f"{t['sent_once']:,} of {t['texts']:,} once, {t['duplicated']} duplicated, {t['lost']} lost, "
              f"{t['not_sent']} not sent, {t['unknown_left']} left unknown, statuses {t['statuses']}")
    run.check("revocations held (0 revived)", v["revived"] == 0,
              f"{v['probes']:,} probes of {v['revoked_tokens']} revoked tokens, {v['revived']} answered 2xx")
    run.check("one audit row per 2xx patient-data answer", a["patient_answers_without_row"] == 0
              and a["patient_answers_with_extra_rows"] == 0,
              f"{a['audited_patient_answers']:,} audited answers, {a['rows_for_patient_answers']:,} rows; "
              f"{a['patient_answers_without_row']} without, {a['patient_answers_with_extra_rows']} with more")
    run.check("each inbound text stored once", i["stored_twice_or_more"] == 0 and i["missing"] == 0,
              f"{i['stored_once']} of {i['accepted']} once over {i['deliveries']} deliveries")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=SIZES["minutes"], help="length of the load (default 10)")
    parser.add_argument("--database-url", default=LOCAL_SERVER, help="a PostgreSQL server (any database on it); "
                        f"the soak creates {DATABASE_NAME} there and drops it at the end")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (kept anyway when a "
                        "property fails)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write soak.json")
    parser.add_argument("--size", action="append", default=[], metavar="KEY=N",
                        help=f"override a setting: {', '.join(k for k in SIZES if k != 'minutes')}")
    args = parser.parse_args(argv)
    args.command = shlex.join([".venv/bin/python", "-m", "benchmarks.soak",
                               *(sys.argv[1:] if argv is None else argv)])
    return args


def cli(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.soak`: a database of its own, the run, benchmarks/results/soak.json; 1 on a failed
    property."""
    from backend.config import normalise_database_url

    args = parse_args(argv)
    sizes = dict(SIZES, minutes=args.minutes)
    for item in args.size:
        key, _, value = item.partition("=")
        if key not in SIZES:
            raise SystemExit(f"unknown --size {key}")
        sizes[key] = type(SIZES[key])(float(value))
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    workdir = Path(tempfile.mkdtemp(prefix="bridgeline-soak-"))
    database = create_postgres_database(normalise_database_url(args.database_url), DATABASE_NAME)
    log(f"soak: database {database.name}, {args.minutes:g} minutes, logs in {workdir}")
    run = ScenarioRun(database, False, sizes, LoadSettings(connections=0, duration=int(args.minutes * 60), warmup=0,
                                                            workers=sizes["gunicorn_workers"]), workdir)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        migrate(database)
        result = main(run)
    finally:
        stop_processes()
        if not args.keep_database:
            drop_database(database)
    result = {"scenario": "soak", "started_at": started, "command": args.command, "quick": False,
              "database": database.name, "sizes": sizes, "load": vars(run.load), **result, "checks": run.checks}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "soak.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    failed = [c for c in run.checks if not c["ok"]]
    for c in failed:
        print(f"FAILED soak: {c['property']}: {c['detail']}", file=sys.stderr)
    if failed or args.keep_logs:
        log(f"soak: wrote {args.results / 'soak.json'}; the processes' logs are in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        log(f"soak: wrote {args.results / 'soak.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(cli())
