"""Warm-line calls (voice issue): the webhook sequences of calls, paced as Twilio paces them, on gunicorn.

    python -m benchmarks voice        # then: python -m benchmarks.render

On PostgreSQL (its own database, dropped at the end unless --size
keep_database=1): one programme owning +13125550100 (`program_numbers`), its
warm line open (a `warm_lines` row with override `open`), coaches on shift with
synthetic 555-01xx phones, patients whose phones (+1 630 555-01xx) some callers
use. The app runs under `gunicorn 'backend:create_app()'` (sync workers,
production settings) with TWILIO_* pointing at a `fake_twilio.FakeTwilio`
started inside this process: the app's REST calls (`calls.create` to ring a
coach, `calls(sid).update` to stop a leg) go to it. PUBLIC_BASE_URL is
https://bridgeline-voice.test: the URL every webhook is signed for (as behind a
proxy); the requests themselves go to gunicorn on 127.0.0.1.

The driver plays Twilio: an asyncio loop starts calls at their arrival times
and plays each call's webhooks with a real call's pauses, every request signed
with the fake's auth token (`RequestValidator`), one connection per request
(sync workers close it). A call a coach takes: inbound `POST
/webhooks/twilio/voice` → the coach leg's status `initiated`, `ringing` → the
caller, after the "please hold" prompt, joins the conference (`participant-join`
event, the wait URL) → the coach answers after 3-5 s (`.../legs/<id>/screen`,
leg status `in-progress`) → presses 1 2.5-4 s later (`.../accept`) → joins
(`participant-join`, `conference-start`) → talks → one side hangs up (the
caller 70 %: `participant-leave` x2, `conference-end`, the caller's Dial action
`.../calls/<id>/after`, the caller's status `completed`, the leg's `completed`;
else the coach first). A call no free coach can take is answered with the
voicemail greeting: 70 % of those callers leave a message after 12-18 s
(`/recorded`, their status `completed`, then `/recording`), the others hang up
during the greeting. The leg of a call (its id and the SID the fake gave it)
is read from `call_legs`, as Twilio would know it.

Measured: the latency of every webhook answer, by kind and overall; errors
(no answer or not 200, not TwiML, the apology TwiML the app serves when a
webhook raised, or TwiML of the wrong shape for the step). Checked from the
database after each run: no coach rung or held for two calls at once (the
rung_at..ended_at intervals of one coach's legs never overlap), every call
completed with an outcome and every leg ended, one accepted leg at most per
call, no coach left reserved (`line_states.busy_call_id`), one fake
`calls.create` per leg. First the spec run (50 calls arriving within 10 s,
20 coaches, talk 20-40 s), then the saturation search: calls at rising rates
(5, 10, 20, 40 per second for 15 s each, talk shortened to 3-6 s, enough
coaches for every call), halving below 5 if needed, then bisecting the
bracket: the rate at which the p95 of all webhook answers crosses 50 ms. Last, 12
calls at 1/s with the fake answering each REST request after 150 ms (the app calls
Twilio inside some webhooks). Runs where other processes took over 10 % of the
CPU (the machine is shared) are repeated once; the quieter is reported. While
each run plays, pg_stat_activity is sampled every 50 ms for sessions waiting on a
lock.
--quick: the same driver in-process (Flask's test client in threads), 12 callers
at once for 4 coaches, pauses at 2 % of real time, the properties only.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import re
import secrets
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa

from benchmarks.data import PROGRAM_ID, SUPERVISOR_ID, BaseData, analyze, insert_rows, load_base, reset_sequences
from benchmarks.dispatch import cpu_probe
from benchmarks.harness import (
    HOST,
    TICKS,
    ScenarioRun,
    Server,
    app_env,
    bench_app,
    cpu_snapshot,
    cpu_used,
    drop_database,
    log,
    machine_facts,
    start_gunicorn,
    stop_process,
    wait_for_quiet,
)

SIZES = {"coaches": 20, "calls": 50, "window_s": 10, "patients": 80, "talk_min_s": 20, "talk_max_s": 40,
         "pace_percent": 100, "saturation": 1, "step_s": 15, "sat_talk_min_s": 3, "sat_talk_max_s": 6, "refine": 2,
         "goal_ms": 50, "timeout_s": 15, "attempts": 2, "other_percent": 10, "latency_probe_ms": 150,
         "keep_database": 0}
QUICK = dict(SIZES, coaches=4, calls=12, window_s=1, patients=8, pace_percent=2, saturation=0, latency_probe_ms=0)
CONNECTIONS = 0  # no wrk
RATES = (5, 10, 20, 40)  # calls per second, in this order until the p95 crosses the goal
LINE = "+13125550100"  # the programme's number (program_numbers)
PUBLIC_BASE_URL = "https://bridgeline-voice.test"  # what Twilio signs; requests go to gunicorn on 127.0.0.1
PREFIX = "/webhooks/twilio/voice"
# Synthetic numbers, all 555-01xx: coaches 555-0110..0189 in these area codes (80 each), patients +1 630 555-01xx,
# other callers 555-0100..0199 in other area codes. None is the programme's number (+1 312 555-0100 / -0199).
COACH_AREAS = ("312", "773", "872", "708", "847", "224", "331", "464")
STRANGER_AREAS = ("815", "779", "217", "309", "618", "219", "574", "262")
MAX_COACHES = 80 * len(COACH_AREAS)
KNOWN_SHARE = 0.4  # callers who are patients of the programme
# A real call's pauses (seconds, before pace_percent): the coach's phone rings, the whisper plays before the coach
# presses 1, the caller hears "please hold" before joining the conference, the voicemail greeting, the message.
RING, PRESS, HOLD_PROMPT, GREETING, MESSAGE, EARLY_HANGUP = (3.0, 5.0), (2.5, 4.0), 4.0, (12.0, 18.0), \
    (5.0, 20.0), (3.0, 12.0)
LEAVES_MESSAGE, CALLER_ENDS = 0.7, 0.7
APOLOGY = "something went wrong on our side"
EMPTY = ("<Response />", "<Response></Response>")
KINDS = ("incoming", "wait", "screen", "accept", "status", "events", "after", "recorded", "recording")


def coach_phone(k: int) -> str:
    """The k-th coach's phone (0-based)."""
    return f"+1{COACH_AREAS[k // 80]}555{110 + k % 80:04d}"


def patient_phone(i: int) -> str:
    """The i-th patient's phone (0-based, < 100)."""
    return f"+1630555{100 + i:04d}"


def stranger_phone(j: int) -> str:
    """The j-th caller who is nobody's patient."""
    return f"+1{STRANGER_AREAS[(j // 100) % len(STRANGER_AREAS)]}555{100 + j % 100:04d}"


# -- data -----------------------------------------------------------------------------------------------------------


