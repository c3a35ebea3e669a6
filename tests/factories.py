"""Synthetic test data (.test e-mails, 555-01xx phone numbers), committed through the ORM."""

from __future__ import annotations

import itertools
from datetime import timedelta

from backend.contacts.models import Contact, ContactKind, ContactOutcome
from backend.database import db, utcnow
from backend.patients.models import Patient, PatientSource
from backend.programs.models import Program, ProgramNumber
from backend.tasks.models import Task
from backend.users.models import Role, User
from backend.users.passwords import hash_password

PASSWORD = "correct horse battery staple"
_serial = itertools.count(1)


# 312 is kept for programme lines and staff phones, so no patient ever shares a number with them.
PATIENT_AREA_CODES = ["773", "872", "708", "630"]
PROGRAM_LINES = ["+13125550100"] + [f"+131255501{n:02d}" for n in range(99, 89, -1)]


def synthetic_phone(n: int) -> str:
    """A fictional US number in the 555-01xx range (a patient's: never a programme line or a staff phone)."""
    area = PATIENT_AREA_CODES[n // 100 % len(PATIENT_AREA_CODES)]
    return f"+1{area}55501{n % 100:02d}"


class Factory:
    """Creates committed rows in their own app context and returns them detached."""

    def __init__(self, app):
        self.app = app
        self._lines = iter(PROGRAM_LINES)

    def _save(self, obj):
        with self.app.app_context():
            db.session.add(obj)
            db.session.commit()
            return obj

    def program(self, name: str = "Test Programme", **kw) -> Program:
        """A programme that owns its own line (the first one in a test owns +1 312 555 0100)."""
        phone = kw.pop("phone", None) or next(self._lines)
        with self.app.app_context():
            program = Program(name=name, timezone=kw.pop("timezone", "America/Chicago"), phone=phone, **kw)
            db.session.add(program)
            db.session.flush()
            db.session.add(ProgramNumber(program_id=program.id, number=phone))
            db.session.commit()
            return program

    def user(self, role: str = "coach", program: Program | None = None, *, email: str | None = None,
             password: str = PASSWORD, **kw) -> User:
        program = program or self.program()
        n = next(_serial)
        return self._save(User(program_id=program.id, email=email or f"user{n}@example.test",
                               full_name=kw.pop("full_name", f"Staff Member {n}"), role=Role(role),
                               password_hash=hash_password(password), **kw))

    def patient(self, coach: User | None = None, program_id: int | None = None, **kw) -> Patient:
        n = next(_serial)
        values = {"first_name": f"Pat{n}", "last_name": "Example", "phone": synthetic_phone(n),
                  "timezone": "America/Chicago", "source": PatientSource.ED, "sms_consent": True}
        values.update(kw)
        return self._save(Patient(program_id=program_id or coach.program_id,
                                  coach_id=coach.id if coach else None, **values))

    def patients(self, coach: User, count: int, **kw) -> list[Patient]:
        with self.app.app_context():
            rows = []
            for _ in range(count):
                n = next(_serial)
                rows.append(Patient(program_id=coach.program_id, coach_id=coach.id, first_name=f"Pat{n}",
                                    last_name="Example", phone=synthetic_phone(n),
                                    **{"timezone": "America/Chicago", "source": PatientSource.ED, **kw}))
            db.session.add_all(rows)
            db.session.commit()
            return rows

    def contact(self, patient: Patient, coach: User, **kw) -> Contact:
        values = {"kind": ContactKind.PHONE, "outcome": ContactOutcome.REACHED, "occurred_at": utcnow()}
        values.update(kw)
        return self._save(Contact(program_id=patient.program_id, patient_id=patient.id, coach_id=coach.id,
                                  **values))

    def task(self, assignee: User, patient: Patient | None = None, **kw) -> Task:
        values = {"title": "Call back", "due_at": utcnow() + timedelta(days=1)}
        values.update(kw)
        return self._save(Task(program_id=assignee.program_id, assignee_id=assignee.id,
                               patient_id=patient.id if patient else None, **values))
