"""Partner catalogue editing in the panel (programme admins): partners, services, point people, locations, HSDS
import by upload (a dry run, then for real) and the HSDS export download; the show-rate chart on partner outcomes."""

from __future__ import annotations

import io
import json
import uuid

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.database import db
from backend.partners.models import Location, Organization, PartnerContact, Service
from tests.admin.conftest import csrf_token
from tests.admin.test_admin_partners import handoffs_with_outcomes
from tests.factories import PASSWORD
from tests.partners.test_catalogue import DETOX, partner

SERVICE_FORM = {"name": "Lakeside Detox", "status": "active", "service_types": ["detox", "outpatient_moud"],
                "payers": ["medicaid"], "moud": ["buprenorphine", "methadone"], "languages": "en, ES",
                "minimum_age": "18", "maximum_age": "", "hours": "24/7", "phone": "312-555-0140", "walk_in": "y"}


@pytest.fixture
def admin_panel(panel_login, client, admin_user):
    panel_login(admin_user.email, PASSWORD)
    return client


def token(client, path: str = "/admin/catalogue/partners") -> str:
    return csrf_token(client.get(path).get_data(as_text=True))


def audits(app, action: str, resource: str, outcome: str = "success") -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.resource == resource, AuditEvent.outcome == outcome)))


def test_admin_adds_a_partner_and_a_refused_one_keeps_what_was_typed(app, admin_panel):
    page = admin_panel.get("/admin/catalogue/partners").get_data(as_text=True)
    assert "No partners yet" in page
    refused = admin_panel.post("/admin/catalogue/partners", data={
        "csrf_token": csrf_token(page), "name": "", "website": "lakeside.example", "phone": "555"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'value="lakeside.example"' in text
    assert 'id="f-website-error"' in text and 'id="f-name-error"' in text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organization)) == 0
    added = admin_panel.post("/admin/catalogue/partners", data={
        "csrf_token": csrf_token(page), "name": "Lakeside Recovery", "website": "https://lakeside.example",
        "phone": "312-555-0100", "description": "Detox and IOP"})
    assert added.status_code == 302
    with app.app_context():
        org = db.session.scalars(sa.select(Organization)).one()
        assert (org.name, org.phone, org.website) == ("Lakeside Recovery", "+13125550100", "https://lakeside.example")
        assert added.headers["Location"].endswith(f"/admin/catalogue/partners/{org.id}")
    assert [event.resource_id for event in audits(app, "create", "partner")] == [org.id]
    listed = admin_panel.get("/admin/catalogue/partners").get_data(as_text=True)
    assert f'data-testid="partner-{org.id}"' in listed


def test_admin_edits_a_partner(app, admin_panel, supervisor_api):
    org = partner(supervisor_api)
    path = f"/admin/catalogue/partners/{org}"
    page = admin_panel.get(path).get_data(as_text=True)
    assert 'value="Northside Health"' in page and "No services yet." in page
    bad = admin_panel.post(path, data={"csrf_token": csrf_token(page), "name": "Northside Health",
                                       "email": "not an address"})
    assert bad.status_code == 422 and 'value="not an address"' in bad.get_data(as_text=True)
    assert 'id="f-email-error"' in bad.get_data(as_text=True)
    saved = admin_panel.post(path, data={"csrf_token": csrf_token(page), "name": "Northside Health Center",
                                         "email": "intake@northside.example", "description": "Community partner"})
    assert saved.status_code == 302
    with app.app_context():
        found = db.session.get(Organization, org)
        assert (found.name, found.email) == ("Northside Health Center", "intake@northside.example")
    assert [event.resource_id for event in audits(app, "update", "partner")] == [org]


