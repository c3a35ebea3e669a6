"""Warm handoffs: consent first, FHIR Task lifecycle, outcomes, reminders, disclosures."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.messaging.models import Message
from tests.consent.test_consent import consent_body, make_partner

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def setup_handoff(coach_api, supervisor_api, factory, coach, **extra):
    org_id, service_id = make_partner(supervisor_api)
    patient = factory.patient(coach, **extra)
    coach_api.post(f"/api/v1/patients/{patient.id}/consents", json=consent_body(org_id))
    return patient, org_id, service_id


def reminders(app, patient_id):
    with app.app_context():
        return list(db.session.scalars(sa.select(Message).where(Message.patient_id == patient_id,
                                                                Message.template_key == "appointment_reminder")
                                       .order_by(Message.scheduled_for)))


def test_handoff_needs_a_consent_naming_the_partner(coach_api, supervisor_api, factory, coach):
    _, service_id = make_partner(supervisor_api)
    patient = factory.patient(coach)
    response = coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id,
                                                        "kind": "warm"})
    assert response.status_code == 409 and response.json["error"] == "consent_required"
    assert coach_api.get(f"/api/v1/patients/{patient.id}/handoffs").json == []


def test_revoked_or_expired_consent_does_not_cover(coach_api, supervisor_api, factory, coach):
    org_id, service_id = make_partner(supervisor_api)
    patient = factory.patient(coach)
    consent = coach_api.post(f"/api/v1/patients/{patient.id}/consents", json=consent_body(org_id)).json
    coach_api.post(f"/api/v1/consents/{consent['id']}/revoke")
    body = {"patient_id": patient.id, "service_id": service_id, "kind": "warm"}
    assert coach_api.post("/api/v1/handoffs", json=body).status_code == 409


def test_creating_a_handoff_records_a_disclosure(coach_api, supervisor_api, factory, coach):
    patient, org_id, service_id = setup_handoff(coach_api, supervisor_api, factory, coach)
    created = coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id,
                                                       "kind": "warm", "note": "Walked over together"})
    assert created.status_code == 201
    assert created.json["status"] == "requested" and created.json["reference"].startswith("H-")
    (disclosure,) = coach_api.get(f"/api/v1/patients/{patient.id}/disclosures").json
    assert disclosure["recipient_organization_id"] == org_id and disclosure["consent_id"] == created.json["consent_id"]


def test_lifecycle_follows_fhir_task_codes(coach_api, supervisor_api, factory, coach):
    patient, _, service_id = setup_handoff(coach_api, supervisor_api, factory, coach)
    hid = coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id,
                                                   "kind": "referral"}).json["id"]
    url = f"/api/v1/handoffs/{hid}"
    assert coach_api.patch(url, json={"status": "completed"}).status_code == 409  # requested -> completed
    assert coach_api.patch(url, json={"status": "on-hold"}).json["error"] == "validation_error"
    assert coach_api.patch(url, json={"status": "accepted"}).json["status"] == "accepted"
    done = coach_api.patch(url, json={"status": "completed"}).json
    assert done["status"] == "completed" and done["outcome"] == "attended" and done["completed_at"]
    illegal = coach_api.patch(url, json={"status": "in-progress"})
    assert illegal.status_code == 409 and illegal.json["error"] == "illegal_transition"


def test_no_show_is_a_failed_task_with_reason(coach_api, supervisor_api, factory, coach):
    patient, _, service_id = setup_handoff(coach_api, supervisor_api, factory, coach)
    hid = coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id,
                                                   "kind": "warm"}).json["id"]
    coach_api.patch(f"/api/v1/handoffs/{hid}", json={"status": "accepted"})
    failed = coach_api.patch(f"/api/v1/handoffs/{hid}", json={"status": "failed", "status_reason": "no_show"}).json
    assert failed["outcome"] == "no_show"
    for reason in (None, "attended"):  # the outcome of a closed handoff cannot be reworded or wiped
        refused = coach_api.patch(f"/api/v1/handoffs/{hid}", json={"status_reason": reason})
        assert refused.status_code == 409 and refused.json["error"] == "handoff_closed"
    assert coach_api.get(f"/api/v1/handoffs/{hid}").json["outcome"] == "no_show"


def test_a_required_reason_cannot_be_cleared(coach_api, supervisor_api, factory, coach):
    patient, _, service_id = setup_handoff(coach_api, supervisor_api, factory, coach)
    hid = coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id,
                                                   "kind": "warm"}).json["id"]
    coach_api.patch(f"/api/v1/handoffs/{hid}", json={"status": "on-hold", "status_reason": "Waiting for a bed"})
    cleared = coach_api.patch(f"/api/v1/handoffs/{hid}", json={"status_reason": None})
    assert cleared.status_code == 422 and "status_reason" in cleared.json["errors"]
    reworded = coach_api.patch(f"/api/v1/handoffs/{hid}", json={"status_reason": "Bed on Friday"})
    assert reworded.json["status_reason"] == "Bed on Friday"


def test_reminders_day_before_at_17_and_two_hours_before_without_the_partner(app, coach_api, supervisor_api,
                                                                              factory, coach):
    patient, _, service_id = setup_handoff(coach_api, supervisor_api, factory, coach)
    appointment = datetime.combine((utcnow() + timedelta(days=3)).astimezone(CHICAGO).date(),
                                   datetime.min.time().replace(hour=10), tzinfo=CHICAGO)
    body = {"patient_id": patient.id, "service_id": service_id, "kind": "warm",
            "appointment_at": appointment.isoformat()}
    hid = coach_api.post("/api/v1/handoffs", json=body).json["id"]
    due = [m.scheduled_for.astimezone(CHICAGO) for m in reminders(app, patient.id)]
    assert [(d.day, d.hour) for d in due] == [((appointment - timedelta(days=1)).day, 17), (appointment.day, 8)]
    rows = reminders(app, patient.id)
    assert all(m.expires_at == appointment for m in rows)
    assert all("Northside" not in m.body for m in rows)
    coach_api.patch(f"/api/v1/handoffs/{hid}", json={"note": "Bring ID"})  # a note leaves the reminders alone
    assert [(m.id, m.status) for m in reminders(app, patient.id)] == [(m.id, "scheduled") for m in rows]
    later = appointment + timedelta(days=2)
    coach_api.patch(f"/api/v1/handoffs/{hid}", json={"appointment_at": later.isoformat()})
    statuses = sorted((m.status, m.reason) for m in reminders(app, patient.id))
    assert statuses == [("cancelled", "appointment_changed")] * 2 + [("scheduled", None)] * 2
    coach_api.patch(f"/api/v1/handoffs/{hid}", json={"status": "cancelled", "status_reason": "Patient moved away"})
    assert {m.status for m in reminders(app, patient.id)} == {"cancelled"}


def test_handoffs_and_consents_show_in_the_timeline(coach_api, supervisor_api, factory, coach):
    patient, _, service_id = setup_handoff(coach_api, supervisor_api, factory, coach)
    coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id, "kind": "warm"})
    kinds = {e["kind"] for e in coach_api.get(f"/api/v1/patients/{patient.id}/timeline").json}
    assert {"handoff", "consent"} <= kinds


def test_another_coachs_handoff_is_not_found(login, supervisor_api, factory, coach, other_coach):
    theirs_api = login(other_coach)
    patient, _, service_id = setup_handoff(theirs_api, supervisor_api, factory, other_coach)
    hid = theirs_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id,
                                                    "kind": "warm"}).json["id"]
    mine = login(coach)
    assert mine.get(f"/api/v1/handoffs/{hid}").status_code == 404
    assert mine.patch(f"/api/v1/handoffs/{hid}", json={"note": "x"}).status_code == 404


def test_every_disclosure_to_the_partner_needs_a_consent_that_covers_it_now(coach_api, supervisor_api, factory,
                                                                            coach):
    """One Part 2 check for the handoff, its confirmation link and its FHIR export."""
    patient, org_id, service_id = setup_handoff(coach_api, supervisor_api, factory, coach)
    handoff = coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id,
                                                       "kind": "warm"}).json
    assert coach_api.post(f"/api/v1/handoffs/{handoff['id']}/confirmation-link").status_code == 201
    disclosures = coach_api.get(f"/api/v1/patients/{patient.id}/disclosures").json
    assert any(d["channel"].startswith("confirmation link") for d in disclosures)
    (consent,) = coach_api.get(f"/api/v1/patients/{patient.id}/consents").json
    coach_api.post(f"/api/v1/consents/{consent['id']}/revoke")
    for response in (coach_api.post(f"/api/v1/handoffs/{handoff['id']}/confirmation-link"),
                     coach_api.get(f"/api/v1/handoffs/{handoff['id']}/fhir")):
        assert response.status_code == 409 and response.json["error"] == "consent_required"
    renewed = coach_api.post(f"/api/v1/patients/{patient.id}/consents", json=consent_body(org_id)).json
    bundle = coach_api.get(f"/api/v1/handoffs/{handoff['id']}/fhir")
    assert bundle.status_code == 200  # the consent that covers it now, not only the one it was created under
    assert any(e["resource"]["resourceType"] == "Consent" and e["resource"]["id"] == str(renewed["id"])
               for e in bundle.json["entry"])