def seed(engine: sa.Engine, coaches: int, patients: int) -> dict:
    """The programme, its number and open warm line, `coaches` coaches (phones; none on shift yet), patients."""
    from backend.patients.models import Patient
    from backend.programs.hours import DEFAULT_HOURS
    from backend.programs.models import ProgramNumber, WarmLine
    from backend.users.models import User

    rng = random.Random(20261124)
    with engine.begin() as conn:
        counts = load_base(conn, BaseData(coaches, 0))
        for k in range(coaches):
            conn.execute(User.__table__.update().where(User.id == SUPERVISOR_ID + 1 + k)
                         .values(phone=coach_phone(k), on_shift=False))
        now = datetime.now(UTC)
        counts["patients"] = insert_rows(conn, Patient, [
            {"id": i + 1, "program_id": PROGRAM_ID, "coach_id": SUPERVISOR_ID + 1 + i % min(coaches, 20),
             "first_name": f"Caller{i}", "last_name": "Bench", "phone": patient_phone(i),
             "timezone": "America/Chicago", "language": "es" if rng.random() < 0.2 else "en", "sms_consent": True,
             "sms_consent_at": now, "status": rng.choice(["engaged", "active", "active", "linked"]), "source": "ed",
             "acuity": rng.choice(["low", "standard", "standard", "high"]), "created_by_id": SUPERVISOR_ID,
             "created_at": now, "updated_at": now} for i in range(patients)])
        reset_sequences(conn, Patient)
        counts["coaches"] = coaches
        insert_rows(conn, ProgramNumber, [{"program_id": PROGRAM_ID, "number": LINE}])
        insert_rows(conn, WarmLine, [{"program_id": PROGRAM_ID, "hours": [dict(h) for h in DEFAULT_HOURS],
                                      "override": "open", "override_until": None}])
    analyze(engine)
    return counts


def set_on_shift(engine: sa.Engine, coaches: int) -> None:
    """The first `coaches` coaches on shift, the others off."""
    from backend.users.models import User

    with engine.begin() as conn:
        conn.execute(User.__table__.update().where(User.role == "coach")
                     .values(on_shift=User.id <= SUPERVISOR_ID + coaches))


# -- the calls ------------------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """One caller: when they call, from where, and how the call goes if a coach takes it (or not)."""

    at: float
    caller: str
    ring: float
    press: float
    talk: float
    caller_ends: bool
    greeting: float  # voicemail: heard before the beep, or before hanging up
    message: float  # voicemail: seconds of message (0: hung up during the greeting)


def plans(rng: random.Random, count: int, window: float, talk: tuple[float, float], callers: list[str]) -> list[Plan]:
    """`count` calls at uniform random times within `window` seconds (a Poisson process given its count)."""
    result = []
    for at, caller in zip(sorted(rng.uniform(0, window) for _ in range(count)), callers, strict=False):
        leaves = rng.random() < LEAVES_MESSAGE
        result.append(Plan(at, caller, rng.uniform(*RING), rng.uniform(*PRESS), rng.uniform(*talk),
                           rng.random() < CALLER_ENDS, rng.uniform(*(GREETING if leaves else EARLY_HANGUP)),
                           rng.uniform(*MESSAGE) if leaves else 0.0))
    return result


def caller_numbers(rng: random.Random, count: int, patients: int, offset: int) -> list[str]:
    """Distinct callers where the pool allows: about 40 % of them patients."""
    known = [patient_phone(i) for i in range(patients)]
    rng.shuffle(known)
    out, k = [], 0
    for n in range(count):
        if known and rng.random() < KNOWN_SHARE:
            out.append(known[k % len(known)])
            k += 1
        else:
            out.append(stranger_phone(offset + n))
    return out


@dataclass
class Sample:
    kind: str
    t: float  # seconds since the run started, when the request was sent
    ms: float
    problem: str | None