def test_admin_adds_and_edits_a_service_with_its_coded_lists(app, admin_panel, supervisor_api):
    org = partner(supervisor_api)
    new = f"/admin/catalogue/partners/{org}/services/new"
    page = admin_panel.get(new).get_data(as_text=True)
    assert 'value="opioid_treatment_program"' in page and 'value="tricare"' in page and 'value="naltrexone"' in page
    refused = admin_panel.post(new, data={**SERVICE_FORM, "csrf_token": csrf_token(page), "languages": "en, english",
                                          "minimum_age": "30", "maximum_age": "20"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "Item 2: Use an ISO 639 code" in text and 'value="en, english"' in text
    assert 'value="detox" checked' in text and 'value="methadone" checked' in text
    refused = admin_panel.post(new, data={**SERVICE_FORM, "csrf_token": csrf_token(page), "minimum_age": "30",
                                          "maximum_age": "20"})  # the service's own rule, by field
    assert refused.status_code == 422 and "Must not be below minimum_age." in refused.get_data(as_text=True)
    assert len(audits(app, "create", "service", "validation_error")) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Service)) == 0
    added = admin_panel.post(new, data={**SERVICE_FORM, "csrf_token": csrf_token(page)})
    assert added.status_code == 302
    service_id = audits(app, "create", "service")[0].resource_id
    card = supervisor_api.get(f"/api/v1/services/{service_id}").json
    assert card["service_types"] == ["detox", "outpatient_moud"] and card["moud"] == ["buprenorphine", "methadone"]
    assert card["languages"] == ["en", "es"] and card["walk_in"] is True and card["same_day_intake"] is False
    assert (card["minimum_age"], card["maximum_age"], card["phone"]) == (18, None, "+13125550140")

    edit = f"/admin/catalogue/services/{service_id}"
    page = admin_panel.get(edit).get_data(as_text=True)
    assert 'value="en, es"' in page and 'value="outpatient_moud" checked' in page
    saved = admin_panel.post(edit, data={**SERVICE_FORM, "csrf_token": csrf_token(page), "service_types": ["detox"],
                                         "payers": ["medicaid", "private"], "moud": [], "same_day_intake": "y",
                                         "walk_in": "", "hours": "Mon-Fri 8-4"})
    assert saved.status_code == 302
    card = supervisor_api.get(f"/api/v1/services/{service_id}").json
    assert (card["service_types"], card["payers"], card["moud"]) == (["detox"], ["medicaid", "private"], [])
    assert (card["walk_in"], card["same_day_intake"], card["hours"]) == (False, True, "Mon-Fri 8-4")
    assert [event.resource_id for event in audits(app, "update", "service")] == [service_id]
    bad = admin_panel.post(edit, data={**SERVICE_FORM, "csrf_token": csrf_token(page), "payers": ["barter"]})
    assert bad.status_code == 422 and 'id="f-payers-error"' in bad.get_data(as_text=True)


