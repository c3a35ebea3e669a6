"""Staff account rules: who may manage whom, deactivation revokes sessions."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.errors import ConflictError, ForbiddenError, field_error, not_found
from backend.common.lock_screen import sensitive_terms_in
from backend.database import db, utcnow
from backend.users.events import access_withdrawn
from backend.users.models import Role, User
from backend.users.passwords import hash_password, password_problem, verify_password


def require_role(actor: User, *roles: Role) -> None:
    """403 unless the actor has one of the roles."""
    if actor.role not in roles:
        raise ForbiddenError("forbidden", "Your role does not allow this.")


def get_user_in_program(actor: User, user_id: int) -> User:
    """A staff member of the actor's programme, or 404."""
    user = db.session.get(User, user_id)
    if user is None or user.program_id != actor.program_id:
        raise not_found("user")
    return user


def coach_in_program(actor: User, coach_id: int, field: str = "coach_id") -> User:
    """An active coach of the actor's programme, or a 422 naming the field."""
    coach = db.session.get(User, coach_id)
    if coach is None or coach.program_id != actor.program_id or coach.role != Role.COACH or not coach.active:
        raise field_error(field, "Not an active coach of your programme.")
    return coach


def list_users(actor: User, role: Role | None = None, active: bool | None = None) -> sa.Select:
    """Staff of the actor's programme (supervisors and admins)."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    stmt = sa.select(User).where(User.program_id == actor.program_id)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    return stmt.order_by(User.full_name, User.id)


def _check_supervisor(actor_program_id: int, supervisor_id: int | None) -> None:
    if supervisor_id is None:
        return
    supervisor = db.session.get(User, supervisor_id)
    if (supervisor is None or supervisor.program_id != actor_program_id
            or supervisor.role not in (Role.SUPERVISOR, Role.ADMIN)):
        raise field_error("supervisor_id", "Not a supervisor of your programme.")


def create_user(program_id: int, *, email: str, full_name: str, role: Role, password: str,
                phone: str | None = None, supervisor_id: int | None = None, actor: User | None = None,
                text_name: str | None = None) -> User:
    """Create a staff account (admin API and the create-user command)."""
    email = email.strip().lower()
    problem = password_problem(password, email)
    if problem:
        raise field_error("password", problem)
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise field_error("email", "An account with this e-mail address exists.", code="email_taken",
                          kind=ConflictError)
    _check_supervisor(program_id, supervisor_id)
    user = User(program_id=program_id, email=email, full_name=full_name.strip(), role=role,
                phone=phone, text_name=text_name, supervisor_id=supervisor_id,
                password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    audit.record("create", "user", actor=actor, resource_id=user.id)
    return user


def admin_create_user(actor: User, data: dict) -> User:
    """An admin adds a staff member to their programme."""
    require_role(actor, Role.ADMIN)
    return create_user(actor.program_id, actor=actor, **data)


def admin_invite_user(actor: User, data: dict) -> tuple[User, str]:
    """An admin adds a staff member with a temporary password, shown once: they choose their own at first login."""
    temporary = temporary_password()
    user = admin_create_user(actor, {**data, "password": temporary})
    user.must_change_password = True
    return user, temporary


def temporary_password() -> str:
    """A one-time temporary password: three groups of eight random URL-safe characters."""
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))


def update_user(actor: User, user_id: int, changes: dict) -> User:
    """An admin edits a staff member; deactivating revokes every session at once."""
    require_role(actor, Role.ADMIN)
    user = get_user_in_program(actor, user_id)
    if "supervisor_id" in changes:
        if changes["supervisor_id"] == user.id:
            raise field_error("supervisor_id", "A user cannot supervise themselves.")
        _check_supervisor(actor.program_id, changes["supervisor_id"])
    if user.id == actor.id and (changes.get("active") is False or changes.get("role", Role.ADMIN) != Role.ADMIN):
        raise ConflictError("cannot_demote_self", "You cannot deactivate or demote your own account.")
    was_active = user.active
    for field, value in changes.items():
        setattr(user, field, value)
    if was_active and not user.active:
        user.deactivated_at = utcnow()
        access_withdrawn.send(user.id, reason="deactivated")
    elif user.active:
        user.deactivated_at = None
    if "role" in changes:
        access_withdrawn.send(user.id, reason="role_changed")
    audit.record("update", "user", actor=actor, resource_id=user.id, details={"fields": sorted(changes)})
    return user


def change_password(actor: User, current_password: str, new_password: str) -> None:
    """The user chooses a new password; every session of theirs ends (the entry point issues this device's new one)."""
    if not verify_password(actor.password_hash, current_password):
        raise field_error("current_password", "This is not your current password.")
    problem = password_problem(new_password, actor.email)
    if problem:
        raise field_error("new_password", problem)
    if verify_password(actor.password_hash, new_password):
        raise field_error("new_password", "Choose a password other than the current one.")
    _set_password(actor, new_password, must_change=False, reason="password_changed")
    audit.record("change_password", "user", actor=actor, resource_id=actor.id)


def reset_password(actor: User, user_id: int) -> str:
    """Admins: a one-time temporary password, shown once, that only lets the user choose a new one."""
    require_role(actor, Role.ADMIN)
    user = get_user_in_program(actor, user_id)
    temporary = temporary_password()
    _set_password(user, temporary, must_change=True, reason="password_reset")
    audit.record("reset_password", "user", actor=actor, resource_id=user.id)
    return temporary


def _set_password(user: User, password: str, *, must_change: bool, reason: str) -> None:
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    user.panel_session_version += 1  # panel cookies issued before now open nothing
    access_withdrawn.send(user.id, reason=reason)  # and every app session ends


def update_my_profile(actor: User, changes: dict) -> User:
    """Staff change their own name for texts and their phone (a name that reveals treatment is refused)."""
    if changes.get("text_name") and sensitive_terms_in(changes["text_name"]):
        raise field_error("text_name", "This name would reveal treatment on a lock screen.")
    for field, value in changes.items():
        setattr(actor, field, value)
    audit.record("update", "profile", actor=actor, resource_id=actor.id, details={"fields": sorted(changes)})
    return actor
