"""When a text may go out, and whether a failed one is tried again: pure rules, one place each.

The outbox worker, delivery receipts and the API all decide with these; none of
them touches the database, so they are tested with plain values.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15))
HANDSET_UNREACHABLE = 30003  # Twilio: the phone was off or out of coverage; one more try is worth it


@dataclass(frozen=True)
class Retry:
    """Queue the text again after `delay`, saying why."""

    delay: timedelta
    reason: str


def quiet_until(now: datetime, timezone: str, start_hour: int, end_hour: int) -> datetime | None:
    """When the patient's quiet hours end, if `now` falls inside them; None otherwise."""
    local = now.astimezone(zoneinfo.ZoneInfo(timezone))
    inside = (local.hour >= start_hour or local.hour < end_hour) if start_hour > end_hour else (
        start_hour <= local.hour < end_hour)
    if not inside:
        return None
    opens = local.replace(hour=end_hour, minute=0, second=0, microsecond=0)
    if opens <= local:
        opens += timedelta(days=1)
    return opens.astimezone(UTC)


def is_transient(http_status: int | None) -> bool:
    """A failure worth retrying as is: no answer at all, a 429, or a server error."""
    return http_status is None or http_status == 429 or http_status >= 500


def retry_after_send_failure(attempts: int, http_status: int | None, code: int | None,
                             retry_after: int | None = None) -> Retry | None:
    """Twilio refused or failed a send (`attempts` made so far): try again, or give up (None)."""
    if is_transient(http_status) and attempts <= len(RETRY_DELAYS):
        delay = max(RETRY_DELAYS[attempts - 1], timedelta(seconds=retry_after or 0))
        return Retry(delay, f"retry {attempts} after {'429' if http_status == 429 else 'server error'}")
    return retry_after_undelivered(attempts, code)


def retry_after_undelivered(attempts: int, code: int | None) -> Retry | None:
    """The carrier could not deliver: an unreachable handset gets one more try, anything else none."""
    if code == HANDSET_UNREACHABLE and attempts < 2:
        return Retry(RETRY_DELAYS[0], "retry once: handset unreachable")
    return None
