"""The patient timeline: everything that happened, newest first."""

from __future__ import annotations

import json
from datetime import timedelta

from backend.database import utcnow
from backend.timeline.sources import SOURCES


def test_timeline_merges_kinds_newest_first(coach_api, factory, coach):
    pid = coach_api.post("/api/v1/patients", json={"first_name": "T", "last_name": "L", "source": "ed"}).json["id"]
    coach_api.post(f"/api/v1/patients/{pid}/contacts",
                   json={"kind": "ed_visit", "occurred_at": (utcnow() - timedelta(hours=1)).isoformat()})
    coach_api.patch(f"/api/v1/patients/{pid}", json={"status": "engaged"})
    coach_api.post(f"/api/v1/patients/{pid}/tasks", json={"title": "Call", "due_at": "2030-01-01T10:00:00Z"})
    entries = coach_api.get(f"/api/v1/patients/{pid}/timeline").json
    assert [(e["kind"], e["data"].get("kind")) for e in entries] == [
        ("task", "follow_up"), ("patient_event", "status_changed"), ("patient_event", "created"),
        ("contact", "ed_visit")]
    times = [e["occurred_at"] for e in entries]
    assert times == sorted(times, reverse=True)
    assert entries[1]["data"]["details"] == {"from": "referred", "to": "engaged"}


def test_timeline_pages_and_filters_by_kind(coach_api, factory, coach):
    patient = factory.patient(coach)
    for n in range(7):
        factory.contact(patient, coach, occurred_at=utcnow() - timedelta(hours=n))
    page = coach_api.get(f"/api/v1/patients/{patient.id}/timeline?page_size=5&kind=contact")
    assert len(page.json) == 5 and json.loads(page.headers["X-Pagination"])["total"] == 7
    rest = coach_api.get(f"/api/v1/patients/{patient.id}/timeline?page_size=5&page=2&kind=contact").json
    assert len(rest) == 2
    assert coach_api.get(f"/api/v1/patients/{patient.id}/timeline?kind=gossip").status_code == 422


def test_timeline_statements_do_not_grow_with_page_size(coach_api, factory, coach, count_statements):
    patient = factory.patient(coach)
    for n in range(30):
        factory.contact(patient, coach, occurred_at=utcnow() - timedelta(minutes=n))
        if n % 3 == 0:
            factory.task(coach, patient)
    with count_statements() as small:
        coach_api.get(f"/api/v1/patients/{patient.id}/timeline?page_size=5")
    with count_statements() as large:
        coach_api.get(f"/api/v1/patients/{patient.id}/timeline?page_size=40")
    assert len(large) <= len(small) + 1  # one load per kind on the page, never one per row
    assert len(large) <= 4 + len(SOURCES)
