"""Failed-login throttling, recorded in the database: it holds across processes, hosts and restarts.

Two rules, so that guessing is slowed and nobody can lock a colleague out from afar:
- an account tried from one address: after LOGIN_FAILURES_PER_ACCOUNT (5 per 15 minutes) that address is refused
  for that account until the window passes; other addresses are not affected;
- an account tried from anywhere: after LOGIN_FAILURES_PER_ACCOUNT_ANYWHERE (50 per 15 minutes), a higher
  ceiling against distributed guessing, the account is refused everywhere, briefly (until the window passes).
A successful login clears that address's failures for the account. Rows are kept a day, then purged.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from limits import parse

from backend.auth.models import LoginFailure
from backend.common.errors import RateLimitedError
from backend.database import db, utcnow

KEPT = timedelta(days=1)


def account_key(email: str) -> str:
    """A digest of the e-mail address: the table never holds addresses typed at the login form."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _rule(setting: str) -> tuple[int, timedelta]:
    limit = parse(current_app.config[setting])
    return limit.amount, timedelta(seconds=limit.get_expiry())


def check_not_locked(email: str, address: str | None) -> None:
    """Raise 429 (with Retry-After) while this account is locked for this address, or everywhere."""
    key, now = account_key(email), utcnow()
    per_address, address_window = _rule("LOGIN_FAILURES_PER_ACCOUNT")
    anywhere, anywhere_window = _rule("LOGIN_FAILURES_PER_ACCOUNT_ANYWHERE")
    since = now - max(address_window, anywhere_window)
    rows = db.session.execute(
        sa.select(LoginFailure.address, LoginFailure.failed_at)
        .where(LoginFailure.account_key == key, LoginFailure.failed_at > since)
        .order_by(LoginFailure.failed_at)).all()
    here = [at for addr, at in rows if addr == (address or "") and at > now - address_window]
    everywhere = [at for _addr, at in rows if at > now - anywhere_window]
    for times, limit, window in ((everywhere, anywhere, anywhere_window), (here, per_address, address_window)):
        if len(times) >= limit:
            until = times[len(times) - limit] + window  # when the oldest failure that counts leaves the window
            raise RateLimitedError("too_many_failed_logins",
                                   "Too many failed login attempts for this account. Try again later.",
                                   retry_after=max(1, math.ceil((until - now).total_seconds())))


def note_failure(email: str, address: str | None) -> None:
    """Count one failed attempt (the entry point writes it after rolling the attempt back)."""
    db.session.add(LoginFailure(account_key=account_key(email), address=(address or "")[:64], failed_at=utcnow()))


def clear_failures(email: str, address: str | None) -> None:
    """A successful login from this address forgets its failures for the account."""
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.account_key == account_key(email),
                                                     LoginFailure.address == (address or "")[:64]))


def purge_old_failures() -> int:
    """Delete failures older than a day (a job)."""
    return db.session.execute(sa.delete(LoginFailure).where(LoginFailure.failed_at < utcnow() - KEPT)).rowcount
