"""The team: every coach's load against cap and burnout level with reasons, sortable, each linking to the coach."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from admin.actions import panel_action
from admin.core import SUPERVISOR, blueprint, roles
from backend.caseload import service as caseload_service

LEVEL_ORDER = {"high": 0, "watch": 1, "ok": 2}
SORTS = {
    "name": lambda row: (row["coach_name"].lower(),),
    "utilisation": lambda row: (-row["utilisation"], row["coach_name"].lower()),
    "level": lambda row: (LEVEL_ORDER.get(row["level"], 3), -row["utilisation"], row["coach_name"].lower()),
    "shift": lambda row: (not row["on_shift"], row["coach_name"].lower()),
}


@blueprint.get("/team")
@roles(*SUPERVISOR)
@panel_action()
def team():
    """Team caseloads: load against cap, burnout level and the reasons behind it."""
    sort = request.args.get("sort") if request.args.get("sort") in SORTS else "level"
    rows = sorted(caseload_service.team_caseloads(current_user), key=SORTS[sort])
    return render_template("admin/team.html", rows=rows, sort=sort, sorts=list(SORTS))
