"""Policies: the programme's caseload policy, messaging policy, warm line (hours, rules, override) and numbers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import validate

from admin.actions import panel_action
from admin.core import ADMIN, blueprint, roles
from admin.forms import load_form, refused
from admin.users import NOT_SAVED, blank_to_none, local_time
from backend.auth import mfa
from backend.caseload import service as caseload_service
from backend.caseload.schemas import CaseloadPolicyOutSchema, CaseloadPolicySchema
from backend.common.errors import DomainError
from backend.messaging import service as messaging_service
from backend.messaging.schemas import MessagingPolicySchema
from backend.programs.hours import WEEKDAYS
from backend.programs.numbers import numbers_of
from backend.voice import service as voice_service
from backend.voice.schemas import LineOverrideSchema, WarmLineSettingsSchema

CASELOAD_LABELS = {
    "default_cap": "Default cap (weighted load per coach)",
    "weight_low": "Weight of a low-acuity patient",
    "weight_standard": "Weight of a standard-acuity patient",
    "weight_high": "Weight of a high-acuity patient",
    "max_shift_hours": "Longest shift (hours) before it is closed",
    "watch_utilisation_pct": "Watch a coach from this % of their cap",
    "after_hours_contacts": "After-hours contacts in 7 days",
    "crisis_contacts": "Crisis contacts in 7 days",
    "consecutive_contact_days": "Days in a row with contacts",
    "supervision_gap_days": "Days without a supervision session",
    "stress_threshold": "Check-in stress at or above (1-5)",
    "after_hours_calls": "Warm-line calls outside shifts in 7 days",
    "phone_minutes_per_day": "Phone minutes on one day",
    "escalate_overdue_after_hours": "Hours past due before a task goes to the supervisor",
}
CAPS = ("default_cap", "weight_low", "weight_standard", "weight_high")
MESSAGING_FIELDS = ("quiet_start_hour", "quiet_end_hour", "follow_up_expiry_hours", "sms_display_name")
LINE_NUMBERS = ("ring_timeout_seconds", "max_coaches", "max_wait_seconds", "recording_retention_days",
                "callback_due_minutes")
LINE_TEXTS = ("crisis_number", "crisis_transfer_number")
LINE_CHECKS = ("transcribe_voicemail", "callbacks_for_voicemail_only")
DAYS = WEEKDAYS["en"]


def _range_hint(field) -> str:
    ranges = [v for v in field.validators if isinstance(v, validate.Range)]
    return f"From {ranges[0].min:g} to {ranges[0].max:g}." if ranges else ""


def _caseload_fields() -> list[dict]:
    """The caseload form follows the API's schema: every field it accepts, with its range as the hint."""
    schema = CaseloadPolicySchema()
    return [{"name": name, "label": CASELOAD_LABELS.get(name, name.replace("_", " ").capitalize()),
             "hint": _range_hint(field), "step": "0.05" if name.startswith("weight_") else "1",
             "group": "caps" if name in CAPS else "signals"} for name, field in schema.fields.items()]


def _hours_rows(hours: list[dict], errors: dict | None = None) -> list[dict]:
    """One row per weekday (the first opening window of the day), with that row's errors."""
    rows = []
    for day, name in enumerate(DAYS):
        slots = [slot for slot in hours if slot.get("weekday") == day]
        first = slots[0] if slots else {}
        rows.append({"weekday": day, "name": name, "closed": not slots, "opens": first.get("opens", ""),
                     "closes": first.get("closes", ""), "more": len(slots) - 1 if slots else 0,
                     "errors": (errors or {}).get(day, {})})
    return rows


def _line_values(line) -> dict:
    values = {name: getattr(line, name) for name in (*LINE_NUMBERS, *LINE_TEXTS, *LINE_CHECKS)}
    return {**values, "hours": _hours_rows(line.hours)}


def _page(caseload=None, messaging=None, line=None, override=None, status: int = 200):
    """The page with each form's stored values, or what was typed in the one refused (with its errors)."""
    policy = caseload_service.read_policy(current_user)
    state = voice_service.warm_line_state(current_user)
    settings = state["settings"]
    stored_messaging = messaging_service.messaging_policy(current_user.program_id)
    until = settings.override_until
    forms = {
        "caseload": caseload or {"values": CaseloadPolicyOutSchema().dump(policy), "errors": {}},
        "messaging": messaging or {"values": {name: getattr(stored_messaging, name) for name in MESSAGING_FIELDS},
                                   "errors": {}},
        "line": line or {"values": _line_values(settings), "errors": {}},
        "override": override or {"values": {"state": settings.override or "",
                                            "until": local_time(until, "%Y-%m-%dT%H:%M") if until else ""},
                                 "errors": {}},
    }
    if any(form["errors"] for form in forms.values()):
        flash(NOT_SAVED, "error")
    return render_template("admin/policies.html", forms=forms, caseload_fields=_caseload_fields(), state=state,
                           next_opening=local_time(state["next_opening"], "%a %d %b %H:%M"),
                           override_until=local_time(until, "%a %d %b %H:%M"),
                           numbers=numbers_of(current_user.program_id)), status


def _save(service, changes: dict, form_name: str, typed: dict, section: str, done: str, resource: str):
    """Run a policy service; a refusal naming fields shows the form again with what was typed and its errors."""
    try:
        service(current_user, changes)
    except DomainError as exc:
        errors, status = refused(exc, "update", resource)
        if not errors:
            return redirect(url_for("admin.policies", _anchor=section))
        return _page(**{form_name: {"values": typed, "errors": errors}}, status=status)
    flash(done, "info")
    return redirect(url_for("admin.policies", _anchor=section))


