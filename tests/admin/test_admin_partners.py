"""The panel's partner outcomes page: which partners actually receive our patients."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.database import db
from tests.factories import PASSWORD
from tests.handoffs.test_handoffs import setup_handoff


def handoffs_with_outcomes(coach_api, supervisor_api, factory, coach) -> str:
    """Three handoffs to one partner: attended, no-show, still open. Returns the partner's id."""
    patient, org_id, service_id = setup_handoff(coach_api, supervisor_api, factory, coach, first_name="Zelda")
    attended, no_show, _open = (coach_api.post("/api/v1/handoffs", json={
        "patient_id": patient.id, "service_id": service_id, "kind": "warm"}).json["id"] for _ in range(3))
    for handoff in (attended, no_show):
        coach_api.patch(f"/api/v1/handoffs/{handoff}", json={"status": "accepted"})
    coach_api.patch(f"/api/v1/handoffs/{attended}", json={"status": "completed"})
    coach_api.patch(f"/api/v1/handoffs/{no_show}", json={"status": "failed", "status_reason": "no_show"})
    return org_id


def test_supervisor_sees_each_partners_show_rate_without_patient_names(
        app, panel_login, client, supervisor, coach_api, supervisor_api, factory, coach):
    org_id = handoffs_with_outcomes(coach_api, supervisor_api, factory, coach)
    panel_login(supervisor.email, PASSWORD)
    response = client.get("/admin/partners")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Last 90 days" in page
    row = page.split(f'data-testid="partner-{org_id}"')[1].split("</tr>")[0]
    cells = [cell.split(">", 1)[1].split("<")[0] for cell in row.split("<td")[1:]]
    assert cells[1:7] == ["3", "2", "1", "1", "50%", "0.0"]
    assert 'data-testid="show-rate">50%' in page and "Zelda" not in page
    with app.app_context():  # the read is audited like the API's
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "report", AuditEvent.resource == "partner_outcomes")) == 1


def test_the_period_is_one_of_the_offered_and_the_csv_matches(panel_login, client, admin_user, coach_api,
                                                              supervisor_api, factory, coach):
    handoffs_with_outcomes(coach_api, supervisor_api, factory, coach)
    panel_login(admin_user.email, PASSWORD)
    assert "Last 30 days</strong>" in client.get("/admin/partners?days=30").get_data(as_text=True)
    assert "Last 90 days</strong>" in client.get("/admin/partners?days=7000").get_data(as_text=True)
    response = client.get("/admin/partners/outcomes.csv?days=365")
    assert response.mimetype == "text/csv" and "partner-outcomes-365d.csv" in response.headers["Content-Disposition"]
    (row,) = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    assert (row["handoffs"], row["completed"], row["no_shows"], row["show_rate"]) == ("3", "1", "1", "0.5")


def test_the_page_needs_the_panel_login(client):
    for path in ("/admin/partners", "/admin/partners/outcomes.csv"):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
