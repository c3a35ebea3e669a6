"""One sending rate per Twilio sender, shared by every worker.

A US long code carries about one text a second. Each worker paces itself, but
several workers on one number would add up, so every send also takes a slot
from a counter in the rate limiter's storage (Redis when REDIS_URL is set; in
memory, so per process, otherwise). A storage outage falls back to the
worker's own pacing: texts go out late rather than not at all.
"""

from __future__ import annotations

import hashlib
import logging
import time

from limits import RateLimitItem, RateLimitItemPerSecond

from backend.extensions import limiter

log = logging.getLogger(__name__)
NAMESPACE = "bridgeline-sms-sender"


def sender_limit(rate: float) -> RateLimitItem | None:
    """SMS_RATE_PER_SECOND as a limit (0.5 is one text per 2 seconds); None when the rate is lifted."""
    if not rate or rate <= 0:
        return None
    return RateLimitItemPerSecond(int(rate)) if rate >= 1 else RateLimitItemPerSecond(1, round(1 / rate))


def storage_key(sender: str) -> str:
    """The sender's key in the limiter's storage: a digest, so no phone number is stored there."""
    return hashlib.sha256(sender.encode()).hexdigest()[:16]


def wait_for_sender_slot(limit: RateLimitItem | None, sender: str, max_wait: float = 1.0) -> None:
    """Block until `sender` (a number or Messaging Service) may send one more text under `limit`, across workers."""
    if limit is None:
        return
    key = storage_key(sender)
    try:
        while not limiter.limiter.hit(limit, NAMESPACE, key):
            reset_at, _remaining = limiter.limiter.get_window_stats(limit, NAMESPACE, key)
            time.sleep(min(max_wait, max(0.01, reset_at - time.time())))
    except Exception:  # noqa: BLE001 - a limiter outage must not stop texts: local pacing still applies
        log.warning("shared SMS rate unavailable; pacing this worker only", exc_info=True)
