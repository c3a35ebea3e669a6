"""The panel's partner keys page (admins): list, issue (name, scopes, partner), the secret once, revoke."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from backend.database import db
from backend.partner_access.models import PartnerKey
from backend.partners.models import Organization
from tests.admin.conftest import csrf_token
from tests.factories import PASSWORD

SECRET = re.compile(r'data-testid="partner-key-secret">([^<]+)<')


@pytest.fixture
def as_admin(panel_login, client, admin_user):
    panel_login(admin_user.email, PASSWORD)
    return lambda: csrf_token(client.get("/admin/partner-keys").get_data(as_text=True))


@pytest.fixture
def northside(app, program) -> str:
    with app.app_context():
        org = Organization(program_id=program.id, name="Northside Health")
        db.session.add(org)
        db.session.commit()
        return org.id


def test_an_admin_issues_a_key_sees_it_once_and_revokes_it(app, client, as_admin, northside):
    token = as_admin()
    empty = client.get("/admin/partner-keys")
    assert empty.status_code == 200 and "No partner system keys yet." in empty.get_data(as_text=True)
    assert 'href="/admin/partner-keys"' in empty.get_data(as_text=True)  # in the navigation
    issued = client.post("/admin/partner-keys", data={"name": "Northside EHR", "scopes": ["hsds:read", "fhir:handoffs"],
                                                      "organization_id": northside, "csrf_token": token})
    assert issued.status_code == 201 and issued.headers["Cache-Control"] == "no-store"
    secret = SECRET.search(issued.get_data(as_text=True)).group(1)
    assert secret.startswith("blk_")
    listed = client.get("/admin/partner-keys").get_data(as_text=True)
    assert "Northside EHR" in listed and "Northside Health" in listed and secret not in listed
    assert secret[:16] in listed  # the prefix, to tell keys apart
    with app.app_context():
        key = db.session.scalar(sa.select(PartnerKey))
        assert key.scopes == ["fhir:handoffs", "hsds:read"] and key.organization_id == northside
    assert client.get("/hsds/services", headers={"X-Api-Key": secret}).status_code == 200

    revoked = client.post(f"/admin/partner-keys/{key.id}/revoke", data={"csrf_token": as_admin()},
                          follow_redirects=True)
    assert revoked.status_code == 200 and "is revoked" in revoked.get_data(as_text=True)
    assert client.get("/hsds/services", headers={"X-Api-Key": secret}).status_code == 401
    assert client.post("/admin/partner-keys/999/revoke", data={"csrf_token": as_admin()}).status_code == 404


def test_the_form_is_checked_by_the_schema_and_the_rule(client, as_admin):
    token = as_admin()
    nothing = client.post("/admin/partner-keys", data={"name": "", "csrf_token": token})
    page = nothing.get_data(as_text=True)
    assert nothing.status_code == 422 and 'id="f-name-error"' in page and 'id="f-scopes-error"' in page
    no_partner = client.post("/admin/partner-keys", data={"name": "Harbor EHR", "scopes": ["fhir:handoffs"],
                                                          "csrf_token": as_admin()})
    assert no_partner.status_code == 422 and 'id="f-organization_id-error"' in no_partner.get_data(as_text=True)


def test_supervisors_do_not_open_the_page(client, panel_login, supervisor):
    panel_login(supervisor.email, PASSWORD)
    assert client.get("/admin/partner-keys").status_code == 403
