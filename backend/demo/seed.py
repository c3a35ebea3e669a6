"""Seed one demo programme with staff, 120 patients, contacts and tasks."""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa

from backend.contacts.models import Contact, ContactDirection, ContactKind, ContactOutcome
from backend.database import db, utcnow
from backend.patients.models import Acuity, Patient, PatientEvent, PatientEventKind, PatientSource, PatientStatus
from backend.programs.models import Program, ProgramNumber, WarmLine
from backend.shifts.models import Shift
from backend.tasks.models import Task, TaskKind
from backend.users.models import Role, User
from backend.users.passwords import hash_password
from backend.voice.models import Call, CallDirection, CallLeg, CallOutcome, CallStatus, LegKind, LegOutcome
from backend.wellness.models import SupervisionSession, WellnessCheckIn

DEMO_PASSWORD = "bridgeline-demo"  # noqa: S105 - synthetic demo accounts only
FIRST_NAMES = ["Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Rowan",
               "Maria", "José", "Lucía", "Diego", "Ana", "Sam", "Dana", "Robin", "Kai", "Elena"]
LAST_NAMES = ["Rivera", "Nguyen", "Okafor", "Kowalski", "Haddad", "Lindqvist", "Moreau", "Tanaka",
              "García", "Hernández", "Brooks", "Patel", "Fischer", "Novak", "Reyes", "Campbell"]
# 312-555-01xx is kept for the programme's line, the staff's and the partners' phones: no patient shares a number
# with them (an inbound text or call is matched to a patient by number).
PATIENT_AREA_CODES = ["773", "872", "708", "630"]
STATUS_WEIGHTS = {PatientStatus.REFERRED: 20, PatientStatus.ENGAGED: 30, PatientStatus.ACTIVE: 30,
                  PatientStatus.LINKED: 15, PatientStatus.CLOSED: 10, PatientStatus.DECLINED: 5}
OUTCOMES = [ContactOutcome.REACHED] * 4 + [ContactOutcome.NO_ANSWER, ContactOutcome.LEFT_MESSAGE]
TASK_TITLES = ["Call back after discharge", "Confirm intake appointment", "Check in about housing",
               "Follow up on missed call", "Bring resource list"]


