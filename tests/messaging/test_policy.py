"""The messaging rules as plain functions: quiet hours, and when a failed text is tried again."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

from backend.messaging.policy import (
    RETRY_DELAYS,
    is_transient,
    quiet_until,
    retry_after_send_failure,
    retry_after_undelivered,
)

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def test_quiet_hours_across_midnight_end_at_the_next_opening():
    late = datetime(2030, 1, 15, 23, 30, tzinfo=CHICAGO)
    assert quiet_until(late, "America/Chicago", 21, 8) == datetime(2030, 1, 16, 8, 0, tzinfo=CHICAGO).astimezone(UTC)
    early = datetime(2030, 1, 16, 7, 59, tzinfo=CHICAGO)
    assert quiet_until(early, "America/Chicago", 21, 8) == datetime(2030, 1, 16, 8, 0, tzinfo=CHICAGO).astimezone(UTC)
    assert quiet_until(datetime(2030, 1, 16, 8, 0, tzinfo=CHICAGO), "America/Chicago", 21, 8) is None
    assert quiet_until(datetime(2030, 1, 16, 20, 59, tzinfo=CHICAGO), "America/Chicago", 21, 8) is None


def test_quiet_hours_within_one_day():
    noon = datetime(2030, 1, 16, 12, 0, tzinfo=CHICAGO)
    assert quiet_until(noon, "America/Chicago", 12, 14) == datetime(2030, 1, 16, 14, 0, tzinfo=CHICAGO).astimezone(UTC)
    assert quiet_until(noon, "America/Chicago", 13, 14) is None


def test_transient_failures_back_off_then_give_up():
    assert is_transient(None) and is_transient(429) and is_transient(503) and not is_transient(400)
    delays = [retry_after_send_failure(n, 500, 20500) for n in range(1, 5)]
    assert [r.delay for r in delays[:3]] == list(RETRY_DELAYS) and delays[3] is None
    assert retry_after_send_failure(1, 429, 20429, retry_after=600).delay == timedelta(minutes=10)
    assert retry_after_send_failure(1, 429, 20429, retry_after=2).delay == RETRY_DELAYS[0]
    assert retry_after_send_failure(1, 400, 21211) is None


def test_an_unreachable_handset_is_tried_once_more_from_either_path():
    assert retry_after_undelivered(1, 30003).reason == "retry once: handset unreachable"
    assert retry_after_undelivered(2, 30003) is None and retry_after_undelivered(1, 30005) is None
    assert retry_after_send_failure(1, 400, 30003) == retry_after_undelivered(1, 30003)
