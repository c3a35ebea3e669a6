"""Editing message templates in the panel: a new version with a preview; a refused one keeps what was typed."""

from __future__ import annotations

from tests.admin.browser import accessible, at_width, browser_only, no_overflow, screenshot
from tests.admin.conftest import csrf_token
from tests.admin.test_people_browser import SECRET, log_in_admin
from tests.factories import PASSWORD


def test_an_admin_saves_a_template_and_a_sensitive_one_is_refused(panel_login, client, admin_user):
    panel_login(admin_user.email, PASSWORD)
    page = client.get("/admin/templates").get_data(as_text=True)
    assert "check in · Spanish" in page and "version 0 (built in)" in page
    token = csrf_token(page)
    refused = client.post("/admin/templates/check_in/en", data={"body": "How is rehab going, {first_name}?",
                                                                 "csrf_token": token})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "rehab" in html and "How is rehab going, {first_name}?" in html
    saved = client.post("/admin/templates/check_in/en", data={"body": "Hi {first_name}, thinking of you.",
                                                               "csrf_token": token}, follow_redirects=True)
    html = saved.get_data(as_text=True)
    assert "as version 1" in html and "Hi Lucía, thinking of you." in html


@browser_only[0]
@browser_only[1]
def test_templates_in_the_browser(page, live_server, factory, program):
    factory.user("admin", program, email="admin@example.test", totp_secret=SECRET)
    log_in_admin(page, live_server)
    page.click("nav >> text=Templates")
    page.wait_for_url(f"{live_server}/admin/templates")
    accessible(page)
    screenshot(page, "templates-wide")
    page.fill("#body-check_in-es", "Hola {first_name}, ¿cómo va tu tratamiento?")
    page.locator("#t-check_in-es button").click()
    assert "tratamiento" in page.locator("#err-check_in-es").inner_text()
    at_width(page, 820)
    no_overflow(page)
    accessible(page)
