"""The panel in a real browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

from tests.admin.browser import ARTIFACTS, accessible, browser_only
from tests.factories import PASSWORD

pytestmark = browser_only


def test_supervisor_logs_in_and_out_in_the_browser(page, live_server, supervisor, factory, coach, backend):
    factory.patient(coach)
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{live_server}/admin/")
    assert page.url.endswith("/admin/login?next=%2Fadmin%2F")
    page.fill("#email", supervisor.email)
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text() == "The e-mail address or password is incorrect."
    page.fill("#email", supervisor.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/admin/")
    assert page.get_by_role("heading", level=1).inner_text() == "Test Programme"
    accessible(page)
    assert page.get_by_test_id("open-patients").inner_text() == "1"
    page.screenshot(path=str(ARTIFACTS / f"admin-dashboard-{backend}.png"), full_page=True)
    page.click("nav >> text=Team")
    page.wait_for_url(f"{live_server}/admin/team")
    assert page.get_by_test_id(f"coach-{coach.id}").get_by_text("No supervision session ever.").is_visible()
    page.screenshot(path=str(ARTIFACTS / f"admin-team-{backend}.png"), full_page=True)
    page.click("nav >> text=Partner outcomes")
    page.wait_for_url(f"{live_server}/admin/partners")
    assert page.get_by_role("heading", level=1).inner_text() == "Partner outcomes"
    assert page.get_by_test_id("handoffs").inner_text() == "0"
    page.click("text=Last 30 days")
    page.wait_for_url(f"{live_server}/admin/partners?days=30")
    page.screenshot(path=str(ARTIFACTS / f"admin-partners-{backend}.png"), full_page=True)
    page.click("nav >> text=Catalogue")
    page.wait_for_url(f"{live_server}/admin/catalogue")
    assert page.get_by_text("Every service was confirmed in the last 90 days.").is_visible()
    page.click("text=Log out")
    page.wait_for_url(f"{live_server}/admin/login")
    assert "You are logged out." in page.content()
