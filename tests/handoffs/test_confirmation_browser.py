"""The partner's confirmation page on a phone: 390 px wide, big buttons, readable, accessible."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import time_machine

from backend.database import utcnow
from tests.admin.browser import accessible, at_width, browser_only, no_overflow, screenshot
from tests.handoffs.test_confirmation_link import handoff_with_link

pytestmark = browser_only
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_the_confirmation_page_works_on_a_phone(page, live_server, coach_api, supervisor_api, factory, coach,
                                                backend):
    _, path = handoff_with_link(coach_api, supervisor_api, factory, coach)
    at_width(page, 390)
    page.goto(f"{live_server}{path}")
    assert page.get_by_role("heading", level=1).inner_text() == "Did the patient arrive?"
    assert "A referral from Test Programme" in page.locator("header").inner_text()
    no_overflow(page)
    accessible(page)
    button = page.get_by_role("button", name="Arrived").bounding_box()
    assert button["height"] >= 48 and button["width"] >= 300  # a thumb finds it
    shot = screenshot(page, f"partner-confirmation-phone-{backend}")
    if backend == "sqlite" and os.environ.get("UPDATE_SCREENSHOTS") == "1":  # docs/screenshots/ is committed
        SCREENSHOTS.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOTS / "partner-confirmation-phone.png")
    page.get_by_role("button", name="Arrived").click()  # before the appointment: refused, nothing recorded
    assert "has not started yet" in page.get_by_role("alert").inner_text()
    with time_machine.travel(utcnow() + timedelta(days=3), tick=True):
        page.goto(f"{live_server}{path}")
        page.get_by_role("button", name="Arrived").click()
        assert "Your answer was recorded" in page.locator("main").inner_text()
        accessible(page)
