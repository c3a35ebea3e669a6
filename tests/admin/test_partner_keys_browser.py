"""The partner keys page in a real browser: issue a key, see it once, revoke it; accessible at 1440 and 820 px."""

from __future__ import annotations

import pytest

from backend.database import db
from backend.partners.models import Organization
from tests.admin.browser import NARROW, WIDE, accessible, at_width, browser_only, no_overflow, screenshot
from tests.admin.test_people_browser import SECRET, log_in_admin

pytestmark = browser_only


@pytest.fixture
def admin_user(factory, program):
    return factory.user("admin", program, email="admin@example.test", full_name="Ada Admin", totp_secret=SECRET)


def checked(page, name: str) -> None:
    for width, suffix in ((WIDE, "wide"), (NARROW, "narrow")):
        at_width(page, width)
        accessible(page)
        no_overflow(page)
        screenshot(page, f"{name}-{suffix}")
    at_width(page, WIDE)


def test_an_admin_issues_and_revokes_a_partner_key(app, live_server, page, admin_user, program):
    with app.app_context():
        db.session.add(Organization(program_id=program.id, name="Northside Health"))
        db.session.commit()
    log_in_admin(page, live_server)
    page.goto(f"{live_server}/admin/partner-keys")
    checked(page, "partner-keys-empty")
    page.fill("#f-name", "Northside EHR")
    page.check("input[value='hsds:read']")
    page.check("input[value='fhir:handoffs']")
    page.select_option("#f-organization_id", label="Northside Health")
    page.click("text=Issue and show the key")
    secret = page.inner_text("[data-testid=partner-key-secret]")
    assert secret.startswith("blk_")
    checked(page, "partner-key-secret")
    page.click("text=All partner keys")
    assert secret not in page.content() and "Northside EHR" in page.content()
    checked(page, "partner-keys-list")
    page.click("button[aria-label='Revoke Northside EHR']")
    page.wait_for_selector("text=is revoked")
    assert "revoked" in page.inner_text("table.keys")