@dataclass
class Driver:
    """Twilio's side of the calls: signed webhooks, paced; every answer timed and judged."""

    post: Callable[[str, dict[str, str], str], Awaitable[tuple[int, str]]]
    lookup: Callable[[int], Awaitable[tuple[int, str | None, str] | None]]
    auth_token: str
    account_sid: str
    pace: float
    timeout: float
    samples: list[Sample] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    sids: list[str] = field(default_factory=list)
    started: float = 0.0

    def __post_init__(self):
        from twilio.request_validator import RequestValidator

        self.validator = RequestValidator(self.auth_token)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds * self.pace))

    async def hook(self, kind: str, path: str, params: dict[str, str], expect: tuple[str, ...]) -> str | None:
        """POST one signed webhook; its answer, or None (and the problem noted) if it is not what Twilio needs."""
        signature = self.validator.compute_signature(PUBLIC_BASE_URL + path, params)
        sent = time.perf_counter()
        status, body = 0, ""
        try:
            status, body = await asyncio.wait_for(self.post(path, params, signature), self.timeout)
            problem = None if status == 200 else f"HTTP {status}"
        except TimeoutError:
            problem = f"no answer within {self.timeout:.0f} s"
        except OSError as exc:
            problem = f"connection: {type(exc).__name__}"
        ms = (time.perf_counter() - sent) * 1000
        if problem is None:
            problem = ("not TwiML" if "<Response" not in body else "apology TwiML (the webhook raised)"
                       if APOLOGY in body else None if any(e in body for e in expect) else "unexpected TwiML")
        self.samples.append(Sample(kind, sent - self.started, ms, problem))
        if problem:
            if len(self.problems) < 20:
                route = re.sub(r"/\d+/", "/<id>/", path)
                self.problems.append(f"{kind} {route}: {problem}: {body[:200]}")
            return None
        return body

    async def run(self, calls: list[Plan]) -> float:
        """Play every call from its arrival time; the wall seconds until the last one ended."""
        self.started = time.perf_counter()
        await asyncio.gather(*(self.call(plan) for plan in calls))
        return time.perf_counter() - self.started

    async def call(self, plan: Plan) -> None:
        await asyncio.sleep(max(0.0, plan.at * self.pace - (time.perf_counter() - self.started)))
        sid = "CA" + secrets.token_hex(16)
        self.sids.append(sid)
        caller = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "CallSid": sid, "From": plan.caller,
                  "To": LINE, "Caller": plan.caller, "Called": LINE, "Direction": "inbound"}
        begun = time.perf_counter()
        body = await self.hook("incoming", PREFIX, caller | {"CallStatus": "ringing"}, ("<Conference", "<Record"))
        if body is None:  # Twilio plays its error message and the call ends
            self.outcomes["failed"] += 1
            await self.caller_status(caller, begun)
            return
        if "<Record" in body:
            self.outcomes["voicemail"] += 1
            await self.voicemail(plan, caller, begun)
            return
        call_id = int(re.search(r"bridgeline-call-(\d+)", body)[1])
        leg = await self.lookup(call_id)
        if leg is None or leg[1] is None:
            self.outcomes["failed"] += 1
            if len(self.problems) < 20:
                self.problems.append(f"call {call_id}: waiting, but no coach leg with a SID in call_legs")
            await self.caller_status(caller, begun)
            return
        room = Room(self, call_id, "CF" + secrets.token_hex(16))
        _, answered = await asyncio.gather(self.caller_waits(room, sid), self.coach(plan, room, *leg))
        self.outcomes["answered" if answered else "failed"] += 1
        await self.hang_up(plan, room, caller, begun, leg, answered)

    async def caller_waits(self, room: Room, sid: str) -> None:
        """The caller hears "please hold", joins the conference (not started yet) and hears the wait URL."""
        await self.sleep(HOLD_PROMPT)
        await asyncio.gather(room.event("participant-join", sid, ends=True),
                             self.hook("wait", f"{PREFIX}/calls/{room.call_id}/wait", room.caller_params(sid),
                                       ("<Play",)))

    async def coach(self, plan: Plan, room: Room, leg_id: int, leg_sid: str, number: str) -> bool:
        """The coach's phone rings, they answer, hear the whisper, press 1 and join; False if a step failed."""
        leg = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "CallSid": leg_sid, "From": LINE,
               "To": number, "Direction": "outbound-api", "CallbackSource": "call-progress-events"}
        status = f"{PREFIX}/legs/{leg_id}/status"
        await self.sleep(0.1)
        await self.hook("status", status, leg | {"CallStatus": "initiated", "SequenceNumber": "0"}, EMPTY)
        await self.sleep(0.4)
        await self.hook("status", status, leg | {"CallStatus": "ringing", "SequenceNumber": "1"}, EMPTY)
        await self.sleep(plan.ring - 0.5)
        screen, _ = await asyncio.gather(
            self.hook("screen", f"{PREFIX}/legs/{leg_id}/screen", leg | {"CallStatus": "in-progress"}, ("<Gather",)),
            self.hook("status", status, leg | {"CallStatus": "in-progress", "SequenceNumber": "2"}, EMPTY))
        if screen is None:
            return False
        await self.sleep(plan.press)
        joined = await self.hook("accept", f"{PREFIX}/legs/{leg_id}/accept",
                                 leg | {"CallStatus": "in-progress", "Digits": "1", "FinishedOnKey": ""},
                                 ("<Conference",))
        if joined is None:
            return False
        await self.sleep(0.3)
        await room.event("participant-join", leg_sid)
        await room.event("conference-start", None)
        return True

    async def hang_up(self, plan: Plan, room: Room, caller: dict, begun: float, leg: tuple[int, str, str],
                      answered: bool) -> None:
        """The talk, then one side hangs up and Twilio reports the ends (in the order it would); after a failed
        step, Twilio drops the coach's leg and the caller."""
        leg_id, leg_sid, number = leg
        if answered:
            await self.sleep(plan.talk)
        leg_done = self.hook("status", f"{PREFIX}/legs/{leg_id}/status", {
            "AccountSid": self.account_sid, "CallSid": leg_sid, "CallStatus": "completed", "SequenceNumber": "3",
            "From": LINE, "To": number, "CallDuration": str(math.ceil(plan.talk * self.pace) + 4),
            "CallbackSource": "call-progress-events", "Direction": "outbound-api"}, EMPTY)
        if not answered:
            await leg_done
            await self.caller_left(room, caller, begun)
        elif plan.caller_ends:
            await self.caller_left(room, caller, begun)
            await self.sleep(0.3)
            await room.event("participant-leave", leg_sid)
            await leg_done
        else:  # the coach hangs up; the app asks Twilio to end the caller's call
            await room.event("participant-leave", leg_sid)
            await leg_done
            await self.sleep(0.5)
            await self.caller_left(room, caller, begun)

    async def caller_left(self, room: Room, caller: dict, begun: float) -> None:
        sid = caller["CallSid"]
        await room.event("participant-leave", sid, ends=True)
        await room.event("conference-end", None)
        seconds = str(math.ceil(time.perf_counter() - begun))
        await asyncio.gather(
            self.hook("after", f"{PREFIX}/calls/{room.call_id}/after", caller | {
                "CallStatus": "completed", "DialCallStatus": "answered", "DialCallDuration": seconds}, ("<Hangup",)),
            self.caller_status(caller, begun))

    async def caller_status(self, caller: dict, begun: float) -> None:
        await self.hook("status", f"{PREFIX}/status", caller | {
            "CallStatus": "completed", "SequenceNumber": "0",
            "CallDuration": str(math.ceil(time.perf_counter() - begun))}, EMPTY)

    async def voicemail(self, plan: Plan, caller: dict, begun: float) -> None:
        """The greeting, then a message (the Record action, the end, the recording's callback) or a hang-up."""
        await self.sleep(plan.greeting)
        if not plan.message:
            await self.caller_status(caller, begun)
            return
        await self.sleep(plan.message)
        recording = {"RecordingSid": "RE" + secrets.token_hex(16), "RecordingDuration": str(math.ceil(plan.message)),
                     "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/x"}
        await self.hook("recorded", f"{PREFIX}/recorded", caller | recording | {"CallStatus": "completed",
                                                                                 "Digits": "hangup"}, ("<Hangup",))
        await self.caller_status(caller, begun)
        await self.sleep(1.5)
        await self.hook("recording", f"{PREFIX}/recording", {
            "AccountSid": self.account_sid, "CallSid": caller["CallSid"], "RecordingStatus": "completed",
            "RecordingChannels": "1", "RecordingSource": "RecordVerb", **recording}, EMPTY)


@dataclass
class Room:
    """The call's conference, as its status callback reports it."""

    driver: Driver
    call_id: int
    sid: str
    sequence: int = 0

    def caller_params(self, sid: str) -> dict[str, str]:
        return {"AccountSid": self.driver.account_sid, "CallSid": sid, "CallStatus": "in-progress", "To": LINE,
                "Direction": "inbound", "ApiVersion": "2010-04-01"}

    async def event(self, event: str, participant: str | None, ends: bool = False) -> None:
        self.sequence += 1
        params = {"AccountSid": self.driver.account_sid, "ConferenceSid": self.sid, "StatusCallbackEvent": event,
                  "FriendlyName": f"bridgeline-call-{self.call_id}", "SequenceNumber": str(self.sequence),
                  "Timestamp": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())}
        if participant:
            params |= {"CallSid": participant, "Muted": "false", "Hold": "false", "Coaching": "false",
                       "EndConferenceOnExit": "true" if ends else "false",
                       "StartConferenceOnEnter": "true"}
        await self.driver.hook("events", f"{PREFIX}/calls/{self.call_id}/events", params, EMPTY)


# -- transports -----------------------------------------------------------------------------------------------------


def http_transport(server: Server):
    """POST over a fresh loopback connection per request (gunicorn's sync workers close it anyway)."""

    async def post(path: str, params: dict[str, str], signature: str) -> tuple[int, str]:
        body = urlencode(params).encode()
        reader, writer = await asyncio.open_connection(HOST, server.port)
        try:
            writer.write(f"POST {path} HTTP/1.1\r\nHost: {HOST}:{server.port}\r\nUser-Agent: TwilioProxy/1.1\r\n"
                         "Content-Type: application/x-www-form-urlencoded\r\n"
                         f"Content-Length: {len(body)}\r\nX-Twilio-Signature: {signature}\r\n"
                         "Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
        head, _, payload = raw.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), payload.decode("utf-8", "replace")

    return post


def flask_transport(app, pool: ThreadPoolExecutor):
    """POST through Flask's test client, each request on a thread of `pool` (a client and context of its own)."""

    def post_sync(path: str, params: dict[str, str], signature: str) -> tuple[int, str]:
        response = app.test_client().post(path, data=params, headers={"X-Twilio-Signature": signature})
        return response.status_code, response.get_data(as_text=True)

    async def post(path: str, params: dict[str, str], signature: str) -> tuple[int, str]:
        return await asyncio.get_running_loop().run_in_executor(pool, post_sync, path, params, signature)

    return post


