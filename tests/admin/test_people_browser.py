"""Users, policies, the audit log and the accounting of disclosures in a real browser (Debian's chromium)."""

from __future__ import annotations

import csv
import io

import pyotp
import pytest
import sqlalchemy as sa

from backend.database import db
from backend.programs.models import CaseloadPolicy, WarmLine
from backend.users.models import User
from tests.admin.browser import NARROW, WIDE, accessible, at_width, browser_only, no_overflow, screenshot
from tests.admin.test_audit_log import disclose, record
from tests.factories import PASSWORD

pytestmark = browser_only
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def admin_user(factory, program):
    """An admin whose authenticator app is set up already (the browser types its code)."""
    return factory.user("admin", program, email="admin@example.test", full_name="Ada Admin", totp_secret=SECRET)


def log_in_admin(page, live_server: str, email: str = "admin@example.test") -> None:
    page.goto(f"{live_server}/admin/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/admin/mfa")
    page.fill("#code", pyotp.TOTP(SECRET).now())
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/admin/")


def checked(page, name: str) -> None:
    """axe-core and no sideways scrolling at 1440 and at 820 px, with a screenshot at each width."""
    for width, suffix in ((WIDE, "wide"), (NARROW, "narrow")):
        at_width(page, width)
        accessible(page)
        no_overflow(page)
        screenshot(page, f"{name}-{suffix}")
    at_width(page, WIDE)


def test_an_admin_adds_and_deactivates_a_user_and_forces_a_password_change(
        app, page, live_server, admin_user, supervisor, coach, coach_api):
    log_in_admin(page, live_server)
    page.click("nav >> text=Users")
    page.wait_for_url(f"{live_server}/admin/users")
    assert page.get_by_test_id(f"user-{coach.id}").is_visible()
    checked(page, "users-list")

    page.fill("#f-full_name", "Nova Coach")
    page.fill("#f-email", "nova.coach@example.test")
    page.select_option("#f-role", "coach")
    page.select_option("#f-supervisor_id", str(supervisor.id))
    page.click("text=Add and show the temporary password")
    assert page.get_by_role("heading", level=1).inner_text() == "Nova Coach is added"
    assert len(page.get_by_test_id("temporary-password").inner_text()) == 26
    checked(page, "users-added")
    with app.app_context():
        assert db.session.scalar(sa.select(User.must_change_password).where(User.email == "nova.coach@example.test"))

    page.goto(f"{live_server}/admin/users/{coach.id}")
    checked(page, "users-user")
    assert coach_api.get("/api/v1/me").status_code == 200
    page.click(f"text=Deactivate {coach.full_name}")
    assert "deactivated" in page.get_by_test_id("status").inner_text()
    assert coach_api.get("/api/v1/me").status_code == 401  # the deactivated user's token is refused at once

    page.click("text=Force a password change")
    assert page.get_by_role("heading", level=1).inner_text() == f"New password due for {coach.full_name}"
    assert page.get_by_test_id("temporary-password").is_visible()
    checked(page, "users-password")
    page.click(f"text=Go to {coach.full_name}")
    assert page.get_by_test_id("password-state").inner_text() == "a new one is due at their next login"


def test_an_admin_edits_the_caseload_policy_and_the_warm_line_hours(app, page, live_server, admin_user, program):
    log_in_admin(page, live_server)
    page.click("nav >> text=Policies")
    page.wait_for_url(f"{live_server}/admin/policies")
    checked(page, "policies")

    page.fill("#f-default_cap", "28")
    page.fill("#f-weight_high", "2")
    page.click("text=Save caseload policy")
    assert page.get_by_text("Caseload policy saved.").is_visible()
    with app.app_context():
        policy = db.session.get(CaseloadPolicy, program.id)
        assert (policy.default_cap, policy.weight_high) == (28, 200)

    page.check("#hours-6-closed")
    page.fill("#hours-5-opens", "10:00")
    page.fill("#hours-5-closes", "16:00")
    page.click("text=Save warm-line settings")
    assert page.get_by_text("Warm-line settings saved.").is_visible()
    with app.app_context():
        hours = db.session.get(WarmLine, program.id).hours
    assert {"weekday": 5, "opens": "10:00", "closes": "16:00"} in hours and all(h["weekday"] != 6 for h in hours)

    page.fill("#hours-2-opens", "25:00")
    page.fill("#hours-4-closes", "23:30")
    page.click("text=Save warm-line settings")
    error = page.locator("#hours-2-opens-error")
    assert error.is_visible() and "Use HH:MM" in error.inner_text()
    assert page.input_value("#hours-2-opens") == "25:00" and page.input_value("#hours-4-closes") == "23:30"
    assert page.is_checked("#hours-6-closed") and page.input_value("#hours-5-opens") == "10:00"
    checked(page, "policies-refused")
    with app.app_context():
        assert all(h["closes"] != "23:30" for h in db.session.get(WarmLine, program.id).hours)


def test_an_admin_filters_the_audit_log_downloads_it_and_opens_an_accounting(
        app, page, live_server, admin_user, coach, factory):
    patient = factory.patient(coach)
    record(app, coach, "=cmd|' /C calc'!A0", patient_id=patient.id)
    record(app, coach, "read", patient_id=patient.id + 1000)
    disclose(app, patient, coach, days_ago=3)
    log_in_admin(page, live_server)
    page.click("nav >> text=Audit log")
    page.wait_for_url(f"{live_server}/admin/audit")
    checked(page, "audit-log")

    page.select_option("#f-user_id", str(coach.id))
    page.fill("#f-patient_id", str(patient.id))
    page.click("text=Show events")
    page.wait_for_url(f"{live_server}/admin/audit?*")
    assert page.locator("table.audit tbody tr").count() == 1
    checked(page, "audit-log-filtered")
    with page.expect_download() as download:
        page.click("text=Download CSV")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert [row["action"] for row in rows] == ["'=cmd|' /C calc'!A0"] and rows[0]["staff"] == coach.full_name

    page.click(f"text=Accounting of disclosures for patient {patient.id}")
    page.wait_for_url(f"{live_server}/admin/patients/{patient.id}/disclosures")
    assert page.get_by_test_id("patient-name").inner_text() == f"{patient.first_name} {patient.last_name}"
    assert page.get_by_text("Northside Health").is_visible()
    checked(page, "audit-disclosures")
    page.emulate_media(media="print")
    assert not page.locator("header.topbar").is_visible() and not page.locator(".crumbs").is_visible()
    assert page.get_by_text("Northside Health").is_visible()
    screenshot(page, "audit-disclosures-print")
    page.emulate_media(media="screen")

    page.goto(f"{live_server}/admin/disclosures?patient_id=one")
    assert page.locator("#f-patient_id-error").is_visible()
    checked(page, "audit-disclosures-lookup")
    page.goto(f"{live_server}/admin/audit")
    page.fill("#lookup-patient-id", str(patient.id))
    page.click("text=Open the accounting")
    page.wait_for_url(f"{live_server}/admin/patients/{patient.id}/disclosures")
