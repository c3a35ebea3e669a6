"""Users: the programme's staff; adding a coach or supervisor, editing, deactivating, password and MFA resets."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin.actions import panel_action
from admin.core import ADMIN, blueprint, roles
from admin.forms import load_form, programme_time, refused
from backend.auth import mfa
from backend.caseload import service as caseload_service
from backend.caseload.caps import cap_of
from backend.caseload.schemas import CoachCapSchema
from backend.common.errors import DomainError, NotFoundError
from backend.common.pagination import page_of
from backend.database import db
from backend.users import service as users_service
from backend.users.models import Role, User
from backend.users.schemas import UserCreateSchema, UserListQuerySchema, UserUpdateSchema

NEW_ROLES = (Role.COACH, Role.SUPERVISOR)  # admins are added with the create-user command
CREATE_FIELDS = ("full_name", "email", "role", "phone", "supervisor_id")
NO_STORE = {"Cache-Control": "no-store"}  # a page with a temporary password is never kept
NOT_SAVED = "Nothing was saved: correct the fields marked below."


# -- form helpers (shared by the policies and audit areas) --------------------------------------------------------

def blank_to_none(form, names) -> dict:
    """The named fields of a form as typed, an empty one as None (a cleared optional field)."""
    return {name: (form.get(name, "").strip() or None) for name in names}


local_time = programme_time  # the name the areas built on this module use


# -- pages ----------------------------------------------------------------------------------------------------------

def _staff_member(user_id: int) -> User:
    """A staff member of the admin's programme, or the panel's 404 page."""
    try:
        return users_service.get_user_in_program(current_user, user_id)
    except NotFoundError:
        abort(404)


def _leads() -> list[User]:
    """Who may supervise: the programme's active supervisors and admins."""
    return [person for person in db.session.scalars(users_service.list_users(current_user, active=True))
            if person.is_staff_lead]


