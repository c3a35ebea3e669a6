"""Staff account rules: who may manage whom, deactivation revokes sessions."""

from __future__ import annotations

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.errors import ConflictError, ForbiddenError, field_error, not_found
from backend.database import db, utcnow
from backend.users.events import access_withdrawn
from backend.users.models import Role, User
from backend.users.passwords import MIN_PASSWORD_LENGTH, hash_password


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
                phone: str | None = None, supervisor_id: int | None = None, actor: User | None = None) -> User:
    """Create a staff account (admin API and the create-user command)."""
    email = email.strip().lower()
    if len(password) < MIN_PASSWORD_LENGTH:
        raise field_error("password", f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise field_error("email", "An account with this e-mail address exists.", code="email_taken",
                          kind=ConflictError)
    _check_supervisor(program_id, supervisor_id)
    user = User(program_id=program_id, email=email, full_name=full_name.strip(), role=role,
                phone=phone, supervisor_id=supervisor_id, password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    audit.record("create", "user", actor=actor, resource_id=user.id)
    return user


def admin_create_user(actor: User, data: dict) -> User:
    """An admin adds a staff member to their programme."""
    require_role(actor, Role.ADMIN)
    return create_user(actor.program_id, actor=actor, **data)


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
