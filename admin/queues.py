"""The supervisors' queues: patients waiting for a coach, and follow-ups past due (escalated ones first)."""

from __future__ import annotations

from itertools import groupby

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from admin.actions import panel_action
from admin.coaches import coach_options, local_time, typed
from admin.core import SUPERVISOR, blueprint, roles
from admin.forms import flat_errors, found_or_404, refused
from backend.caseload import assignment
from backend.caseload import service as caseload_service
from backend.caseload.schemas import AssignmentRequestSchema
from backend.common.errors import DomainError, NotFoundError
from backend.common.pagination import page_of
from backend.database import utcnow
from backend.patients.service import audit_list
from backend.tasks import service as task_service
from backend.tasks.schemas import TaskAssignmentSchema

PAGE_SIZE = 25


def late_by(due, now) -> str:
    """How long past due, in words a glance reads: hours under two days, days after."""
    hours = int((now - due).total_seconds() // 3600)
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def render_waiting(status: int = 200, patient_id: int | None = None, typed_in: dict | None = None,
                   errors: dict | None = None) -> tuple[str, int]:
    """The unassigned queue, oldest first; a refused row is shown again with what was typed and why."""
    page = max(request.args.get("page", type=int) or 1, 1)
    patients, total = page_of(assignment.unassigned_queue(current_user), page, PAGE_SIZE)
    audit_list(current_user, patients, {"unassigned": True})  # the same audit row as the API's queue
    targets = caseload_service.coach_headroom(current_user)
    return render_template("admin/waiting.html", patients=patients, total=total, page=page,
                           pages=max(-(-total // PAGE_SIZE), 1), targets=targets, options=coach_options(targets),
                           now=utcnow(), local=local_time(current_user.program.timezone),
                           failed=patient_id, typed_in=typed_in or {}, errors=errors or {}), status


@blueprint.get("/waiting")
@roles(*SUPERVISOR)
@panel_action()
def waiting():
    """Open patients with no coach, oldest first, each with a coach to choose by the room they have."""
    return render_waiting()


@blueprint.post("/waiting/<int:patient_id>/assign")
@roles(*SUPERVISOR)
@panel_action(on_error="admin.waiting")
@found_or_404
def assign_waiting(patient_id):
    """Give a waiting patient to a coach; over the coach's cap only with a written reason."""
    typed_in = typed("coach_id", "override_reason")
    try:
        data = AssignmentRequestSchema().load(typed_in)
    except ValidationError as exc:
        return render_waiting(422, patient_id, typed_in, flat_errors(exc.messages))
    try:
        patient = assignment.assign_patient(current_user, patient_id, data["coach_id"], data.get("override_reason"))
    except NotFoundError:
        raise
    except DomainError as exc:
        errors, status = refused(exc, "assign", "patient", patient_id=patient_id, resource_id=patient_id)
        return render_waiting(status, patient_id, typed_in, errors)
    coach = next(t for t in caseload_service.coach_headroom(current_user) if t["coach_id"] == patient.coach_id)
    flash(f"{patient.first_name} {patient.last_name} is now with {coach['coach_name']}."
          + (" The cap override is recorded with your reason." if data.get("override_reason") else ""), "info")
    return redirect(url_for("admin.waiting"))


def render_overdue(status: int = 200, task_id: int | None = None, typed_in: dict | None = None,
                   errors: dict | None = None) -> tuple[str, int]:
    """Overdue follow-ups: those escalated to you first, then the rest by the person holding them, oldest first."""
    rows = task_service.overdue_tasks(current_user)
    mine = [row for row in rows if row["escalated_to_id"] == current_user.id]
    rest = [row for row in rows if row["escalated_to_id"] != current_user.id]
    # Each group in the order of its oldest task; rows keep their oldest-first order inside it.
    first_seen = {}
    for index, row in enumerate(rest):
        first_seen.setdefault(row["assignee"].id, index)
    rest.sort(key=lambda row: first_seen[row["assignee"].id])
    groups = [(holder, list(items)) for holder, items in groupby(rest, key=lambda row: row["assignee"])]
    targets = caseload_service.coach_headroom(current_user)
    hours = caseload_service.read_policy(current_user).escalate_overdue_after_hours
    return render_template("admin/overdue.html", mine=mine, groups=groups, total=len(rows), limited=len(rows) >= 500,
                           hours=hours, late_by=late_by,
                           targets=targets, options=coach_options(targets), now=utcnow(),
                           local=local_time(current_user.program.timezone), failed=task_id,
                           typed_in=typed_in or {}, errors=errors or {}), status


@blueprint.get("/overdue")
@roles(*SUPERVISOR)
@panel_action()
def overdue():
    """Open tasks past due across the team, grouped by who holds them; escalated ones at the top."""
    return render_overdue()


@blueprint.post("/tasks/<int:task_id>/reassign")
@roles(*SUPERVISOR)
@panel_action(on_error="admin.overdue")
@found_or_404
def reassign_task(task_id):
    """Give an overdue task to another coach."""
    typed_in = typed("assignee_id")
    try:
        data = TaskAssignmentSchema().load(typed_in)
    except ValidationError as exc:
        return render_overdue(422, task_id, typed_in, flat_errors(exc.messages))
    try:
        task = task_service.reassign_task(current_user, task_id, data["assignee_id"])
    except NotFoundError:
        raise
    except DomainError as exc:
        errors, status = refused(exc, "reassign", "task", resource_id=task_id)
        return render_overdue(status, task_id, typed_in, errors)
    coach = next(t for t in caseload_service.coach_headroom(current_user) if t["coach_id"] == task.assignee_id)
    flash(f"“{task.title}” is now {coach['coach_name']}'s.", "info")
    return redirect(url_for("admin.overdue"))
