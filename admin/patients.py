"""Patients: search the programme's patients by name, phone, status and coach; a read-only page per patient with
its details, timeline, consents, handoffs and calls (every read audited by the service that does it)."""

from __future__ import annotations

import json
from datetime import datetime

from flask import current_app, render_template, request
from flask_login import current_user
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from admin.actions import panel_action
from admin.core import SUPERVISOR, blueprint, roles
from admin.forms import flat_errors, programme_time
from backend.common.errors import NotFoundError
from backend.common.pagination import filters, page_of
from backend.consent import service as consent_service
from backend.database import db
from backend.handoffs import service as handoff_service
from backend.partners import service as partner_service
from backend.patients import service as patient_service
from backend.patients.models import PatientStatus
from backend.patients.schemas import PatientListQuerySchema
from backend.timeline import service as timeline_service
from backend.users import service as users_service
from backend.users.models import Role
from backend.voice import service as voice

PAGE_SIZE = 25
TIMELINE_PAGE_SIZE = 20
RECENT_CALLS = 20
SEARCH_FIELDS = ("q", "status", "coach_id")


def in_programme_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware datetime as the programme's clock shows it ('–' for none)."""
    return programme_time(value, fmt, empty="–")


field_messages = flat_errors


def _coaches() -> list:
    return list(db.session.scalars(users_service.list_users(current_user, role=Role.COACH)))


def page_number() -> int:
    """The ?page= asked for (1 when missing or out of range)."""
    page = request.args.get("page", 1, type=int)
    return page if 1 <= page <= 100_000 else 1


@blueprint.get("/patients")
@roles(*SUPERVISOR)
@panel_action()
def patients():
    """Find a patient of the programme by name or phone, status and coach (the list read is audited once)."""
    typed = {name: request.args.get(name, "").strip() for name in SEARCH_FIELDS}
    raw = {name: value for name, value in typed.items() if value}
    if "status" in raw:
        raw["status"] = [raw["status"]]
    coaches = _coaches()
    context = {"typed": typed, "coach_names": {c.id: c.full_name for c in coaches}, "searched": bool(raw),
               "status_options": [("", "Any status")] + [(s.value, s.value.capitalize()) for s in PatientStatus],
               "coach_options": [("", "Any coach")] + [(c.id, c.full_name + ("" if c.active else " (inactive)"))
                                                        for c in coaches]}
    try:
        query = PatientListQuerySchema().load({**raw, "page": page_number(), "page_size": PAGE_SIZE})
    except ValidationError as exc:
        return render_template("admin/patients.html", errors=field_messages(exc.messages), rows=[], total=0,
                               page=1, pages=1, args={}, **context), 422
    items, total = page_of(patient_service.list_patients(current_user, **filters(query)), query["page"], PAGE_SIZE)
    patient_service.audit_list(current_user, items, filters(query))  # as GET /api/v1/patients does
    return render_template("admin/patients.html", errors={}, rows=items, total=total, page=query["page"],
                           pages=max(1, -(-total // PAGE_SIZE)), args={k: v for k, v in typed.items() if v},
                           **context)


@blueprint.get("/patients/<int:patient_id>")
@roles(*SUPERVISOR)
@panel_action(on_error="admin.patients")
def patient(patient_id: int):
    """One patient, read-only: details, timeline, consents, handoffs and recent calls (each read audited)."""
    try:
        record = patient_service.read_patient(current_user, patient_id)
    except NotFoundError:
        raise NotFound() from None  # another programme's patient looks exactly like a missing one: the 404 page
    page = page_number()
    entries, header = timeline_service.patient_timeline(current_user, record.id, page, TIMELINE_PAGE_SIZE)
    calls, calls_total = page_of(voice.patient_calls(current_user, record.id), 1, RECENT_CALLS)
    handoffs = handoff_service.list_handoffs(current_user, record.id)
    consents = consent_service.list_consents(current_user, record.id)
    coach = users_service.get_user_in_program(current_user, record.coach_id) if record.coach_id else None
    return render_template(
        "admin/patient.html", patient=record, coach=coach, entries=entries, page=page,
        pages=json.loads(header["X-Pagination"])["total_pages"], consents=consents, handoffs=handoffs,
        names=_partner_names(handoffs, consents), calls=voice.audit_calls(current_user, calls),
        calls_total=calls_total, describe=describe_entry, local=in_programme_time, may_open=_may_open)


def _partner_names(handoffs: list, consents: list) -> dict:
    """Names for the page: each handoff's service and partner (by service id), each consent's recipient (by
    organisation id)."""
    names: dict = {"services": {}, "organizations": {}}
    for handoff in handoffs:
        if handoff.service_id not in names["services"]:
            try:
                service = partner_service.get_service(current_user, handoff.service_id)
            except NotFoundError:
                names["services"][handoff.service_id] = ("a service no longer listed", "")
            else:
                names["services"][handoff.service_id] = (service.name, service.organization.name)
    for consent in consents:
        org_id = consent.recipient_organization_id
        if org_id and org_id not in names["organizations"]:
            try:
                names["organizations"][org_id] = partner_service.get_organization(current_user, org_id).name
            except NotFoundError:
                names["organizations"][org_id] = "a partner no longer listed"
    return names


def _may_open(endpoint: str) -> bool:
    """The page exists and the user's role opens it (a link to a 403 page helps nobody)."""
    view = current_app.view_functions.get(endpoint)
    return view is not None and current_user.role in getattr(view, "panel_roles", (current_user.role,))


EVENT_TEXT = {"created": "Record created", "coach_changed": "Coach changed", "status_changed": "Status changed",
              "details_updated": "Details updated"}


def describe_entry(entry: dict) -> tuple[str, str]:
    """A timeline entry as a heading and a line of detail, for people."""
    kind, data = entry["kind"], entry["data"]
    if kind == "patient_event":
        details = data.get("details") or {}
        if data.get("kind") == "status_changed":
            return "Status changed", f"from {details.get('from')} to {details.get('to')}"
        if data.get("kind") == "details_updated":
            return "Details updated", ", ".join(details.get("fields", []))
        return EVENT_TEXT.get(data.get("kind"), "Record changed"), ""
    if kind == "contact":
        minutes = f", {data['duration_minutes']} min" if data.get("duration_minutes") is not None else ""
        return (f"{_words(data.get('kind'))} contact, {data.get('direction')}",
                f"{_words(data.get('outcome'))}{minutes}" + (f". {data['note']}" if data.get("note") else ""))
    if kind == "task":
        return f"Task: {data.get('title')}", _words(data.get("status"))
    if kind == "message":
        direction = "Text from the patient" if data.get("direction") == "inbound" else "Text to the patient"
        return direction, f"{data.get('body') or ''} ({_words(data.get('status'))})".strip()
    if kind == "handoff":
        return f"{_words(data.get('kind'))} handoff {data.get('reference') or ''}".strip(), _words(data.get("status"))
    if kind == "consent":
        return "Consent signed", data.get("purpose") or ""
    return _words(kind), ""


def _words(value) -> str:
    text = str(value or "").replace("_", " ").replace("-", " ")
    return text[:1].upper() + text[1:]
