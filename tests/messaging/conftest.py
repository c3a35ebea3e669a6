"""Messaging fixtures: the app talks to the fake Twilio server through the real SDK."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import time_machine

from backend import create_app
from backend.database import db
from tests.conftest import twilio_config

FROM_NUMBER = "+13125550100"


@pytest.fixture
def app(database_url, twilio):
    """Every messaging test's app sends through the real twilio SDK to the fake server."""
    from tests.conftest import flush_test_redis

    flush_test_redis()
    app = create_app(twilio_config(database_url, twilio))
    yield app
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def via_client(client):
    """Deliver the fake's signed webhooks through the Flask test client."""

    def post(url, data, headers):
        parts = urlsplit(url)
        return client.post(parts.path + (f"?{parts.query}" if parts.query else ""), data=data, headers=headers)

    return post


# 12:00 in Chicago (the factory's zone) on a Tuesday: far from quiet hours whatever the wall clock says.
MIDDAY_IN_CHICAGO = datetime(2026, 6, 16, 17, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def midday_clock(request):
    """Every messaging test runs on a clock moved to midday in Chicago (it ticks on from there).

    Sending tests then never meet quiet hours, at any time of day the suite runs;
    quiet hours are tested with clocks of their own. A test that drives a real worker
    process (whose clock cannot be moved) says so with @pytest.mark.real_clock.
    """
    if request.node.get_closest_marker("real_clock"):
        yield None
        return
    with time_machine.travel(MIDDAY_IN_CHICAGO, tick=True) as traveller:
        yield traveller


def daytime_zone() -> str:
    """A fixed-offset zone where it is about 13:00 by the wall clock (for real worker processes only)."""
    offset = 13 - datetime.now(UTC).hour  # hours east of UTC; Etc/ zones name it with the opposite sign
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
