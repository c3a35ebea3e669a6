"""Catalogue upkeep in the panel: services nobody confirmed in 90 days, and marking one confirmed."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.partners.models import Service
from tests.admin.conftest import csrf_token
from tests.factories import PASSWORD
from tests.partners.test_catalogue import DETOX, HOUSING, partner


def age(app, service_id: str, days: int | None) -> None:
    with app.app_context():
        when = None if days is None else utcnow() - timedelta(days=days)
        db.session.execute(sa.update(Service).where(Service.id == service_id).values(last_verified_at=when))
        db.session.commit()


def test_overdue_services_are_listed_and_confirmed(app, panel_login, client, supervisor, supervisor_api, coach_api):
    org = partner(supervisor_api)
    old = supervisor_api.post(f"/api/v1/partners/{org}/services", json=DETOX).json["id"]
    never = supervisor_api.post(f"/api/v1/partners/{org}/services", json=HOUSING).json["id"]
    fresh = supervisor_api.post(f"/api/v1/partners/{org}/services", json={**DETOX, "name": "Fresh"}).json["id"]
    age(app, old, 120)
    age(app, never, None)
    coach_api.get("/api/v1/services?service_type=detox")  # a coach's search is now cached
    panel_login(supervisor.email, PASSWORD)
    page = client.get("/admin/catalogue").get_data(as_text=True)
    assert page.index(f"service-{never}") < page.index(f"service-{old}") and f"service-{fresh}" not in page

    refused = client.post(f"/admin/services/{old}/verified")  # no CSRF token: nothing changes
    assert refused.status_code == 400
    token = csrf_token(page)
    response = client.post(f"/admin/services/{old}/verified", data={"csrf_token": token}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Northside Withdrawal Management is marked verified today." in page and f"service-{old}" not in page
    card = next(s for s in coach_api.get("/api/v1/services?service_type=detox").json if s["id"] == old)
    assert card["verification_overdue"] is False  # the cached search shows it at once


def test_another_programmes_service_cannot_be_confirmed(app, panel_login, client, supervisor, factory, login):
    elsewhere = login(factory.user("supervisor", factory.program("Elsewhere")))
    theirs = elsewhere.post(f"/api/v1/partners/{partner(elsewhere)}/services", json=DETOX).json["id"]
    age(app, theirs, 120)
    panel_login(supervisor.email, PASSWORD)
    token = csrf_token(client.get("/admin/catalogue").get_data(as_text=True))
    page = client.post(f"/admin/services/{theirs}/verified", data={"csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "not found" in page.lower() and f"service-{theirs}" not in page
    with app.app_context():
        assert db.session.get(Service, theirs).last_verified_at < utcnow() - timedelta(days=100)