def leg_lookup(engine: sa.Engine, pool: ThreadPoolExecutor):
    """The coach leg being rung for a call (its id and the SID Twilio gave it), read from `call_legs`."""
    from backend.voice.models import CallLeg

    def lookup_sync(call_id: int) -> tuple[int, str | None, str] | None:
        with engine.connect() as conn:
            row = conn.execute(sa.select(CallLeg.id, CallLeg.twilio_sid, CallLeg.number).where(
                CallLeg.call_id == call_id, CallLeg.kind == "coach").order_by(CallLeg.position.desc()).limit(1)).first()
        return tuple(row) if row else None

    async def lookup(call_id: int):
        return await asyncio.get_running_loop().run_in_executor(pool, lookup_sync, call_id)

    return lookup


# -- figures and checks ---------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def latency(values: list[float]) -> dict:
    return {"count": len(values), "p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95),
            "p99_ms": percentile(values, 99), "max_ms": max(values, default=0.0),
            "mean_ms": statistics.fmean(values) if values else 0.0}


def figures(driver: Driver) -> dict:
    """Latency by kind and overall, errors by kind of problem, requests per second."""
    by_kind = defaultdict(list)
    for x in driver.samples:
        by_kind[x.kind].append(x.ms)
    per_second = Counter(int(x.t) for x in driver.samples)
    errors = Counter(x.problem.split(":")[0] for x in driver.samples if x.problem)
    return {"by_kind": {k: latency(by_kind[k]) for k in KINDS if by_kind[k]},
            "overall": latency([x.ms for x in driver.samples]), "requests": len(driver.samples),
            "errors": sum(errors.values()), "errors_by_problem": dict(errors),
            "errors_by_kind": dict(Counter(x.kind for x in driver.samples if x.problem)),
            "error_examples": driver.problems, "peak_rps": max(per_second.values(), default=0),
            "outcomes_seen": dict(driver.outcomes)}


def verify(engine: sa.Engine, sids: list[str], fake) -> dict:
    """The database after a run: coaches never double-booked, every call ended, nobody left reserved."""
    from backend.voice.models import Call, CallLeg, LineState

    with engine.connect() as conn:
        calls = []
        for i in range(0, len(sids), 500):
            calls += conn.execute(sa.select(Call.id, Call.status, Call.outcome, Call.ended_at, Call.coach_id)
                                  .where(Call.twilio_sid.in_(sids[i:i + 500]))).all()
        ids = [c.id for c in calls]
        legs = []
        for i in range(0, len(ids), 500):
            legs += conn.execute(sa.select(CallLeg.id, CallLeg.call_id, CallLeg.user_id, CallLeg.outcome,
                                           CallLeg.rung_at, CallLeg.ended_at, CallLeg.twilio_sid)
                                 .where(CallLeg.call_id.in_(ids[i:i + 500]))).all()
        reserved = conn.execute(sa.select(LineState.user_id, LineState.busy_call_id)
                                .where(LineState.busy_call_id.is_not(None))).all()
    by_user, accepted_by_call = defaultdict(list), defaultdict(list)
    for leg in legs:
        by_user[leg.user_id].append(leg)
        if str(leg.outcome) == "accepted":
            accepted_by_call[leg.call_id].append(leg)
    overlaps, accepted_overlaps, double_booked = [], 0, set()
    for user, own in by_user.items():
        own.sort(key=lambda x: x.rung_at)
        for a, b in zip(own, own[1:], strict=False):  # sorted by start: an overlap shows between neighbours
            if a.ended_at is None or b.rung_at < a.ended_at:
                double_booked.add(user)
                accepted_overlaps += str(a.outcome) == str(b.outcome) == "accepted"
                if len(overlaps) < 10:
                    overlaps.append(f"coach {user}: leg {a.id} (call {a.call_id}, {a.rung_at}..{a.ended_at}) and "
                                    f"leg {b.id} (call {b.call_id}, from {b.rung_at})")
    coach_of = {c.id: c.coach_id for c in calls}
    created = {r.response.get("sid") for r in fake.requests
               if r.method == "POST" and r.path.endswith("/Calls.json") and r.response_status == 201}
    creates = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/Calls.json")]
    return {
        "calls_placed": len(sids), "calls_filed": len(calls), "legs": len(legs),
        "statuses": dict(Counter(str(c.status) for c in calls)),
        "outcomes": dict(Counter(str(c.outcome) for c in calls)),
        "not_ended": sum(1 for c in calls if str(c.status) != "completed" or c.outcome is None or c.ended_at is None),
        "legs_not_ended": sum(1 for leg in legs if leg.ended_at is None),
        "leg_outcomes": dict(Counter(str(leg.outcome) for leg in legs)),
        "coaches_rung": len(by_user), "double_booked_coaches": len(double_booked), "overlaps": overlaps,
        "accepted_overlaps": accepted_overlaps,
        "calls_with_two_accepted": sum(1 for x in accepted_by_call.values() if len(x) > 1),
        "coach_mismatch": sum(1 for call_id, x in accepted_by_call.items() if coach_of.get(call_id) != x[0].user_id),
        "reserved_left": len(reserved),
        "legs_without_fake_call": sum(1 for leg in legs if leg.twilio_sid not in created),
        "fake_creates_total": len(creates), "fake_create_statuses": dict(Counter(r.response_status for r in creates)),
        "fake_errors": len(fake.errors),
    }


def properties(label: str, v: dict, f: dict, expect_answered: int | None, exact: bool,
               timeouts_count: bool) -> list[tuple[str, bool, str]]:
    """The run's properties: (property, held, detail). Past saturation an answer slower than Twilio's 15 s is a
    figure, not a broken property (`timeouts_count` False); any answer that came must still be right."""
    wrong = {k: n for k, n in f["errors_by_problem"].items() if timeouts_count or not k.startswith("no answer")}
    out = [
        (f"{label}: no coach rung or held for two calls at once", v["double_booked_coaches"] == 0
         and v["calls_with_two_accepted"] == 0 and v["coach_mismatch"] == 0,
         f"{v['legs']} legs over {v['coaches_rung']} coaches, {v['double_booked_coaches']} coaches with overlapping "
         f"legs ({v['accepted_overlaps']} overlapping accepted), {v['calls_with_two_accepted']} calls with two "
         f"accepted legs, {v['coach_mismatch']} calls whose coach is not the accepted leg's"
         + (": " + "; ".join(v["overlaps"]) if v["overlaps"] else "")),
        (f"{label}: every call filed once and ended with an outcome, every leg ended",
         v["calls_filed"] == v["calls_placed"] and v["not_ended"] == 0 and v["legs_not_ended"] == 0,
         f"{v['calls_filed']} of {v['calls_placed']} calls filed, {v['not_ended']} not ended, "
         f"{v['legs_not_ended']} legs not ended; outcomes {v['outcomes']}"),
        (f"{label}: no coach left reserved", v["reserved_left"] == 0,
         f"{v['reserved_left']} line_states rows with busy_call_id set"),
        (f"{label}: every leg rung once at the fake Twilio", v["legs_without_fake_call"] == 0 and v["fake_errors"] == 0,
         f"{v['legs_without_fake_call']} legs without a fake call, fake errors {v['fake_errors']}, calls.create "
         f"answers so far {v['fake_create_statuses']}"),
        (f"{label}: every webhook answered 200 with the TwiML its step needs"
         + ("" if timeouts_count else " (when it answered within 15 s)"), not wrong,
         f"{f['requests']:,} webhooks, errors {f['errors_by_problem'] or 0}"
         + (f": {'; '.join(f['error_examples'][:3])}" if f["error_examples"] else "")),
    ]
    if expect_answered is not None:  # exact when nobody frees a coach before the last caller has called
        answered = v["outcomes"].get("answered", 0)
        out.append((f"{label}: every coach took a call" + (", and only one" if exact else ""),
                    answered == expect_answered if exact else answered >= expect_answered,
                    f"{answered} calls answered, {'' if exact else 'at least '}{expect_answered} expected"))
    return out


