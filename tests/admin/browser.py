"""Browser test helpers: Debian's chromium driven by Playwright, axe-core on every page, screenshots.

`page` (a fixture in conftest) opens pages at 1440 px; `at_width(page, 820)` narrows it. `accessible(page)`
injects axe-core (the npm package, pinned in scripts/test) and fails on any serious or critical violation.
`screenshot(page, name)` keeps an artefact under tests/artifacts/ (docs/screenshots/ holds the committed ones).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.factories import PASSWORD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
AXE = Path(os.environ.get("AXE_CORE_JS") or
           Path(__file__).resolve().parents[2] / ".cache/axe-core/node_modules/axe-core/axe.min.js")
WIDE, NARROW = 1440, 820

browser_only = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM and os.environ.get("REQUIRE_BROWSER") != "1",
                       reason="Debian's chromium is not installed"),
]


def accessible(page) -> None:
    """axe-core over the page as it is now: no serious or critical violation (WCAG 2.1 A and AA)."""
    if not AXE.exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"axe-core is missing at {AXE} (scripts/test installs it)")
        return
    page.evaluate(AXE.read_text())  # through the debugger, so the page's strict CSP stays as it is
    result = page.evaluate("axe.run(document, {runOnly: {type: 'tag', values: "
                           "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})")
    bad = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{page.url}: {bad}"


def at_width(page, width: int) -> None:
    """Resize the viewport (1440 and 820 px are the widths the panel must work at)."""
    page.set_viewport_size({"width": width, "height": 900})


def screenshot(page, name: str) -> Path:
    """Keep a full-page screenshot as a test artefact."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page, live_server: str, email: str, password: str = PASSWORD) -> None:
    """Log in through the form (users made by the factory have no second factor to enter)."""
    page.goto(f"{live_server}/admin/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/admin/")


def no_overflow(page) -> None:
    """Nothing wider than the window (the page works at 820 px without sideways scrolling of the page)."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url
