"""The supervisor's team view: load against cap and burnout level with reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import time_machine

from backend.contacts.models import ContactKind, ContactOutcome
from backend.database import db, utcnow
from backend.shifts.models import Shift
from backend.wellness.models import SupervisionSession, WellnessCheckIn
from tests.conftest import run_named_job


def row_for(rows, coach):
    return next(r for r in rows if r["coach_id"] == coach.id)


def codes(row):
    return {r["code"] for r in row["reasons"]}


def supervised(app, coach, supervisor, days_ago=1):
    with app.app_context():
        db.session.add(SupervisionSession(program_id=coach.program_id, coach_id=coach.id, supervisor_id=supervisor.id,
                                          held_at=utcnow() - timedelta(days=days_ago), duration_minutes=30))
        db.session.commit()


def test_a_rested_coach_is_ok(app, supervisor_api, coach, supervisor):
    supervised(app, coach, supervisor)
    row = row_for(supervisor_api.get("/api/v1/team/caseloads").json, coach)
    assert row["level"] == "ok" and row["reasons"] == []
    assert row["cap"] == 25 and row["load"] == 0 and row["last_supervision_at"] is not None


def test_no_supervision_in_30_days_is_a_reason(app, supervisor_api, coach, supervisor):
    supervised(app, coach, supervisor, days_ago=31)
    row = row_for(supervisor_api.get("/api/v1/team/caseloads").json, coach)
    assert row["level"] == "watch" and codes(row) == {"no_supervision"}
    assert "31 days" in row["reasons"][0]["message"]


def test_near_cap_is_watch_and_over_cap_is_high(app, supervisor_api, factory, coach, other_coach, supervisor):
    for c in (coach, other_coach):
        supervised(app, c, supervisor)
    factory.patients(coach, 23)
    factory.patients(other_coach, 26)
    rows = supervisor_api.get("/api/v1/team/caseloads").json
    assert row_for(rows, coach)["level"] == "watch" and codes(row_for(rows, coach)) == {"near_cap"}
    assert row_for(rows, other_coach)["level"] == "high" and codes(row_for(rows, other_coach)) == {"over_cap"}


def test_after_hours_crisis_and_no_days_off(app, supervisor_api, factory, coach, supervisor):
    supervised(app, coach, supervisor)
    patient = factory.patient(coach)
    now = utcnow()
    with app.app_context():
        db.session.add(Shift(program_id=coach.program_id, coach_id=coach.id, started_at=now - timedelta(hours=5),
                             ended_at=now - timedelta(hours=1)))
        db.session.commit()
    factory.contact(patient, coach, occurred_at=now - timedelta(hours=3))  # during the shift
    for day in range(7):  # one a day for a week, outside any shift
        factory.contact(patient, coach, occurred_at=now - timedelta(days=day, minutes=30 + day),
                        kind=ContactKind.IN_PERSON,
                        outcome=ContactOutcome.CRISIS if day < 3 else ContactOutcome.REACHED)
    row = row_for(supervisor_api.get("/api/v1/team/caseloads").json, coach)
    assert codes(row) == {"after_hours_contacts", "crisis_contacts", "no_days_off"}
    assert row["level"] == "high"  # three watch reasons
    messages = {r["code"]: r["message"] for r in row["reasons"]}
    assert messages["after_hours_contacts"].startswith("7 contacts outside their shifts")


def test_stress_reasons_only_for_the_coachs_own_supervisor(app, coach_api, login, factory, program, coach,
                                                           supervisor):
    supervised(app, coach, supervisor)
    coach_api.post("/api/v1/me/wellness", json={"stress": 5, "energy": 1, "wants_supervisor_contact": True,
                                                "note": "private words"})
    own = row_for(login(supervisor).get("/api/v1/team/caseloads").json, coach)
    assert codes(own) == {"high_stress", "asked_for_support"}
    assert own["last_check_in"]["stress"] == 5 and "note" not in own["last_check_in"]
    other = row_for(login(factory.user("supervisor", program)).get("/api/v1/team/caseloads").json, coach)
    assert other["last_check_in"] is None and codes(other) == set()


def test_thresholds_are_programme_settings(app, admin_api, supervisor_api, coach, supervisor):
    supervised(app, coach, supervisor, days_ago=10)
    assert row_for(supervisor_api.get("/api/v1/team/caseloads").json, coach)["level"] == "ok"
    admin_api.patch("/api/v1/program/caseload-policy", json={"supervision_gap_days": 7})
    assert codes(row_for(supervisor_api.get("/api/v1/team/caseloads").json, coach)) == {"no_supervision"}


def test_team_view_is_for_supervisors(coach_api, admin_api):
    assert coach_api.get("/api/v1/team/caseloads").status_code == 403
    assert admin_api.get("/api/v1/team/caseloads").status_code == 403


def test_team_view_statements_do_not_grow_with_the_team(app, supervisor_api, factory, program, supervisor,
                                                        count_statements):
    def add_coaches(n):
        for _ in range(n):
            coach = factory.user("coach", program, supervisor_id=supervisor.id)
            patient = factory.patient(coach)
            factory.contact(patient, coach)
            with app.app_context():
                db.session.add(WellnessCheckIn(program_id=program.id, coach_id=coach.id, stress=2, energy=4))
                db.session.commit()
            supervised(app, coach, supervisor)

    add_coaches(2)
    with count_statements() as small:
        assert len(supervisor_api.get("/api/v1/team/caseloads").json) == 2
    add_coaches(10)
    with count_statements() as large:
        assert len(supervisor_api.get("/api/v1/team/caseloads").json) == 12
    assert len(large) == len(small)


def test_daily_snapshot_is_idempotent_and_feeds_the_history(app, supervisor_api, factory, coach, other_coach):
    factory.patients(coach, 3)
    assert run_named_job(app, "caseload_snapshots") == 2
    assert run_named_job(app, "caseload_snapshots") == 0
    assert run_named_job(app, "caseload_snapshots", now=utcnow() - timedelta(days=1)) == 2
    with app.app_context():
        from backend.caseload.models import CaseloadSnapshot

        assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseloadSnapshot)) == 4
    history = supervisor_api.get("/api/v1/team/caseloads/history?days=90").json
    series = next(s for s in history if s["coach_id"] == coach.id)
    assert [p["load"] for p in series["points"]] == [3.0, 3.0]
    assert supervisor_api.get("/api/v1/team/caseloads/history?days=0").status_code == 422


def test_calls_outside_shifts_and_a_long_day_on_the_phone(app, login, factory, coach, supervisor):
    with time_machine.travel(datetime(2026, 6, 16, 17, 0, tzinfo=UTC), tick=True):  # midday in Chicago
        supervisor_api = login(supervisor)  # a token issued on the moved clock
        supervised(app, coach, supervisor)
        patient = factory.patient(coach)
        now = utcnow()
        for n in range(3):  # warm-line or masked calls with nobody on shift: each is a phone contact
            factory.contact(patient, coach, occurred_at=now - timedelta(days=2, minutes=n), duration_minutes=5)
        for n in range(5):  # a long day on the phone today: 5 x 50 minutes
            factory.contact(patient, coach, occurred_at=now - timedelta(minutes=60 * n + 1), duration_minutes=50,
                            outcome=ContactOutcome.NO_ANSWER)
        row = row_for(supervisor_api.get("/api/v1/team/caseloads").json, coach)
    messages = {r["code"]: r["message"] for r in row["reasons"]}
    assert messages["after_hours_calls"].startswith("3 calls outside their shifts")
    assert messages["phone_minutes"] == "250 minutes on the phone in one day this week."