def _list_page(values: dict | None = None, errors: dict | None = None, status: int = 200):
    raw = {key: value for key, value in request.args.items() if key in ("role", "active", "page") and value}
    query, filter_errors = load_form(UserListQuerySchema(), raw)
    query = query or {"page": 1, "page_size": 25}
    filters = {key: query[key] for key in ("role", "active") if key in query}
    people, total = page_of(users_service.list_users(current_user, **filters), query["page"], query["page_size"])
    names = {person.id: person.full_name for person in db.session.scalars(users_service.list_users(current_user))}
    policy = caseload_service.read_policy(current_user)
    if errors:
        flash(NOT_SAVED, "error")
    rows = [{"user": person, "supervisor": names.get(person.supervisor_id, ""),
             "cap": cap_of(person, policy) if person.is_coach else None, "own_cap": person.caseload_cap is not None,
             "last_login": local_time(person.last_login_at)} for person in people]
    return render_template("admin/users.html", rows=rows, total=total, page=query["page"],
                           pages=max(1, -(-total // query["page_size"])), filters=raw, filter_errors=filter_errors,
                           pager_args={key: raw[key] for key in ("role", "active") if key in raw}, roles=list(Role),
                           role_options=[(role.value, role.value.capitalize()) for role in NEW_ROLES],
                           lead_options=[(lead.id, lead.full_name) for lead in _leads()], values=values or {},
                           errors=errors or {}), (422 if filter_errors and status == 200 else status)


@blueprint.route("/users", methods=["GET", "POST"])
@roles(*ADMIN)
@panel_action(on_error="admin.users")
def users():
    """The programme's staff, filtered by role and whether active; the form adding a coach or supervisor."""
    if request.method == "GET":
        return _list_page()
    typed = {"full_name": request.form.get("full_name", "").strip(), "email": request.form.get("email", "").strip(),
             **blank_to_none(request.form, ("role", "phone", "supervisor_id"))}
    data, errors = load_form(UserCreateSchema(exclude=("password",)), {k: v for k, v in typed.items()
                                                                       if v is not None or k != "role"})
    if data is not None and data["role"] not in NEW_ROLES:
        data, errors = None, {"role": ["Choose coach or supervisor."]}
    if data is None:
        return _list_page(typed, errors, 422)
    try:
        added, temporary = users_service.admin_invite_user(current_user, data)
    except DomainError as exc:
        errors, status = refused(exc, "create", "user")
        return _list_page(typed, errors, status)
    return render_template("admin/user_password.html", user=added, temporary=temporary, created=True), 201, NO_STORE


def _user_page(user: User, values: dict | None = None, errors: dict | None = None, status: int = 200):
    if errors:
        flash(NOT_SAVED, "error")
    policy = caseload_service.read_policy(current_user)
    names = {lead.id: lead.full_name for lead in _leads()}
    supervisor = db.session.get(User, user.supervisor_id) if user.supervisor_id else None
    current = {"full_name": user.full_name, "phone": user.phone or "", "supervisor_id": user.supervisor_id or "",
               "cap": user.caseload_cap or ""}
    return render_template("admin/user.html", user=user, values={**current, **(values or {})}, errors=errors or {},
                           leads=[(lead_id, name) for lead_id, name in names.items() if lead_id != user.id],
                           supervisor=supervisor, default_cap=policy.default_cap,
                           last_login=local_time(user.last_login_at),
                           deactivated_at=local_time(user.deactivated_at)), status


@blueprint.get("/users/<int:user_id>")
@roles(*ADMIN)
@panel_action(on_error="admin.users")
def user(user_id):
    """One staff member: details to edit, deactivate or reactivate, password and second-factor resets."""
    return _user_page(_staff_member(user_id))


@blueprint.post("/users/<int:user_id>")
@roles(*ADMIN)
@panel_action(on_error="admin.users")
def edit_user(user_id):
    """Save a staff member's name, phone, supervisor and (coaches) own cap."""
    member = _staff_member(user_id)
    typed = {"full_name": request.form.get("full_name", "").strip(),
             **blank_to_none(request.form, ("phone", "supervisor_id", "cap"))}
    changes, errors = load_form(UserUpdateSchema(), {k: typed[k] for k in ("full_name", "phone", "supervisor_id")})
    cap, cap_errors = (load_form(CoachCapSchema(), {"cap": typed["cap"]}) if member.is_coach
                       else ({"cap": member.caseload_cap}, {}))
    errors.update(cap_errors)
    if errors:
        return _user_page(member, typed, errors, 422)
    changes = {key: value for key, value in changes.items() if getattr(member, key) != value}
    try:
        if changes:
            users_service.update_user(current_user, member.id, changes)
        if cap["cap"] != member.caseload_cap:
            caseload_service.set_coach_cap(current_user, member.id, cap["cap"])
            changes["cap"] = cap["cap"]
    except DomainError as exc:
        errors, status = refused(exc, "update", "user", member.id)
        return _user_page(member, typed, errors, status) if errors else redirect(url_for("admin.user",
                                                                                         user_id=user_id))
    flash(f"{member.full_name}: saved." if changes else "Nothing to save: no field changed.", "info")
    return redirect(url_for("admin.user", user_id=member.id))


@blueprint.post("/users/<int:user_id>/active")
@roles(*ADMIN)
@panel_action(on_error="admin.users")
def set_user_active(user_id):
    """Deactivate (every session of theirs ends at once) or reactivate a staff member."""
    member = _staff_member(user_id)
    changes, errors = load_form(UserUpdateSchema(only=("active",)), {"active": request.form.get("active", "")})
    if errors:
        flash("Choose to deactivate or reactivate.", "error")
        return _user_page(member, status=422)
    try:
        users_service.update_user(current_user, member.id, changes)
    except DomainError as exc:
        refused(exc, "update", "user", member.id)
        return redirect(url_for("admin.user", user_id=user_id))
    flash(f"{member.full_name} is {'active again' if member.active else 'deactivated: their sessions have ended'}.",
          "info")
    return redirect(url_for("admin.user", user_id=member.id))


@blueprint.post("/users/<int:user_id>/password-reset")
@roles(*ADMIN)
@panel_action(on_error="admin.users")
def reset_user_password(user_id):
    """A temporary password, shown once: their sessions end and they must choose a new password to go on."""
    member = _staff_member(user_id)
    try:
        temporary = users_service.reset_password(current_user, member.id)
    except DomainError as exc:
        refused(exc, "reset_password", "user", member.id)
        return redirect(url_for("admin.user", user_id=user_id))
    return render_template("admin/user_password.html", user=member, temporary=temporary, created=False), 200, NO_STORE


@blueprint.post("/users/<int:user_id>/mfa-reset")
@roles(*ADMIN)
@panel_action(on_error="admin.users")
def reset_user_mfa(user_id):
    """Remove a staff member's second factor (a lost phone); they set up a new one at their next sign-in."""
    member = _staff_member(user_id)
    try:
        mfa.reset(current_user, member.id)
    except DomainError as exc:
        refused(exc, "reset", "mfa", member.id)
        return redirect(url_for("admin.user", user_id=user_id))
    flash(f"{member.full_name}'s second step is reset: they set up a new one at their next sign-in.", "info")
    return redirect(url_for("admin.user", user_id=member.id))
