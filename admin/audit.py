"""The audit log (filtered, paged, as CSV; reading it is itself audited) and a patient's accounting of disclosures."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Response, abort, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from admin.actions import panel_action
from admin.core import ADMIN, blueprint, roles
from admin.forms import load_form
from admin.users import local_time
from backend.audit import service as audit
from backend.common.errors import NotFoundError
from backend.common.pagination import page_of
from backend.common.spreadsheet import csv_text
from backend.consent import service as consent_service
from backend.database import db, utcnow
from backend.users import service as users_service

PAGE_SIZE = 25
EXPORT_LIMIT = 10_000  # rows in one CSV download, newest first
OUTCOMES = (("", "Any outcome"), ("success", "Succeeded"), ("refused", "Refused or failed"))
CSV_COLUMNS = ["occurred_at", "staff", "user_id", "role", "action", "resource", "resource_id", "patient_id",
               "outcome", "remote_addr", "request_id", "details"]
FILTER_NAMES = ("user_id", "patient_id", "action", "outcome", "date_from", "date_to")


class AuditFilterSchema(Schema):
    """The audit log's filters as the page's form sends them (dates are the programme's local days)."""

    class Meta:
        unknown = EXCLUDE

    user_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    patient_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    action = fields.String(validate=validate.Length(max=40))
    outcome = fields.String(validate=validate.OneOf(["success", "refused"]))
    date_from = fields.Date()
    date_to = fields.Date()
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))

    @validates_schema(skip_on_field_errors=False)
    def _in_order(self, data, **kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ValidationError("Must be on or after the first day.", "date_to")


def _filters() -> tuple[dict, dict, dict]:
    """What the form asked for as typed, as loaded, and its errors."""
    typed = {name: request.args.get(name, "").strip() for name in (*FILTER_NAMES, "page")}
    typed = {name: value for name, value in typed.items() if value}
    loaded, errors = load_form(AuditFilterSchema(), typed)
    return typed, loaded or {}, errors


def _events(loaded: dict):
    """The programme's audit events the filters keep, newest first (a select)."""
    zone = ZoneInfo(current_user.program.timezone)

    def start_of(day):
        return datetime.combine(day, time(0), tzinfo=zone)

    return audit.list_events(
        current_user, patient_id=loaded.get("patient_id"), user_id=loaded.get("user_id"),
        action=loaded.get("action", "").lower() or None,
        succeeded={"success": True, "refused": False}.get(loaded.get("outcome")),
        since=start_of(loaded["date_from"]) if loaded.get("date_from") else None,
        until=start_of(loaded["date_to"] + timedelta(days=1)) if loaded.get("date_to") else None)


def _staff_names() -> dict[int, str]:
    return {person.id: person.full_name for person in db.session.scalars(users_service.list_users(current_user))}


def _details(details) -> str:
    return "" if details is None else json.dumps(details, separators=(", ", ": "), ensure_ascii=False)


def _row(event, names: dict[int, str]) -> dict:
    staff = names.get(event.user_id, f"user {event.user_id}") if event.user_id else "system"
    return {"event": event, "staff": staff, "when": local_time(event.occurred_at, "%Y-%m-%d %H:%M:%S"),
            "details": _details(event.details)}


@blueprint.get("/audit")
@roles(*ADMIN)
@panel_action()
def audit_log():
    """Who read or changed what: filtered by staff member, patient, action, outcome and days, newest first."""
    typed, loaded, errors = _filters()
    names = _staff_names()
    rows, total, page = [], 0, loaded.get("page", 1)
    if not errors:
        events, total = page_of(_events(loaded), page, PAGE_SIZE)
        rows = [_row(event, names) for event in events]
        audit.record_read(current_user, count=len(rows),
                          filters={name: loaded[name] for name in FILTER_NAMES if name in loaded})
    args = {name: value for name, value in typed.items() if name != "page"}
    return render_template("admin/audit.html", rows=rows, total=total, page=page, errors=errors, typed=typed,
                           args=args, pages=max(1, -(-total // PAGE_SIZE)), outcomes=OUTCOMES,
                           staff=sorted(names.items(), key=lambda item: item[1].lower()),
                           timezone=current_user.program.timezone, export_limit=EXPORT_LIMIT,
                           patient_id=loaded.get("patient_id") if not errors else None), 422 if errors else 200


@blueprint.get("/audit.csv")
@roles(*ADMIN)
@panel_action(on_error="admin.audit_log")
def audit_log_csv():
    """The filtered audit events as a spreadsheet (newest first, up to the export limit)."""
    typed, loaded, errors = _filters()
    if errors:
        return redirect(url_for("admin.audit_log", **typed))
    names = _staff_names()
    events = db.session.scalars(_events(loaded).limit(EXPORT_LIMIT)).all()
    audit.record_read(current_user, count=len(events), export=True,
                      filters={name: loaded[name] for name in FILTER_NAMES if name in loaded})
    rows = [{"occurred_at": event.occurred_at.isoformat(), "staff": _row(event, names)["staff"],
             "user_id": event.user_id, "role": event.role, "action": event.action, "resource": event.resource,
             "resource_id": event.resource_id, "patient_id": event.patient_id, "outcome": event.outcome,
             "remote_addr": event.remote_addr, "request_id": event.request_id, "details": _details(event.details)}
            for event in events]
    return Response(csv_text(rows, CSV_COLUMNS), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit-log.csv",
                             "Cache-Control": "no-store"})


@blueprint.get("/disclosures")
@roles(*ADMIN)
@panel_action()
def disclosures_lookup():
    """Open a patient's accounting of disclosures by their id."""
    typed = request.args.get("patient_id", "").strip()
    loaded, errors = load_form(AuditFilterSchema(only=("patient_id",)), {"patient_id": typed} if typed else {})
    if typed and not errors:
        return redirect(url_for("admin.disclosures", patient_id=loaded["patient_id"]))
    if not typed and "patient_id" in request.args:
        errors = {"patient_id": ["Enter the patient's id."]}
    return render_template("admin/disclosures_lookup.html", typed=typed, errors=errors), 422 if errors else 200


@blueprint.get("/patients/<int:patient_id>/disclosures")
@roles(*ADMIN)
@panel_action()
def disclosures(patient_id):
    """A patient's accounting of disclosures (42 CFR 2.24), printable; viewing it is audited."""
    try:
        report = consent_service.accounting_report(current_user, patient_id)
    except NotFoundError:
        abort(404)
    rows = [{**row, "when": local_time(row["disclosure"].disclosed_at)} for row in report["disclosures"]]
    return render_template("admin/disclosures.html", patient=report["patient"], rows=rows,
                           since=local_time(report["since"], "%Y-%m-%d"), printed=local_time(utcnow()),
                           timezone=current_user.program.timezone)
