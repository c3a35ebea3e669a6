"""Partner outcomes: show rates and speed per partner, with inbound referrals; names never appear."""

from __future__ import annotations

import csv
import io

from tests.handoffs.test_handoffs import setup_handoff


def handoff(coach_api, patient, service_id):
    return coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id,
                                                    "kind": "warm"}).json["id"]


def test_outcomes_per_partner(coach_api, supervisor_api, factory, coach):
    patient, org_id, service_id = setup_handoff(coach_api, supervisor_api, factory, coach, first_name="Zelda")
    attended, no_show, pending = (handoff(coach_api, patient, service_id) for _ in range(3))
    for hid in (attended, no_show):
        coach_api.patch(f"/api/v1/handoffs/{hid}", json={"status": "accepted"})
    coach_api.patch(f"/api/v1/handoffs/{attended}", json={"status": "completed"})
    coach_api.patch(f"/api/v1/handoffs/{no_show}", json={"status": "failed", "status_reason": "no_show"})
    supervisor_api.post("/api/v1/patients", json={"first_name": "In", "last_name": "Bound", "source": "partner",
                                                  "referring_organization_id": org_id})
    (row,) = supervisor_api.get("/api/v1/reports/partners?days=90").json
    assert row["organization_id"] == org_id
    assert (row["handoffs"], row["accepted"], row["completed"], row["no_shows"]) == (3, 2, 1, 1)
    assert row["show_rate"] == 0.5 and row["median_days_to_attendance"] == 0.0 and row["inbound_referrals"] == 1


def test_csv_export_has_no_patient_names(coach_api, supervisor_api, factory, coach):
    patient, _, service_id = setup_handoff(coach_api, supervisor_api, factory, coach, first_name="Zelda")
    handoff(coach_api, patient, service_id)
    response = supervisor_api.get("/api/v1/reports/partners", headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0]["handoffs"] == "1" and "Zelda" not in response.get_data(as_text=True)


def test_report_is_for_leads_and_days_are_bounded(coach_api, supervisor_api):
    assert coach_api.get("/api/v1/reports/partners").status_code == 403
    assert supervisor_api.get("/api/v1/reports/partners?days=0").status_code == 422


def test_referring_partner_must_belong_to_the_programme(supervisor_api, factory):
    response = supervisor_api.post("/api/v1/patients", json={"first_name": "A", "last_name": "B", "source": "partner",
                                                             "referring_organization_id": "not-ours"})
    assert response.status_code == 422 and "referring_organization_id" in response.json["errors"]


def test_a_partner_named_like_a_formula_is_exported_as_text(coach_api, supervisor_api, factory, coach):
    """CSV injection: a partner named `=HYPERLINK(...)` must not run when a supervisor opens the file."""
    patient, org_id, service_id = setup_handoff(coach_api, supervisor_api, factory, coach)
    supervisor_api.patch(f"/api/v1/partners/{org_id}", json={"name": '=HYPERLINK("http://x.test","Open")'})
    handoff(coach_api, patient, service_id)
    text = supervisor_api.get("/api/v1/reports/partners", headers={"Accept": "text/csv"}).get_data(as_text=True)
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["organization_name"] == "'=HYPERLINK(\"http://x.test\",\"Open\")" and row["handoffs"] == "1"


def test_every_formula_start_is_neutralised_and_numbers_are_left_alone():
    from backend.common.spreadsheet import csv_text

    rows = [{"name": start + "SUM(A1)", "count": -3} for start in ("=", "+", "-", "@", "\t", "\r")]
    parsed = list(csv.DictReader(io.StringIO(csv_text(rows, ["name", "count"]))))
    assert all(r["name"].startswith("'") for r in parsed) and {r["count"] for r in parsed} == {"-3"}
