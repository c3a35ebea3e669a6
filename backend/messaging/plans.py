"""Follow-up plans: named offsets from an anchor (a discharge) at a delivery hour in the patient's zone."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta


@dataclass(frozen=True)
class Step:
    days: int
    template_key: str


@dataclass(frozen=True)
class FollowUpPlan:
    key: str
    name: str
    steps: tuple[Step, ...]
    delivery_hour: int = 10

    def schedule(self, anchor_at: datetime, timezone: str) -> list[tuple[Step, datetime]]:
        """Each step's due time: anchor's local date + days, at the delivery hour, in UTC."""
        zone = zoneinfo.ZoneInfo(timezone)
        local_anchor = anchor_at.astimezone(zone).date()
        return [(step, datetime.combine(local_anchor + timedelta(days=step.days), time(self.delivery_hour),
                                        tzinfo=zone).astimezone(zoneinfo.ZoneInfo("UTC")))
                for step in self.steps]


PLANS: dict[str, FollowUpPlan] = {
    "after_ed_visit": FollowUpPlan(
        "after_ed_visit", "After an ED visit",
        (Step(1, "after_visit"), Step(3, "check_in"), Step(7, "check_in"), Step(14, "check_in"),
         Step(30, "check_in_month")),
    ),
}