def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving `database` (the machine's other databases are not
    ours: another engineer's tests use the same server)."""
    out, marker = {}, f" {database} ".encode()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, ValueError):
            if not (cmd := Path(f"/proc/{entry}/cmdline").read_bytes()).startswith(b"postgres:") or marker not in cmd:
                continue
            raw = Path(f"/proc/{entry}/stat").read_text()
            out[int(entry)] = sum(int(f) for f in raw[raw.rindex(")") + 2:].split()[11:13]) / TICKS
    return out


class LockWaits:
    """Samples pg_stat_activity every `interval` s while open: the app's sessions waiting for a lock, by statement."""

    QUERY = sa.text("SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")

    def __init__(self, engine: sa.Engine, interval: float = 0.05):
        self.engine, self.interval, self.samples, self.waiting, self.pid = engine, interval, 0, Counter(), None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="voice-lock-waits", daemon=True)

    def _poll(self) -> None:
        with self.engine.connect() as conn:
            self.pid = conn.scalar(sa.text("SELECT pg_backend_pid()"))
            while not self._stop.wait(self.interval):
                self.samples += 1
                self.waiting.update(re.sub(r"\d+", "N", x) for x in conn.execute(self.QUERY).scalars())
                conn.rollback()

    def __enter__(self) -> LockWaits:
        if self.engine.dialect.name == "postgresql":
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def summary(self) -> dict:
        """Samples taken, session-seconds spent waiting (samples x interval), the statements that waited."""
        return {"samples": self.samples, "interval_s": self.interval,
                "wait_session_s": sum(self.waiting.values()) * self.interval,
                "by_statement": dict(self.waiting.most_common(8))}


# -- runs -----------------------------------------------------------------------------------------------------------


@dataclass
class Context:
    run: ScenarioRun
    engine: sa.Engine
    fake: object
    make_driver: Callable[[float], Driver]
    server: Server | None
    rng: random.Random
    max_seed: int
    offset: int = 0


def play(ctx: Context, label: str, rate: float, count: int, window: float, coaches: int,
         talk: tuple[float, float], pace: float = 1.0) -> dict:
    """One run: `count` calls within `window` seconds for `coaches` coaches on shift; figures, CPU, checks."""
    set_on_shift(ctx.engine, coaches)
    callers = caller_numbers(ctx.rng, count, ctx.run.sizes["patients"], ctx.offset)
    ctx.offset += count
    calls = plans(ctx.rng, count, window, talk, callers)
    if not ctx.run.quick:
        wait_for_quiet(ctx.run.load.quiet_wait)
    probe = 0.0 if ctx.run.quick else cpu_probe()  # this VM's speed drifts: a fixed loop's ms, before each run
    driver = ctx.make_driver(pace)
    groups = {"gunicorn": [ctx.server.proc.pid]} if ctx.server else {}
    before, pg_before = cpu_snapshot(groups), backend_cpu(ctx.run.database.name)
    with LockWaits(ctx.engine) as waits:
        wall = asyncio.run(driver.run(calls))
    cpu = cpu_used(before, cpu_snapshot(groups), wall)
    # PostgreSQL: the backends of this database only; "other" then includes the server's other sessions.
    cpu["cpu_s"].pop("redis", None)  # not used by the app here
    cpu["cpu_s"]["postgres"] = sum(x - pg_before.get(pid, 0.0) for pid, x in backend_cpu(ctx.run.database.name).items()
                                   if pid != waits.pid)  # not the sampler's own session
    cpu["other"] = max(0.0, cpu["machine_s"] - sum(cpu["cpu_s"].values())) / (wall * (os.cpu_count() or 1))
    f = figures(driver)
    v = verify(ctx.engine, driver.sids, ctx.fake)
    o = f["overall"]
    timings = "" if ctx.run.quick else (f"p50 {o['p50_ms']:.1f} ms, p95 {o['p95_ms']:.1f} ms, machine "
                                        f"{cpu['busy']:.0%} busy ({cpu['other']:.0%} other processes), ")
    log(f"{label}: {count} calls in {window:g} s ({rate:g}/s), {coaches} coaches: {f['requests']:,} webhooks, "
        f"{timings}errors {f['errors']}, outcomes {v['outcomes']}")
    return {"label": label, "rate": rate, "calls": count, "window_s": window, "coaches": coaches,
            "talk_s": list(talk), "wall_s": wall, **f, "verification": v,
            "cpu_s": cpu["cpu_s"], "busy": cpu["busy"], "other": cpu["other"],
            "cpu_ms_per_call": {k: x * 1000 / count for k, x in cpu["cpu_s"].items()}, "lock_waits": waits.summary(),
            "mean_rps": f["requests"] / wall if wall else 0.0, "probe_ms": probe}


def measured(ctx: Context, label: str, rate: float, count: int, window: float, coaches: int,
             talk: tuple[float, float], expect_answered: int | None = None, timeouts_count: bool = True) -> dict:
    """`play`, repeated (up to `attempts`) while other processes took more than `other_percent` of the CPU; the
    quietest attempt is reported. Its properties are recorded, and those of any other attempt that broke one."""
    s, attempts = ctx.run.sizes, []
    tries = 1 if ctx.run.quick else max(1, s["attempts"])
    for n in range(tries):
        attempts.append(play(ctx, label, rate, count, window, coaches, talk))
        if attempts[-1]["other"] * 100 <= s["other_percent"]:
            break
        if n + 1 < tries:
            log(f"other processes used {attempts[-1]['other']:.0%} of the CPU: repeating {label}")
    best = min(attempts, key=lambda x: x["other"])
    exact = not ctx.run.quick
    for n, result in enumerate(attempts, 1):
        props = properties(label if result is best else f"{label} (attempt {n}, not reported)",
                           result["verification"], result, expect_answered, exact, timeouts_count)
        if result is best or not all(ok for _, ok, _ in props):
            for prop, ok, detail in props:
                if result is best or not ok:
                    ctx.run.check(prop, ok, detail)
    best["attempts"] = [{"n": n, "other": x["other"], "busy": x["busy"], "p95_ms": x["overall"]["p95_ms"],
                         "errors": x["errors"], "reported": x is best} for n, x in enumerate(attempts, 1)]
    return best


