"""Failed-login throttling per account, in the rate limiter's storage (Redis when set).

Redis down must not take logins down: the count then lives in this process's
memory until Redis answers again (a lockout may be shorter meanwhile, never absent).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from flask import current_app
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from backend.common.errors import RateLimitedError
from backend.extensions import limiter

log = logging.getLogger(__name__)
_fallback = MovingWindowRateLimiter(MemoryStorage())


def _counted(operation: str, *args):
    """Run a limiter operation on the shared storage, or on this process's memory while it is down."""
    try:
        return getattr(limiter.limiter, operation)(*args)
    except Exception:  # noqa: BLE001 - an outage of the shared storage must not refuse or crash logins
        log.warning("login throttle storage unavailable; counting in this process", exc_info=True)
        return getattr(_fallback, operation)(*args)


def _account_key(email: str) -> str:
    # A digest keeps e-mail addresses out of the limiter's storage.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _limit():
    return parse(current_app.config["LOGIN_FAILURES_PER_ACCOUNT"])


def _namespace() -> str:
    return "bridgeline-login-failures"


def check_account_not_locked(email: str) -> None:
    """Raise 429 with Retry-After when the account had too many recent failures."""
    limit = _limit()
    key = _account_key(email)
    if _counted("test", limit, _namespace(), key):
        return
    reset_at, _remaining = _counted("get_window_stats", limit, _namespace(), key)
    retry_after = max(1, math.ceil(reset_at - time.time()))
    raise RateLimitedError("too_many_failed_logins",
                           "Too many failed login attempts for this account. Try again later.",
                           retry_after=retry_after)


def note_failed_login(email: str) -> None:
    """Count one failed attempt against the account."""
    _counted("hit", _limit(), _namespace(), _account_key(email))