@blueprint.get("/policies")
@roles(*ADMIN)
@panel_action()
def policies():
    """Caseload policy, messaging policy, the warm line and the programme's numbers."""
    return _page()


@blueprint.post("/policies/caseload")
@roles(*ADMIN)
@panel_action(on_error="admin.policies")
def save_caseload_policy():
    """Save the default cap, acuity weights and burnout thresholds."""
    typed = {field["name"]: request.form.get(field["name"], "").strip() for field in _caseload_fields()}
    changes, errors = load_form(CaseloadPolicySchema(), typed)
    if errors:
        return _page(caseload={"values": typed, "errors": errors}, status=422)
    return _save(caseload_service.update_policy, changes, "caseload", typed, "caseload", "Caseload policy saved.",
                 "caseload_policy")


@blueprint.post("/policies/messaging")
@roles(*ADMIN)
@panel_action(on_error="admin.policies")
def save_messaging_policy():
    """Save quiet hours, follow-up expiry and the name texts' HELP replies use."""
    typed = {**{name: request.form.get(name, "").strip() for name in MESSAGING_FIELDS[:3]},
             **blank_to_none(request.form, ("sms_display_name",))}
    changes, errors = load_form(MessagingPolicySchema(), typed)
    if errors:
        return _page(messaging={"values": typed, "errors": errors}, status=422)
    return _save(messaging_service.update_policy, changes, "messaging", typed, "messaging",
                 "Messaging policy saved.", "messaging_policy")


def _typed_hours() -> list[dict]:
    return [{"weekday": day, "closed": bool(request.form.get(f"hours-{day}-closed")),
             "opens": request.form.get(f"hours-{day}-opens", "").strip(),
             "closes": request.form.get(f"hours-{day}-closes", "").strip()} for day in range(len(DAYS))]


def _hours_errors(typed_hours: list[dict], errors: dict) -> dict:
    """The schema's errors of the hours list (by position among the open days) as errors by weekday."""
    open_days = [row["weekday"] for row in typed_hours if not row["closed"]]
    listed = errors.get("hours", {})
    return {open_days[index]: problems for index, problems in listed.items()
            if isinstance(index, int) and index < len(open_days)}


@blueprint.post("/policies/warm-line")
@roles(*ADMIN)
@panel_action(on_error="admin.policies")
def save_warm_line():
    """Save the warm line's hours per weekday and its ringing, voicemail and callback rules."""
    typed_hours = _typed_hours()
    typed = {**{name: request.form.get(name, "").strip() for name in (*LINE_NUMBERS, *LINE_TEXTS)},
             **{name: bool(request.form.get(name)) for name in LINE_CHECKS}}
    data = {**typed, "hours": [{key: row[key] for key in ("weekday", "opens", "closes")}
                               for row in typed_hours if not row["closed"]]}
    changes, errors = load_form(WarmLineSettingsSchema(), data)
    shown = {**typed, "hours": [{**row, "name": DAYS[row["weekday"]], "more": 0,
                                 "errors": _hours_errors(typed_hours, errors).get(row["weekday"], {})}
                                for row in typed_hours]}
    if errors:
        return _page(line={"values": shown, "errors": errors}, status=422)
    return _save(voice_service.update_warm_line, changes, "line", shown, "warm-line", "Warm-line settings saved.",
                 "warm_line")


@blueprint.post("/policies/warm-line/override")
@roles(*ADMIN)
@panel_action(on_error="admin.policies")
def set_line_override():
    """Open or close the line now, until a time (programme time) or until cleared; or follow the hours again."""
    typed = {"state": request.form.get("state", ""), "until": request.form.get("until", "").strip()}
    errors: dict = {}
    until = None
    if typed["until"]:
        try:
            until = datetime.fromisoformat(typed["until"]).replace(tzinfo=ZoneInfo(current_user.program.timezone))
        except ValueError:
            errors = {"until": ["Enter a date and time, e.g. 2026-06-16T18:00."]}
    data, schema_errors = load_form(LineOverrideSchema(), {"state": typed["state"] or None,
                                                           "until": until.isoformat() if until else None})
    errors = {**schema_errors, **errors}
    if errors:
        return _page(override={"values": typed, "errors": errors}, status=422)
    try:
        voice_service.set_override(current_user, data["state"], data["until"] if data["state"] else None)
    except DomainError as exc:
        errors, status = refused(exc, "override", "warm_line")
        if not errors:
            return redirect(url_for("admin.policies", _anchor="warm-line"))
        return _page(override={"values": typed, "errors": errors}, status=status)
    flash({"open": "The line is open now.", "closed": "The line is closed now."}.get(
        data["state"], "The line follows its hours again."), "info")
    return redirect(url_for("admin.policies", _anchor="warm-line"))


@blueprint.post("/policies/second-factor")
@roles(*ADMIN)
@panel_action(on_error="admin.policies")
def save_mfa_policy():
    """Require supervisors, like admins, to sign in with a second factor (or stop requiring it)."""
    required = request.form.get("supervisors") == "on"
    mfa.set_supervisor_policy(current_user.program, required, actor=current_user)
    flash("Supervisors " + ("now sign in with a second factor." if required else
                            "no longer need a second factor (admins always do)."), "info")
    return redirect(url_for("admin.policies", _anchor="second-factor"))