def saturation(ctx: Context) -> dict:
    """Rising call rates until the p95 of every answer crosses the goal, then bisect the bracket."""
    s, steps = ctx.run.sizes, {}
    goal, talk = s["goal_ms"], (s["sat_talk_min_s"], s["sat_talk_max_s"])
    held = sum(RING) / 2 + sum(PRESS) / 2 + sum(talk) / 2 + 1  # seconds a coach is held by a call, on average

    def step(rate: float) -> dict:
        count = max(1, round(rate * s["step_s"]))
        # Little's law, with room for bursts: enough coaches that callers are answered, not sent to voicemail.
        coaches = min(ctx.max_seed, count, max(s["coaches"], math.ceil(rate * held * 1.3) + 5))
        result = measured(ctx, f"{rate:g} calls/s", rate, count, s["step_s"], coaches, talk, timeouts_count=False)
        steps[rate] = result
        return result

    def fails(rate: float) -> bool:
        return steps[rate]["overall"]["p95_ms"] >= goal

    for rate in RATES:
        step(rate)
        if fails(rate):
            break
    passing, failing = [r for r in steps if not fails(r)], [r for r in steps if fails(r)]
    rate = min(RATES)
    while not passing and rate > 0.6:  # the lowest rate failed: halve until one passes
        rate /= 2
        step(rate)
        passing = [r for r in steps if not fails(r)]
    failing = [r for r in steps if fails(r)]
    for _ in range(s["refine"]):
        if not (passing and failing):
            break
        lo, hi = max(passing), min((x for x in failing if x > max(passing)), default=0)
        if hi - lo <= 0.5:
            break
        mid = round((lo + hi) / 2, 1)
        step(mid)
        passing, failing = [r for r in steps if not fails(r)], [r for r in steps if fails(r)]
    lo = max(passing, default=None)
    hi = min((x for x in failing if lo is None or x > lo), default=None)
    estimate = None
    if lo is not None and hi is not None:
        p_lo, p_hi = steps[lo]["overall"]["p95_ms"], steps[hi]["overall"]["p95_ms"]
        estimate = lo + (goal - p_lo) * (hi - lo) / (p_hi - p_lo) if p_hi > p_lo else lo
    log(f"saturation: p95 crosses {goal} ms between {lo} and {hi} calls/s (interpolated {estimate})")
    return {"steps": [steps[r] for r in sorted(steps)], "passing": lo, "failing": hi, "estimate": estimate,
            "goal_ms": goal, "order": list(steps)}


def log_summary(path) -> dict[str, int]:
    """Warnings and errors the app logged, counted by their first words (numbers and ids masked)."""
    counts = Counter()
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            if re.search(r"WARNING|ERROR|CRITICAL|Traceback|Exception", line):
                counts[re.sub(r"\d+", "N", line)[:140]] += 1
    return dict(counts.most_common(20))


def main(run: ScenarioRun) -> dict:
    """Seed, start the fake and the app, the spec run, then the saturation search."""
    from fake_twilio import FakeTwilio

    s = run.sizes
    max_seed = min(MAX_COACHES, max(s["coaches"], round(max(RATES) * s["step_s"])) if s["saturation"]
                   else s["coaches"])
    engine = sa.create_engine(run.database.url)
    fake = FakeTwilio(auth_token=secrets.token_hex(16)).start()
    pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="voice-bench")
    server = None
    try:
        seeded = seed(engine, max_seed, s["patients"])
        twilio = {"TWILIO_ACCOUNT_SID": fake.account_sid, "TWILIO_AUTH_TOKEN": fake.auth_token,
                  "TWILIO_API_BASE_URL": fake.base_url, "PUBLIC_BASE_URL": PUBLIC_BASE_URL}
        if run.quick:
            app = bench_app(run.database, **twilio)
            post = flask_transport(app, pool)
        else:
            server = start_gunicorn("backend:create_app()", app_env(run.database, False, **twilio), run.load,
                                    run.workdir, "/healthz")
            post = http_transport(server)
        lookup = leg_lookup(engine, pool)
        pace = s["pace_percent"] / 100

        def make_driver(speed: float) -> Driver:
            return Driver(post, lookup, fake.auth_token, fake.account_sid, pace * speed, s["timeout_s"])

        ctx = Context(run, engine, fake, make_driver, server, random.Random(20261125), max_seed)
        result = {"machine": machine_facts(engine), "seeded": seeded, "public_base_url": PUBLIC_BASE_URL,
                  "pacing": {"ring_s": RING, "press_s": PRESS, "hold_prompt_s": HOLD_PROMPT, "greeting_s": GREETING,
                             "message_s": MESSAGE, "early_hangup_s": EARLY_HANGUP, "leaves_message": LEAVES_MESSAGE,
                             "caller_ends": CALLER_ENDS, "known_share": KNOWN_SHARE, "pace": pace},
                  "rates": RATES}
        talk = (s["talk_min_s"], s["talk_max_s"])
        if not run.quick:  # every gunicorn worker connects and warms up on calls that are not measured
            result["warmup"] = play(ctx, "warm-up", 4, 12, 3, s["coaches"], (2, 4), pace=0.25)
        # Nobody frees a coach before the last caller has called (ring + press + talk > window): the first
        # `coaches` callers get one, the others the voicemail greeting.
        held = RING[0] + PRESS[0] + talk[0] > s["window_s"]
        spec = measured(ctx, "spec run", s["calls"] / s["window_s"], s["calls"], s["window_s"], s["coaches"], talk,
                        min(s["coaches"], s["calls"]) if held else None)
        result["spec"] = spec
        if not run.quick:
            goal = s["goal_ms"]
            o = spec["overall"]
            log(f"spec run: p95 {o['p95_ms']:.1f} ms (goal < {goal} ms: {'met' if o['p95_ms'] < goal else 'NOT met'})")
        result["saturation"] = saturation(ctx) if s["saturation"] and not run.quick else None
        result["latency_probe"] = None
        if s["latency_probe_ms"] and not run.quick:  # the app calls Twilio inside some webhooks: at Twilio's pace?
            fake.latency = s["latency_probe_ms"] / 1000
            result["latency_probe"] = measured(ctx, f"fake Twilio at {s['latency_probe_ms']} ms", 1, 12, 12,
                                               s["coaches"], (s["sat_talk_min_s"], s["sat_talk_max_s"]))
            fake.latency = 0.0
        if server:
            stop_process(server.proc)
            result["log_summary"] = log_summary(run.workdir / f"gunicorn-{server.port}.log")
        result["fake"] = {"requests": len(fake.requests), "errors": fake.errors[:5], "by_path": dict(Counter(
            re.sub(r"/CA[0-9a-f]{32}", "/<CallSid>", r.path.split("/Accounts/")[-1])
            + f" {r.method} {r.response_status}" for r in fake.requests))}
        return result
    finally:
        if server:
            stop_process(server.proc)
        fake.stop()
        pool.shutdown(wait=False, cancel_futures=True)
        engine.dispose()
        if not run.quick and not s["keep_database"]:
            drop_database(run.database)
            log(f"dropped database {run.database.name} (--size keep_database=1 keeps it)")


# -- docs/PERFORMANCE.md --------------------------------------------------------------------------------------------


