"""Partner outcomes (which partners actually receive our patients) and catalogue upkeep."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin.actions import panel_action
from admin.core import LEADS, blueprint, roles
from admin.forms import ConfirmForm
from backend.partners import service as partner_service
from backend.reports import partners as partner_reports

PERIODS = (30, 90, 365)  # days a supervisor can look back over in the partner outcomes page


def _outcomes() -> tuple[list[dict], int]:
    days = request.args.get("days", type=int)
    days = days if days in PERIODS else 90
    return partner_reports.partner_outcomes(current_user, days), days  # audited: the view commits the event


@blueprint.get("/partners")
@roles(*LEADS)
@panel_action()
def partner_outcomes():
    """Which partners actually receive our patients: handoffs, attendance, no-shows, speed, referrals back."""
    report, days = _outcomes()
    rows = sorted(report, key=lambda row: (-row["handoffs"], row["organization_name"]))
    return render_template("admin/partners.html", rows=rows, days=days, periods=PERIODS,
                           monthly=partner_reports.show_rates_by_month(current_user))


@blueprint.get("/partners/outcomes.csv")
@roles(*LEADS)
@panel_action()
def partner_outcomes_csv():
    """The partner outcomes of the chosen period as a spreadsheet."""
    report, days = _outcomes()
    return Response(partner_reports.as_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=partner-outcomes-{days}d.csv"})


@blueprint.get("/catalogue")
@roles(*LEADS)
@panel_action()
def catalogue():
    """Services not verified in 90 days: call the partner, then mark the service confirmed."""
    return render_template("admin/catalogue.html", services=partner_service.services_to_verify(current_user),
                           confirm_form=ConfirmForm())


@blueprint.post("/services/<service_id>/verified")
@roles(*LEADS)
@panel_action(on_error="admin.catalogue")
def confirm_service(service_id):
    """Mark a service's details confirmed with the partner today."""
    if ConfirmForm().validate_on_submit():
        card = partner_service.confirm_service(current_user, service_id)
        flash(f"{card['name']} is marked verified today.", "info")
    return redirect(url_for("admin.catalogue"))