def seed_demo(patients: int = 120, seed: int = 20261122) -> str:
    """Insert the demo programme; returns a one-line summary."""
    rng = random.Random(seed)
    now = utcnow()
    program = Program(name="Lakeside General Peer Recovery Program", timezone="America/Chicago",
                      phone="+13125550100")
    db.session.add(program)
    db.session.flush()
    db.session.add(ProgramNumber(program_id=program.id, number=program.phone))  # texts and calls to it are ours
    password_hash = hash_password(DEMO_PASSWORD)
    admin = User(program_id=program.id, email="admin@demo.test", full_name="Pat Admin",
                 role=Role.ADMIN, password_hash=password_hash)
    supervisor = User(program_id=program.id, email="supervisor@demo.test", full_name="Sage Supervisor",
                      role=Role.SUPERVISOR, password_hash=password_hash, phone="+13125550101")
    db.session.add_all([admin, supervisor])
    db.session.flush()
    coaches = [User(program_id=program.id, email=f"coach{i}@demo.test", full_name=f"Coach {name}",
                    role=Role.COACH, password_hash=password_hash, supervisor_id=supervisor.id,
                    phone=f"+1312555{110 + i:04d}")
               for i, name in enumerate(["Robin", "Eli", "Marisol", "Dev", "Toni", "Luz"], start=1)]
    db.session.add_all(coaches)
    db.session.flush()

    counts = {"contacts": 0, "tasks": 0}
    for n in range(patients):
        status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
        coach = None if n % 20 == 19 else coaches[n % len(coaches)]
        created = now - timedelta(days=rng.randint(1, 60), hours=rng.randint(0, 23))
        spanish = rng.random() < 0.2
        patient = Patient(
            program_id=program.id, coach_id=coach.id if coach else None, created_by_id=supervisor.id,
            first_name=rng.choice(FIRST_NAMES), last_name=rng.choice(LAST_NAMES),
            phone=f"+1{PATIENT_AREA_CODES[n // 100 % len(PATIENT_AREA_CODES)]}55501{n % 100:02d}",
            language="es" if spanish else "en", timezone="America/Chicago",
            sms_consent=rng.random() < 0.8, status=status,
            source=rng.choice([PatientSource.ED] * 6 + [PatientSource.INPATIENT, PatientSource.WARM_LINE,
                                                         PatientSource.SELF, PatientSource.PARTNER]),
            acuity=rng.choice([Acuity.LOW, Acuity.STANDARD, Acuity.STANDARD, Acuity.HIGH]),
            declined_peer_support=status == PatientStatus.DECLINED,
            created_at=created, updated_at=created,
            closed_at=created + timedelta(days=5) if status in (PatientStatus.CLOSED, PatientStatus.DECLINED) else None,
        )
        if patient.sms_consent:
            patient.sms_consent_at = created
        db.session.add(patient)
        db.session.flush()
        db.session.add(PatientEvent(patient_id=patient.id, actor_id=supervisor.id, kind=PatientEventKind.CREATED,
                                    details={"source": str(patient.source), "status": "referred"},
                                    occurred_at=created))
        if coach is None:
            continue
        for k in range(rng.randint(1, 8)):
            kind = ContactKind.ED_VISIT if k == 0 else rng.choice(
                [ContactKind.PHONE, ContactKind.PHONE, ContactKind.SMS, ContactKind.IN_PERSON, ContactKind.VIDEO])
            # Mostly daytime (14:00-22:00 UTC is the Chicago working day), inside the demo shifts.
            day = created + timedelta(days=k * rng.randint(1, 5))
            db.session.add(Contact(
                program_id=program.id, patient_id=patient.id, coach_id=coach.id, kind=kind,
                direction=rng.choice(list(ContactDirection)),
                occurred_at=min(now, day.replace(hour=rng.randint(14, 21), minute=rng.randint(0, 59))),
                duration_minutes=rng.randint(2, 45),
                outcome=rng.choice(OUTCOMES),
            ))
            counts["contacts"] += 1
        if status not in (PatientStatus.CLOSED, PatientStatus.DECLINED):
            db.session.add(Task(program_id=program.id, patient_id=patient.id, assignee_id=coach.id,
                                created_by_id=coach.id, kind=rng.choice([TaskKind.CALL_BACK, TaskKind.FOLLOW_UP,
                                                                         TaskKind.CONFIRM_APPOINTMENT]),
                                title=rng.choice(TASK_TITLES), due_at=now + timedelta(hours=rng.randint(-48, 96))))
            counts["tasks"] += 1
    _seed_caseload_history(program, supervisor, coaches, rng, now)
    _seed_partners(program, coaches[0], now)
    _seed_warm_line(program, coaches, now)
    return (f"1 programme, {2 + len(coaches)} staff, {patients} patients, "
            f"{counts['contacts']} contacts, {counts['tasks']} tasks")


def _seed_caseload_history(program: Program, supervisor: User, coaches: list[User], rng: random.Random,
                           now) -> None:
    """Weekday shifts, supervision sessions and check-ins, so the team view has something to say."""
    for coach in coaches:
        for days_ago in range(1, 31):
            start = (now - timedelta(days=days_ago)).replace(hour=14, minute=0, second=0, microsecond=0)
            if start.weekday() < 5:
                db.session.add(Shift(program_id=program.id, coach_id=coach.id, started_at=start,
                                     ended_at=start + timedelta(hours=8), ended_reason="ended"))
    for coach in coaches[:2]:
        coach.on_shift = True
        db.session.add(Shift(program_id=program.id, coach_id=coach.id, started_at=now - timedelta(hours=2)))
    for coach in coaches[:4]:
        db.session.add(SupervisionSession(program_id=program.id, coach_id=coach.id, supervisor_id=supervisor.id,
                                          held_at=now - timedelta(days=rng.randint(3, 20)), duration_minutes=45,
                                          notes="Caseload review and self-care plan.", follow_ups=["Check in Friday"]))
    db.session.add(WellnessCheckIn(program_id=program.id, coach_id=coaches[2].id, stress=4, energy=2,
                                   wants_supervisor_contact=True))
    db.session.add(WellnessCheckIn(program_id=program.id, coach_id=coaches[0].id, stress=2, energy=4,
                                   proqol_compassion_satisfaction=41, proqol_burnout=22,
                                   proqol_secondary_traumatic_stress=20))