def voice_section(r: dict) -> list[str]:
    """The generated block of the "Warm line (voice issue)" section (`python -m benchmarks.render`)."""
    from benchmarks.render import table

    m, pg, s, spec, sat = r["machine"], r["machine"].get("pg_settings", {}), r["sizes"], r["spec"], r["saturation"]
    p, goal = r["pacing"], s["goal_ms"]

    def ms(x: float) -> str:
        return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"

    def kind_rows(x: dict) -> list[list]:
        rows = [[f"`{k}`", f"{v['count']:,}", ms(v["p50_ms"]), ms(v["p95_ms"]), ms(v["p99_ms"]), ms(v["max_ms"]),
                 x["errors_by_kind"].get(k, 0)] for k, v in x["by_kind"].items()]
        o = x["overall"]
        return rows + [["**all**", f"{o['count']:,}", ms(o["p50_ms"]), f"**{ms(o['p95_ms'])}**", ms(o["p99_ms"]),
                        ms(o["max_ms"]), f"**{x['errors']}**"]]

    def cpu(x: dict) -> str:
        c = x["cpu_ms_per_call"]
        return f"{c['gunicorn']:.0f} / {c['postgres']:.0f} / {c['benchmark script']:.0f}"

    def waits(x: dict) -> str:
        w = x["lock_waits"]
        return (f"{w['wait_session_s']:.2f} session-seconds in {w['samples']} samples"
                + (": " + "; ".join(f"`{q}` × {n}" for q, n in w["by_statement"].items()) if w["by_statement"]
                   else ""))

    def attempts(x: dict) -> str:
        return ", ".join(f"{a['other']:.0%}" + ("" if a["reported"] else f" (p95 {ms(a['p95_ms'])})")
                         for a in x["attempts"])

    v, o = spec["verification"], spec["overall"]
    met = o["p95_ms"] < goal
    out = [
        f"Measured {r['started_at']} by `benchmarks/voice.py`. Reproduce from the project root with:", "", "```sh",
        r["command"], "```", "",
        "(`--size KEY=N` changes a setting below, e.g. `--size saturation=0` for the spec run alone, `--size "
        f"keep_database=1` keeps `{r['database']}`; `--quiet-wait` is how long each run may wait for a quiet "
        "machine; `python -m benchmarks.render` writes this block from `benchmarks/results/voice.json`.)", "",
        "**Machine** (shared: read the \"other processes\" figures before comparing latencies)", "",
        f"- nproc: {m['nproc']}; CPU: {m['cpu']}; RAM: {m['ram']}; kernel {m['kernel']}",
        f"- PostgreSQL {m.get('postgresql')} on 127.0.0.1 (shared_buffers={pg.get('shared_buffers')} x 8 kB, "
        f"synchronous_commit={pg.get('synchronous_commit')}, fsync={pg.get('fsync')}), database `{r['database']}` "
        "created for the run and dropped after it; no Redis (no webhook uses it)",
        f"- Python {m['python']}; gunicorn, PostgreSQL, the load generator and the fake Twilio (both in the "
        f"benchmark process) share the same {m['nproc']} cores, **and so did another engineer's test runs** "
        "(pytest, headless-browser tests, their own PostgreSQL databases) during this run. Each measured run records "
        "the share of the machine's CPU that processes outside the benchmark took; a run where it was over "
        f"{s['other_percent']} % was repeated (at most {s['attempts']} attempts, each after waiting up to "
        f"{r['load']['quiet_wait']} s for a quiet machine) and the quietest attempt is reported. The PostgreSQL "
        "CPU column counts the backends of the benchmark's database only (the other engineer's sessions on the same "
        "server count as other processes), without the server's background writers. This VM's speed also drifts: "
        "\"CPU probe\" is the ms a fixed pure-Python loop took (best of 3) just before each run (lower is faster).",
        "",
        "**Set-up**", "",
        f"- Data (synthetic, inserted through the models' tables, schema at migration {m['migration']}): 1 programme "
        f"(America/Chicago) owning {LINE} in `program_numbers`, its `warm_lines` row with override `open` (ring "
        "timeout 15 s, 3 coaches at most per call, 60 s wait: the defaults), "
        f"{r['seeded']['coaches']} coaches with 555-01xx phones (the first "
        f"{s['coaches']} on shift for the spec run, as many as each saturation step needs after), "
        f"{r['seeded']['patients']} open patients with +1 630 555-01xx phones spread over the first 20 coaches; "
        f"{p['known_share']:.0%} of the callers are those patients, the others nobody's patient",
        f"- `gunicorn -w {r['load']['workers']} -b 127.0.0.1:PORT 'backend:create_app()'` (sync workers), "
        f"BRIDGELINE_ENV=production, LOG_LEVEL=WARNING, PUBLIC_BASE_URL={r['public_base_url']} (what the webhooks "
        "are signed for, as behind a proxy; requests go to 127.0.0.1), TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN / "
        "TWILIO_API_BASE_URL of a `fake_twilio.FakeTwilio` in the benchmark process (0 ms latency): the app rings "
        "each coach with the real SDK's `calls.create` and stops legs with `calls(sid).update`",
        "- Twilio's side (an asyncio loop in the benchmark process, one new connection per request, every request "
        "signed with `RequestValidator`, latency = connect to last byte, timeout 15 s as Twilio's): calls arrive at "
        "uniform random times within the window. A call a coach takes: inbound webhook → the coach leg's status "
        "`initiated` (0.1 s) and `ringing` (0.5 s) → after the caller's \"please hold\" prompt "
        f"({p['hold_prompt_s']:g} s) the conference's `participant-join` event and the wait URL → the coach answers "
        f"after {p['ring_s'][0]:g}–{p['ring_s'][1]:g} s (`screen`, with the leg's `in-progress` status) → presses 1 "
        f"{p['press_s'][0]:g}–{p['press_s'][1]:g} s later (`accept`) → `participant-join` and `conference-start` "
        f"→ the talk → the caller hangs up ({p['caller_ends']:.0%}: `participant-leave`, `conference-end`, the "
        "caller's Dial action `after` and status `completed`, then `participant-leave` and the leg's `completed`) "
        "or the coach does (the leg first, then the caller's end). A call no free coach can take hears the "
        f"voicemail greeting: {p['leaves_message']:.0%} of those callers leave a "
        f"{p['message_s'][0]:g}–{p['message_s'][1]:g} s message after {p['greeting_s'][0]:g}–{p['greeting_s'][1]:g} "
        "s (`recorded`, their status `completed`, 1.5 s later the recording's callback `recording`), the others "
        f"hang up after {p['early_hangup_s'][0]:g}–{p['early_hangup_s'][1]:g} s. The driver reads the coach leg's id "
        "and SID from `call_legs` once per call (one indexed SELECT; Twilio knows its legs).",
        "- An error is an answer that is not 200, not TwiML, the apology TwiML the app serves when a webhook raised "
        "(always a 200), TwiML of the wrong shape for the step (e.g. \"no longer waiting\" to a coach pressing 1), "
        "or no answer within 15 s.",
        f"- Before the measured runs, {r['warmup']['calls']} calls at 4× speed warm every gunicorn worker up (not "
        f"measured; {r['warmup']['errors']} errors, properties "
        f"{'held' if _held(r['warmup']['verification']) else 'BROKEN'}).", "",
        f"**Spec run**: {spec['calls']} calls within {spec['window_s']:g} s, {spec['coaches']} coaches on shift, talk "
        f"{spec['talk_s'][0]:g}–{spec['talk_s'][1]:g} s ({spec['wall_s']:.0f} s until the last call ended; "
        f"{spec['requests']:,} webhooks, at most {spec['peak_rps']} in one second; outcomes "
        + ", ".join(f"{k} {n}" for k, n in sorted(v["outcomes"].items())) + f"; machine {spec['busy']:.0%} busy, "
        f"other processes {spec['other']:.0%} — attempts' other share: {attempts(spec)}; CPU probe "
        f"{spec['probe_ms']:.0f} ms)", "",
        table(["webhook", "answers", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"], kind_rows(spec), "lrrrrrr"),
        "", f"**Goals** (p95 of the TwiML answers < {goal} ms, 0 errors, no coach double-booked)", "",
        f"- p95 of all {o['count']:,} answers: **{ms(o['p95_ms'])} ms** (goal < {goal} ms: "
        f"**{'met' if met else 'NOT met'}**); the inbound webhook alone: p95 "
        f"{ms(spec['by_kind']['incoming']['p95_ms'])} ms",
        f"- Errors: **{spec['errors']}**" + (f" ({spec['errors_by_problem']})" if spec["errors"] else "")
        + f" (goal 0: **{'met' if not spec['errors'] else 'NOT met'}**)",
        f"- Coaches double-booked: **{v['double_booked_coaches']}** ({v['legs']} legs over {v['coaches_rung']} "
        f"coaches, none overlapping another of the same coach; {v['calls_with_two_accepted']} calls with two "
        f"accepted legs); coaches left reserved: {v['reserved_left']}; calls not ended with an outcome: "
        f"{v['not_ended']} (goal 0: **{'met' if _held(v) else 'NOT met'}**)",
        f"- CPU per call (ms; gunicorn / PostgreSQL / benchmark process = driver + fake Twilio): {cpu(spec)}",
        f"- Sessions waiting for a lock (pg_stat_activity every {spec['lock_waits']['interval_s'] * 1000:.0f} ms): "
        + waits(spec), ""]
    if sat:
        rows = [[f"{x['rate']:g}", x["calls"], x["coaches"], f"{x['requests']:,}", x["peak_rps"],
                 ms(x["overall"]["p50_ms"]), f"**{ms(x['overall']['p95_ms'])}**",
                 ms(x["by_kind"]["incoming"]["p95_ms"]), ms(x["overall"]["p99_ms"]), ms(x["overall"]["max_ms"]),
                 x["errors"], x["verification"]["outcomes"].get("answered", 0), cpu(x),
                 f"{x['lock_waits']['wait_session_s']:.1f}", f"{x['probe_ms']:.0f}", f"{x['busy']:.0%}",
                 attempts(x), "yes" if x["overall"]["p95_ms"] < goal else "**no**"] for x in sat["steps"]]
        first = sat["steps"][0]
        if sat["passing"] is not None and sat["failing"] is not None:
            verdict = (f"**the p95 crosses {goal} ms between {sat['passing']:g} and {sat['failing']:g} calls/s** "
                       f"(linear interpolation between the two: {sat['estimate']:.1f} calls/s)")
        elif sat["failing"] is None:
            verdict = f"the p95 stayed under {goal} ms up to {sat['passing']:g} calls/s, the highest rate tried"
        else:
            verdict = f"the p95 was over {goal} ms already at {sat['failing']:g} calls/s, the lowest rate tried"
        out += [
            f"**Saturation** (calls at each rate for {first['window_s']:g} s, talk shortened to "
            f"{first['talk_s'][0]:g}–{first['talk_s'][1]:g} s to keep the run short, the other pauses as above; "
            "enough coaches on shift that callers are answered (rate × mean time a coach is held × 1.3 + 5); "
            f"rates tried, in this order: {', '.join(f'{x:g}' for x in sat['order'])} ("
            f"{', '.join(f'{x:g}' for x in RATES)} until the p95 crossed {goal} ms, halving below "
            f"{min(RATES)} if needed, then bisecting); latency of every webhook of the step's calls)", "",
            table(["calls/s", "calls", "coaches", "webhooks", "peak/s", "p50 ms", "p95 ms", "inbound p95", "p99 ms",
                   "max ms", "errors", "answered", "CPU ms/call gunicorn / pg / bench", "lock waits s",
                   "CPU probe ms", "machine busy", "other processes (attempts)", f"p95 < {goal}"], rows,
                  "rrrrrrrrrrrrrrrrlc"), "",
            f"- Saturation point: {verdict}. Errors past it are answers slower than Twilio's 15 s.",
            "- Lock waits (session-seconds a session of the app spent waiting for a lock, sampled): "
            + "; ".join(f"{x['rate']:g}/s: {waits(x)}" for x in sat["steps"] if x["lock_waits"]["by_statement"])
            + ("" if any(x["lock_waits"]["by_statement"] for x in sat["steps"]) else "none seen"), ""]
    probe = r.get("latency_probe")
    if probe:
        rows = [[f"`{k}`", f"{spec['by_kind'][k]['count']:,} / {x['count']:,}",
                 f"{ms(spec['by_kind'][k]['p50_ms'])} / {ms(x['p50_ms'])}",
                 f"{ms(spec['by_kind'][k]['p95_ms'])} / **{ms(x['p95_ms'])}**"]
                for k, x in probe["by_kind"].items() if k in spec["by_kind"]]
        out += [f"**With a slower Twilio** (the fake answering each REST request after {s['latency_probe_ms']} ms "
                f"instead of at once, to show what Twilio's own response time adds; {probe['calls']} calls within "
                f"{probe['window_s']:g} s, {probe['coaches']} coaches, talk {probe['talk_s'][0]:g}–"
                f"{probe['talk_s'][1]:g} s; machine {probe['busy']:.0%} busy, other processes {probe['other']:.0%}; "
                f"errors {probe['errors']})", "",
                table(["webhook", "answers (spec run / here)", "p50 ms (spec run / here)", "p95 ms (spec run / here)"],
                      rows, "lrrr"), "",
                "- The app makes its REST calls to Twilio inside the webhook's request, after the commit and before "
                "answering: `calls.create` (ringing the coach) in the inbound webhook, `calls(sid).update` (stopping "
                "a leg or the caller) in the status callbacks that end a call; those answers wait for Twilio's.", ""]
    fake, logs = r["fake"], r.get("log_summary") or {}
    out += ["**Fake Twilio and the app's log**", "",
            f"- REST requests the app made: {fake['requests']:,}: "
            + ", ".join(f"`{k}` {n:,}" for k, n in sorted(fake["by_path"].items())) + " (a 404 is the app hanging up "
            "a caller whose call the fake never placed: the driver's own callers; the app takes a 404 as \"already "
            f"gone\"); fake errors: {len(fake['errors'])}",
            "- Warnings and errors gunicorn logged: " + ("; ".join(f"`{k}` × {n}" for k, n in logs.items())
                                                         if logs else "none"),
            "", "**Properties checked** (`python -m benchmarks --quick voice` checks the spec run's properties "
            "in-process: 12 callers at once for 4 coaches, pauses at 2 % of real time)", ""]
    rates = defaultdict(list)  # the saturation steps' properties, one line each
    for c in r["checks"]:
        step, _, prop = c["property"].partition(" calls/s: ")
        if prop and c["ok"]:
            rates[prop].append(step)
        else:
            out.append(f"- {'held' if c['ok'] else '**FAILED**'}: {c['property']} ({c['detail']})")
    out += [f"- held at {', '.join(steps)} calls/s: {prop}" for prop, steps in rates.items()]
    return out


def _held(v: dict) -> bool:
    return not (v["double_booked_coaches"] or v["calls_with_two_accepted"] or v["coach_mismatch"] or v["not_ended"]
                or v["legs_not_ended"] or v["reserved_left"] or v["calls_filed"] != v["calls_placed"])
