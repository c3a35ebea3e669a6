"""The panel's second factor: TOTP (RFC 6238, any authenticator app) with one-time recovery codes.

Required for admins, and for supervisors when their programme's policy says so. A wrong code counts as a
failed login (the same throttle), so codes cannot be guessed faster than passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
import sqlalchemy as sa

from backend.audit import service as audit
from backend.auth import throttle
from backend.auth.models import RecoveryCode
from backend.common.errors import ConflictError, ForbiddenError, InvalidError
from backend.database import db, utcnow
from backend.users.models import Role, User
from backend.users.service import get_user_in_program, require_role

ISSUER = "Bridgeline"
RECOVERY_CODES = 10


def required_for(user: User) -> bool:
    """Whether this panel user must sign in with a second factor."""
    return user.role == Role.ADMIN or (user.role == Role.SUPERVISOR and user.program.require_mfa_for_supervisors)


def new_secret(user: User) -> tuple[str, str]:
    """A fresh secret and the otpauth:// address an authenticator app reads (not stored until confirmed)."""
    secret = pyotp.random_base32()
    return secret, pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().replace("-", "").lower().encode()).hexdigest()


def enrol(user: User, secret: str, code: str) -> list[str]:
    """Keep the secret once the app shows a matching code; returns the recovery codes, shown once."""
    if user.totp_secret:
        raise ConflictError("mfa_enrolled", "A second factor is set up already.")
    if not pyotp.TOTP(secret).verify(code.strip(), valid_window=1):
        raise InvalidError("invalid_code", "That code does not match. Check the app's clock and try again.",
                           errors={"code": ["Does not match."]})
    user.totp_secret, user.mfa_enrolled_at = secret, utcnow()
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_digest(c)) for c in codes)
    audit.record("enrol", "mfa", actor=user, resource_id=user.id)
    return codes


def passes_second_factor(user: User, code: str, address: str | None) -> bool:
    """A current TOTP code, or an unused recovery code (used up now); a wrong one counts as a failed login."""
    throttle.check_not_locked(user.email, address)
    if user.totp_secret and pyotp.TOTP(user.totp_secret).verify(code.strip(), valid_window=1):
        return True
    for recovery in db.session.scalars(sa.select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                                     RecoveryCode.used_at.is_(None))):
        if hmac.compare_digest(recovery.code_hash, _digest(code)):
            recovery.used_at = utcnow()
            audit.record("use_recovery_code", "mfa", actor=user, resource_id=user.id)
            return True
    return False


def note_wrong_code(user: User, address: str | None) -> None:
    """A wrong second factor: counted and audited like a wrong password (written after the rollback)."""
    throttle.note_failure(user.email, address)
    audit.record("login", "session", actor=user, outcome="failed_second_factor")


def reset(actor: User, user_id: int) -> None:
    """Admins: remove a user's second factor (a lost phone); they set up a new one at their next sign-in."""
    require_role(actor, Role.ADMIN)
    user = get_user_in_program(actor, user_id)
    user.totp_secret, user.mfa_enrolled_at = None, None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.panel_session_version += 1
    audit.record("reset", "mfa", actor=actor, resource_id=user.id)


def set_supervisor_policy(program, required: bool, actor: User | None = None) -> None:
    """Whether the programme's supervisors, like its admins, sign in to the panel with a second factor."""
    if actor is not None and actor.role != Role.ADMIN:
        raise ForbiddenError("forbidden", "Only an admin sets the sign-in policy.")
    program.require_mfa_for_supervisors = required
    audit.record("update", "mfa_policy", actor=actor, program_id=program.id, resource_id=program.id,
                 details={"supervisors": required})