def _seed_partners(program: Program, coach: User, now) -> None:
    """A few synthetic partners with services, point people and capacity reports."""
    from backend.partners.models import CapacityReport, Organization, PartnerContact, Service, ServiceAttribute

    catalogue = [
        ("Lakeview Withdrawal Center", "+13125550150", [
            ("Medical detox", ["detox"], ["medicaid", "uninsured"], ["buprenorphine"], True, 3),
            ("Residential program", ["residential"], ["medicaid", "private"], [], False, 0)]),
        ("Southside Community Health", "+13125550151", [
            ("Bridge clinic (MOUD)", ["outpatient_moud"], ["medicaid", "medicare", "sliding_scale"],
             ["buprenorphine", "naltrexone"], True, None),
            ("Counselling", ["counselling", "behavioral_health"], ["medicaid", "private"], [], False, None)]),
        ("Harbor Harm Reduction", "+13125550152", [
            ("Syringe services and naloxone", ["harm_reduction"], ["uninsured"], [], True, None)]),
    ]
    for name, phone, services in catalogue:
        org = Organization(program_id=program.id, name=name, description=f"{name} (synthetic demo partner)",
                           phone=phone, last_verified_at=now - timedelta(days=20))
        db.session.add(org)
        db.session.flush()
        db.session.add(PartnerContact(organization_id=org.id, name="Intake Desk", title="Intake coordinator",
                                      phone=phone, best_hours="Weekdays 8-11am"))
        for title, types, payers, moud, walk_in, beds in services:
            service = Service(program_id=program.id, organization_id=org.id, name=title, walk_in=walk_in,
                              minimum_age=18, phone=phone, last_verified_at=now - timedelta(days=20),
                              attributes=[ServiceAttribute(kind=k, value=v) for k, values in
                                          (("service_type", types), ("payer", payers), ("moud", moud),
                                           ("language", ["en", "es"])) for v in values])
            db.session.add(service)
            db.session.flush()
            if beds is not None:
                report = CapacityReport(service_id=service.id, unit="bed", available=beds, maximum=20,
                                        reported_by_id=coach.id, reported_at=now - timedelta(hours=3))
                db.session.add(report)
                db.session.flush()
                service.latest_capacity_id = report.id


def _seed_warm_line(program: Program, coaches: list[User], now) -> None:
    """Warm-line hours (weekdays 8-22, weekends 10-20, Chicago), 988 as the crisis line, and a few past calls."""
    hours = [{"weekday": d, "opens": "08:00", "closes": "22:00"} for d in range(5)]
    hours += [{"weekday": d, "opens": "10:00", "closes": "20:00"} for d in (5, 6)]
    db.session.add(WarmLine(program_id=program.id, hours=hours, crisis_number="988"))
    known = db.session.scalar(sa.select(Patient).where(Patient.coach_id == coaches[0].id).limit(1))
    history = [(3, coaches[0], known, CallOutcome.ANSWERED), (2, None, None, CallOutcome.VOICEMAIL),
               (1, None, None, CallOutcome.MISSED)]
    for days_ago, coach, patient, outcome in history:
        started = now - timedelta(days=days_ago, hours=1)
        call = Call(program_id=program.id, direction=CallDirection.INBOUND, status=CallStatus.COMPLETED,
                    outcome=outcome, program_number=program.phone,
                    external_number=patient.phone if patient else f"+1630555{180 + days_ago:04d}",
                    patient_id=patient.id if patient else None, coach_id=coach.id if coach else None,
                    started_at=started, answered_at=started + timedelta(seconds=9) if coach else None,
                    ended_at=started + timedelta(minutes=12 if coach else 1),
                    duration_seconds=711 if coach else 60, voicemail_sid=(
                        "RE" + "0" * 31 + "1" if outcome == CallOutcome.VOICEMAIL else None),
                    voicemail_seconds=34 if outcome == CallOutcome.VOICEMAIL else None)
        db.session.add(call)
        db.session.flush()
        db.session.add(CallLeg(call_id=call.id, kind=LegKind.COACH, position=1, user_id=coaches[1].id,
                               number=coaches[1].phone, rung_at=started, ended_at=started + timedelta(seconds=15),
                               outcome=LegOutcome.NO_ANSWER))
        if coach is not None:
            db.session.add(CallLeg(call_id=call.id, kind=LegKind.COACH, position=2, user_id=coach.id,
                                   number=coach.phone, rung_at=started + timedelta(seconds=15),
                                   answered_at=started + timedelta(seconds=20), outcome=LegOutcome.ACCEPTED,
                                   ended_at=call.ended_at))
        else:
            task = Task(program_id=program.id, assignee_id=coaches[0].id, kind=TaskKind.CALL_BACK,
                        title=("Call back: voicemail on the warm line" if outcome == CallOutcome.VOICEMAIL
                               else "Call back: missed warm-line call"),
                        note=f"Caller's number: {call.external_number}", due_at=started + timedelta(minutes=30))
            db.session.add(task)
            db.session.flush()
            call.callback_task_id = task.id