def test_admin_adds_a_point_person_and_a_location(app, admin_panel, supervisor_api):
    org = partner(supervisor_api)
    service_id = supervisor_api.post(f"/api/v1/partners/{org}/services", json=DETOX).json["id"]
    path = f"/admin/catalogue/partners/{org}"
    page = admin_panel.get(path).get_data(as_text=True)
    bad = admin_panel.post(f"{path}/contacts", data={"csrf_token": csrf_token(page), "contact_name": "",
                                                     "contact_phone": "12", "contact_title": "Intake lead"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="f-contact_name-error"' in text and 'value="Intake lead"' in text
    added = admin_panel.post(f"{path}/contacts", data={
        "csrf_token": csrf_token(page), "contact_name": "Dana Intake", "contact_title": "Intake coordinator",
        "contact_phone": "312 555 0131", "contact_best_hours": "8-11am", "contact_service_id": service_id})
    assert added.status_code == 302
    with app.app_context():
        contact = db.session.scalars(sa.select(PartnerContact)).one()
        assert (contact.name, contact.phone, contact.service_id) == ("Dana Intake", "+13125550131", service_id)
    bad = admin_panel.post(f"{path}/locations", data={"csrf_token": csrf_token(page), "location_city": "Chicago",
                                                      "location_country": "USA"})
    assert bad.status_code == 422 and 'id="f-location_country-error"' in bad.get_data(as_text=True)
    added = admin_panel.post(f"{path}/locations", data={
        "csrf_token": csrf_token(page), "location_name": "Harbor site", "location_address_1": "5 Harbor Rd",
        "location_city": "Chicago", "location_state_province": "IL", "location_postal_code": "60602"})
    assert added.status_code == 302
    with app.app_context():
        site = db.session.scalars(sa.select(Location).where(Location.name == "Harbor site")).one()
        assert (site.organization_id, site.city, site.country) == (org, "Chicago", "US")
    page = admin_panel.get(path).get_data(as_text=True)
    assert "Dana Intake" in page and "5 Harbor Rd" in page


def test_supervisors_get_the_403_page_and_another_programme_is_404(app, panel_login, client, supervisor,
                                                                    admin_user, factory, login):
    elsewhere = login(factory.user("supervisor", factory.program("Elsewhere")))
    theirs = partner(elsewhere)
    their_service = elsewhere.post(f"/api/v1/partners/{theirs}/services", json=DETOX).json["id"]
    panel_login(supervisor.email, PASSWORD)
    for path in ("/admin/catalogue/partners", "/admin/catalogue/hsds/import", "/admin/catalogue/hsds/export.json"):
        response = client.get(path)
        assert response.status_code == 403 and "Not for your role" in response.get_data(as_text=True)
    assert client.get("/admin/catalogue").status_code == 200  # supervisors keep catalogue upkeep
    client.post("/admin/logout", data={"csrf_token": token(client, "/admin/catalogue")})
    panel_login(admin_user.email, PASSWORD)
    for path in (f"/admin/catalogue/partners/{theirs}", f"/admin/catalogue/services/{their_service}",
                 f"/admin/catalogue/partners/{theirs}/services/new"):
        response = client.get(path)
        assert response.status_code == 404 and "not in your programme" in response.get_data(as_text=True)
    response = client.post(f"/admin/catalogue/partners/{theirs}", data={"csrf_token": token(client),
                                                                       "name": "Mine now"})
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(Organization, theirs).name == "Northside Health"


def hsds_file(doc, name: str = "catalogue.json") -> tuple:
    return io.BytesIO(json.dumps(doc).encode()), name


def test_an_upload_with_an_error_shows_its_json_path_and_imports_nothing(app, admin_panel):
    org = {"id": str(uuid.uuid4()), "name": "Lakeside Recovery", "description": "Partner",
           "services": [{"id": str(uuid.uuid4()), "name": "Peer support", "status": "active",
                         "url": "www.example.org"}]}
    page = admin_panel.get("/admin/catalogue/hsds/import").get_data(as_text=True)
    response = admin_panel.post("/admin/catalogue/hsds/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page), "step": "check", "file": hsds_file({"organizations": [org]})})
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<code>organizations[0].services[0].url</code>" in text and "is not a &#39;uri&#39;" in text
    assert 'name="document"' not in text  # nothing to import
    assert len(audits(app, "import", "hsds", "hsds_invalid")) == 1
    not_json = admin_panel.post("/admin/catalogue/hsds/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page), "file": (io.BytesIO(b"{oops"), "x.json")})
    assert not_json.status_code == 422 and "The file is not JSON" in not_json.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organization)) == 0


def test_a_dry_run_then_the_import(app, admin_panel):
    org = {"id": str(uuid.uuid4()), "name": "Lakeside Recovery", "description": "Partner",
           "services": [{"id": str(uuid.uuid4()), "name": "Peer support", "status": "active", "minimum_age": 150}]}
    page = admin_panel.get("/admin/catalogue/hsds/import").get_data(as_text=True)
    response = admin_panel.post("/admin/catalogue/hsds/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page), "step": "check", "file": hsds_file({"organizations": [org]})})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-testid="dry-run"' in text
    assert "<code>organizations[0].services[0].minimum_age</code>" in text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organization)) == 0
    document = text.split('name="document" value="')[1].split('"')[0]
    assert json.loads(document.replace("&#34;", '"').replace("&quot;", '"'))["organizations"][0]["id"] == org["id"]
    imported = admin_panel.post("/admin/catalogue/hsds/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page), "step": "import",
        "document": json.dumps({"organizations": [org]})})
    text = imported.get_data(as_text=True)
    assert imported.status_code == 200 and "The HSDS file is imported." in text and 'data-testid="dry-run"' not in text
    with app.app_context():
        assert db.session.get(Organization, org["id"]).name == "Lakeside Recovery"
    assert len(audits(app, "import", "hsds")) == 1


def test_an_upload_over_the_limit_is_refused(app, admin_panel):
    app.config["HSDS_IMPORT_MAX_BYTES"] = 1024
    page = admin_panel.get("/admin/catalogue/hsds/import").get_data(as_text=True)
    response = admin_panel.post("/admin/catalogue/hsds/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page), "file": (io.BytesIO(b" " * 4096 + b"{}"), "big.json")})
    assert response.status_code == 413


def test_the_export_downloads_the_apis_hsds(admin_panel, supervisor_api):
    org = partner(supervisor_api)
    supervisor_api.post(f"/api/v1/partners/{org}/services", json=DETOX)
    response = admin_panel.get("/admin/catalogue/hsds/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert json.loads(response.get_data(as_text=True)) == supervisor_api.get("/api/v1/hsds/export").json


def test_partner_outcomes_chart_their_monthly_show_rate(panel_login, client, supervisor, coach_api,
                                                        supervisor_api, factory, coach):
    handoffs_with_outcomes(coach_api, supervisor_api, factory, coach)
    panel_login(supervisor.email, PASSWORD)
    page = client.get("/admin/partners").get_data(as_text=True)
    table = page.split('data-testid="show-rate-table"')[1].split("</table>")[0]
    rows = table.split("<tr data-testid=")[1:]
    assert len(rows) == 12 and ">1</td><td class=\"num\">1</td><td class=\"num\">50%<" in rows[-1]
    assert page.count('class="rate-bar"') == 1 and 'role="img"' in page
