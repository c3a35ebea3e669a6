"""Partner catalogue editing in a real browser (Debian's chromium): editing a service, an HSDS upload with an error,
and the show-rate chart; every page checked with axe-core at 1440 and 820 px."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.admin.browser import browser_only
from tests.admin.test_admin_partners import handoffs_with_outcomes
from tests.admin.test_people_browser import SECRET, checked, log_in_admin
from tests.partners.test_catalogue import DETOX, partner

pytestmark = browser_only


@pytest.fixture
def admin_user(factory, program):
    """An admin whose authenticator app is set up already (the browser types its code)."""
    return factory.user("admin", program, email="admin@example.test", full_name="Ada Admin", totp_secret=SECRET)


def test_an_admin_edits_a_service(page, live_server, admin_user, supervisor_api):
    org = partner(supervisor_api)
    service_id = supervisor_api.post(f"/api/v1/partners/{org}/services", json=DETOX).json["id"]
    supervisor_api.post(f"/api/v1/partners/{org}/contacts", json={"name": "Dana Intake", "phone": "312 555 0131"})
    log_in_admin(page, live_server)
    page.click("nav >> text=Partners")
    page.wait_for_url(f"{live_server}/admin/catalogue/partners")
    checked(page, "catalogue-partners")
    page.click("text=Northside Health")
    page.wait_for_url(f"{live_server}/admin/catalogue/partners/{org}")
    checked(page, "catalogue-partner")
    page.click("text=Northside Withdrawal Management")
    page.wait_for_url(f"{live_server}/admin/catalogue/services/{service_id}")
    assert page.get_by_label("Detox / withdrawal management").is_checked()
    checked(page, "catalogue-service")
    page.get_by_label("Residential treatment").check()
    page.get_by_label("Methadone", exact=True).check()
    page.fill("#f-minimum_age", "70")
    page.fill("#f-maximum_age", "65")
    page.click("text=Save service")
    assert page.get_by_text("Must not be below minimum_age.").is_visible()  # refused, what was typed kept
    assert page.get_by_label("Residential treatment").is_checked() and page.input_value("#f-minimum_age") == "70"
    checked(page, "catalogue-service-refused")
    page.fill("#f-minimum_age", "18")
    page.fill("#f-languages", "en, es, pl")
    page.click("text=Save service")
    page.wait_for_url(f"{live_server}/admin/catalogue/partners/{org}")
    assert page.get_by_text("Northside Withdrawal Management is saved.").is_visible()
    card = supervisor_api.get(f"/api/v1/services/{service_id}").json
    assert card["service_types"] == ["detox", "residential"] and card["moud"] == ["buprenorphine", "methadone"]
    assert card["languages"] == ["en", "es", "pl"] and card["maximum_age"] == 65


def test_an_admin_uploads_an_hsds_file_with_an_error_then_a_good_one(page, live_server, admin_user, tmp_path):
    org_id = str(uuid.uuid4())
    bad = {"organizations": [{"id": org_id, "name": "Lakeside Recovery", "description": "Partner",
                              "website": "lakeside.example"}]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    good = {"organizations": [{**bad["organizations"][0], "website": "https://lakeside.example"}]}
    (tmp_path / "good.json").write_text(json.dumps(good))
    log_in_admin(page, live_server)
    page.goto(f"{live_server}/admin/catalogue/hsds/import")
    checked(page, "catalogue-import")
    page.set_input_files("#f-file", str(tmp_path / "bad.json"))
    page.click("text=Check the file")
    errors = page.get_by_test_id("import-errors")
    assert errors.get_by_text("organizations[0].website").is_visible()
    assert "is not a 'uri'" in errors.inner_text()
    checked(page, "catalogue-import-errors")
    page.set_input_files("#f-file", str(tmp_path / "good.json"))
    page.click("text=Check the file")
    assert page.get_by_test_id("dry-run").is_visible()
    assert page.get_by_test_id("counts-organizations").inner_text().split() == ["Organizations", "1", "0", "0"]
    checked(page, "catalogue-import-dry-run")
    page.get_by_role("button", name="Import", exact=True).click()
    assert page.get_by_text("The HSDS file is imported.").is_visible()
    page.goto(f"{live_server}/admin/catalogue/partners")
    assert page.get_by_role("link", name="Lakeside Recovery").is_visible()


def test_the_show_rate_chart_is_accessible(page, live_server, admin_user, coach_api, supervisor_api, factory, coach):
    handoffs_with_outcomes(coach_api, supervisor_api, factory, coach)
    log_in_admin(page, live_server)
    page.click("nav >> text=Partner outcomes")
    page.wait_for_url(f"{live_server}/admin/partners")
    assert page.get_by_role("img", name="Monthly show rate").is_visible()
    assert len(page.get_by_test_id("show-rate-table").locator("tbody tr").all()) == 12
    assert page.locator("rect.rate-bar").count() == 1
    checked(page, "partners-outcomes-chart")
