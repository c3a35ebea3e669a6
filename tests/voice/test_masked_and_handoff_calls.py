"""Masked outbound calls (the patient sees the programme's number, never the coach's), the three-way warm
handoff by phone (consent, screen, Part 2 notice, disclosure), the crisis transfer, hold."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.consent.models import Disclosure
from backend.database import db
from backend.handoffs.models import Handoff
from backend.patients.models import PatientStatus
from backend.voice.models import Call, CallLeg
from fake_twilio.voice import Answers, Caller, NoAnswer
from tests.consent.test_consent import consent_body, make_partner
from tests.voice.conftest import LINE, set_line, stored

PARTNER_PHONE = "+13125550161"


def test_call_patient_rings_the_coach_first_then_the_patient_from_the_programme_number(app, net, factory, coaches,
                                                                                       login):
    coach = coaches[0]
    patient = factory.patient(coach)
    net.phone(coach.phone, Answers(press="1"))
    net.phone(patient.phone, Answers(after=4, stay=125))
    response = login(coach).post(f"/api/v1/patients/{patient.id}/calls", json={})
    assert response.status_code == 201 and response.json["direction"] == "outbound"
    net.run()

    assert net.errors == []
    [coach_leg] = net.calls_to(coach.phone)
    [patient_leg] = net.calls_to(patient.phone)
    assert coach_leg.from_ == LINE and "Bridgeline. Press 1 to place your call." in coach_leg.heard
    assert patient_leg.from_ == LINE  # the coach's own number never reaches the patient
    assert all(coach.phone not in (c.from_, c.to) for c in net.calls.values() if c.to == patient.phone)
    call = stored(app, Call)[0]
    assert (call.outcome, call.coach_id, call.patient_id) == ("answered", coach.id, patient.id)
    [contact] = login(coach).get(f"/api/v1/patients/{patient.id}/contacts").json
    assert (contact["direction"], contact["outcome"], contact["duration_minutes"]) == ("outbound", "reached", 3)
    timeline = login(coach).get(f"/api/v1/patients/{patient.id}/timeline").json
    assert [(e["kind"], e["data"]["outcome"]) for e in timeline if e["kind"] in ("call", "contact")] == [
        ("call", "answered")]
    assert login(coach).get("/api/v1/me/line").json["call_id"] is None


def test_a_patient_who_does_not_answer_is_a_no_answer_contact_and_the_coach_is_told(app, net, factory, coaches,
                                                                                   login):
    coach = coaches[0]
    patient = factory.patient(coach)
    net.phone(coach.phone, Answers(press="1"))
    net.phone(patient.phone, NoAnswer())
    login(coach).post(f"/api/v1/patients/{patient.id}/calls", json={})
    net.run()
    assert net.errors == []
    assert "Your patient did not answer. Goodbye." in net.calls_to(coach.phone)[0].heard
    call = stored(app, Call)[0]
    assert call.outcome == "no_answer"
    contacts = login(coach).get(f"/api/v1/patients/{patient.id}/contacts").json
    assert [c["outcome"] for c in contacts] == ["no_answer"]
    timeline = login(coach).get(f"/api/v1/patients/{patient.id}/timeline").json
    assert [e["data"]["outcome"] for e in timeline if e["kind"] == "call"] == ["no_answer"]


def test_calls_are_refused_with_clear_codes(app, net, factory, program, coaches, login, midday_clock):
    coach = coaches[0]
    api = login(coach)
    flagged = factory.patient(coach, phone_flagged_at=datetime(2026, 6, 1, tzinfo=UTC))
    closed = factory.patient(coach, status=PatientStatus.CLOSED)
    assert api.post(f"/api/v1/patients/{flagged.id}/calls", json={}).json["error"] == "number_invalid"
    assert api.post(f"/api/v1/patients/{closed.id}/calls", json={}).json["error"] == "patient_closed"
    phoneless = factory.user("coach", program, email="nophone@example.test")
    mine = factory.patient(phoneless)
    assert login(phoneless).post(f"/api/v1/patients/{mine.id}/calls", json={}).json["error"] == "no_phone_on_file"
    someone_elses = factory.patient(coaches[1])
    assert api.post(f"/api/v1/patients/{someone_elses.id}/calls", json={}).status_code == 404
    patient = factory.patient(coach)
    assert api.post(f"/api/v1/patients/{patient.id}/calls", json={}).status_code == 201
    second = api.post(f"/api/v1/patients/{patient.id}/calls", json={})
    assert second.status_code == 409 and second.json["error"] == "coach_on_call"
    assert len(stored(app, Call)) == 1  # a refused call leaves no row behind


def test_quiet_hours_need_confirmation_which_is_recorded(app, net, factory, coaches, login, midday_clock):
    midday_clock.move_to(datetime(2026, 6, 17, 4, 30, tzinfo=UTC))  # 23:30 in Chicago
    coach = coaches[0]
    patient = factory.patient(coach)
    api = login(coach)
    refused = api.post(f"/api/v1/patients/{patient.id}/calls", json={})
    assert refused.status_code == 409 and refused.json["error"] == "outside_patient_hours"
    assert "confirm_outside_hours" in refused.json["errors"]
    placed = api.post(f"/api/v1/patients/{patient.id}/calls", json={"confirm_outside_hours": True})
    assert placed.status_code == 201 and placed.json["confirmed_outside_hours"] is True
    with app.app_context():
        details = db.session.scalar(sa.select(AuditEvent.details).where(AuditEvent.action == "call",
                                                                         AuditEvent.outcome == "success"))
    assert details == {"outside_quiet_hours_confirmed": True}


def answered_call(app, net, factory, coach, *, caller_stay=300, coach_stay=None):
    patient = factory.patient(coach)
    net.phone(coach.phone, Answers(press="1", stay=coach_stay))
    caller = net.dial(from_=patient.phone, to=LINE, caller=Caller(stay=caller_stay))
    net.run(until=60)
    call = stored(app, Call)[0]
    assert call.status == "in_progress"
    return patient, caller, call


def test_three_way_warm_handoff_needs_consent_then_the_partner_hears_the_notice(app, net, factory, coaches, login,
                                                                               supervisor_api):
    coach = coaches[0]
    api = login(coach)
    org_id, service_id = make_partner(supervisor_api)
    contact = supervisor_api.post(f"/api/v1/partners/{org_id}/contacts",
                                  json={"name": "Intake Desk", "phone": PARTNER_PHONE, "service_id": service_id}).json
    patient, caller, call = answered_call(app, net, factory, coach, caller_stay=400, coach_stay=120)

    refused = api.post(f"/api/v1/calls/{call.id}/participants", json={"partner_contact_id": contact["id"]})
    assert refused.status_code == 409 and refused.json["error"] == "consent_required"
    api.post(f"/api/v1/patients/{patient.id}/consents", json=consent_body(org_id))
    net.phone(PARTNER_PHONE, Answers(press="1", stay=None))
    added = api.post(f"/api/v1/calls/{call.id}/participants", json={"partner_contact_id": contact["id"]})
    assert added.status_code == 201 and added.json["kind"] == "partner"
    assert api.put(f"/api/v1/calls/{call.id}/hold", json={"on_hold": True}).status_code == 200
    net.run(until=100)
    assert net.conference(f"bridgeline-call-{call.id}").participants[0].hold is True
    api.put(f"/api/v1/calls/{call.id}/hold", json={"on_hold": False})
    net.run()

    assert net.errors == []
    [partner_leg] = net.calls_to(PARTNER_PHONE)
    assert partner_leg.from_ == LINE
    assert any("42 C F R part 2" in text for text in partner_leg.heard)
    # The coach left after 120 s; patient and partner stayed connected until the patient hung up.
    conference = net.conference(f"bridgeline-call-{call.id}")
    by_sid = {p.call_sid: p for p in conference.participants}
    coach_sid = net.calls_to(coach.phone)[0].sid
    assert by_sid[coach_sid].left < by_sid[partner_leg.sid].left
    assert by_sid[partner_leg.sid].left == by_sid[caller].left
    leg = [leg for leg in stored(app, CallLeg, call_id=call.id) if leg.kind == "partner"][0]
    assert leg.notice_given and leg.outcome == "accepted"
    [handoff] = stored(app, Handoff)
    # Accounted for twice: the warm handoff it opened (a referral), and the introduction by phone itself.
    assert sorted(d.channel for d in stored(app, Disclosure)) == sorted([f"call {call.id}",
                                                                         f"handoff {handoff.reference}"])
    assert handoff.kind == "warm" and leg.handoff_id == handoff.id and handoff.service_id == service_id
    assert stored(app, Call)[0].outcome == "answered"


def test_crisis_transfer_brings_the_crisis_line_into_the_call(app, net, factory, coaches, login, program):
    set_line(app, program.id, crisis_transfer_number="+13125550199")
    coach = coaches[0]
    _, caller, call = answered_call(app, net, factory, coach, caller_stay=200)
    net.phone("+13125550199", Answers(after=8, stay=None))
    response = login(coach).post(f"/api/v1/calls/{call.id}/crisis-transfer")
    assert response.status_code == 201 and response.json["kind"] == "crisis"
    net.run()
    assert net.errors == []
    crisis = net.calls_to("+13125550199")[0]
    assert crisis.from_ == LINE
    names = {p.call_sid for p in net.conference(f"bridgeline-call-{call.id}").participants}
    assert crisis.sid in names and caller in names
    assert stored(app, Call)[0].crisis_transfer_at is not None
