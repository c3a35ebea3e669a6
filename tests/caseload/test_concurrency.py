"""Caps hold when many requests race for the same coach (real threads, real connections)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from backend.database import db
from backend.patients.models import Patient, PatientStatus
from backend.users.models import User

pytestmark = pytest.mark.slow


def race(app, headers, requests):
    """Fire (path, body) requests at once from many threads, each with its own client and connection."""
    def send(item):
        path, body = item
        return app.test_client().post(path, json=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


def test_fifty_racing_assignments_to_a_coach_with_cap_ten(app, factory, program, supervisor, login):
    headers = login(supervisor).headers
    for _round in range(20):
        coach = factory.user("coach", program, caseload_cap=10)
        waiting = factory.patients(coach, 50)
        with app.app_context():
            db.session.execute(sa.update(Patient).where(Patient.id.in_([p.id for p in waiting])).values(coach_id=None))
            db.session.commit()
        statuses = race(app, headers, [(f"/api/v1/patients/{p.id}/assignment", {"coach_id": coach.id})
                                       for p in waiting])
        assert statuses.count(200) == 10 and statuses.count(409) == 40, statuses
        with app.app_context():
            held = db.session.scalar(
                sa.select(sa.func.count()).select_from(Patient).where(Patient.coach_id == coach.id))
        assert held == 10


def test_two_hundred_racing_automatic_assignments_never_exceed_a_cap(app, factory, program, supervisor, login):
    headers = login(supervisor).headers
    caps = [3, 5, 8, 10, 14]
    coaches = [factory.user("coach", program, caseload_cap=cap, on_shift=True) for cap in caps]
    body = {"first_name": "Race", "last_name": "Test", "source": "ed"}
    statuses = race(app, headers, [("/api/v1/patients", body)] * 200)
    assert statuses.count(201) == 200
    with app.app_context():
        held = dict(db.session.execute(
            sa.select(Patient.coach_id, sa.func.count()).where(Patient.status != PatientStatus.CLOSED)
            .group_by(Patient.coach_id)).all())
        for coach, cap in zip(coaches, caps, strict=True):
            assert held.get(coach.id, 0) == cap, (coach.id, held)
            assert db.session.get(User, coach.id).on_shift
    assert held[None] == 200 - sum(caps)
