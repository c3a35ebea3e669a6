"""Today: the programme at a glance, each card a way into the page behind it, refreshed in place (htmx)."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from admin.actions import panel_action
from admin.core import LEADS, blueprint, roles
from backend.reports import service as reports
from backend.voice import service as voice


def _figures() -> dict:
    """Counts only (no patient data): a refresh writes no audit row."""
    return {"summary": reports.programme_summary(current_user), "line": voice.today(current_user),
            "now": voice.calls_now(current_user)}


@blueprint.get("/")
@roles(*LEADS)
@panel_action()
def dashboard():
    """Today: open patients, waiting, overdue follow-ups, coaches on shift, the warm line today and now."""
    return render_template("admin/dashboard.html", **_figures())


@blueprint.get("/today/cards")
@roles(*LEADS)
@panel_action()
def dashboard_cards():
    """The cards alone, for the page to refresh every 10 seconds without a reload."""
    return render_template("admin/_today_cards.html", **_figures())
