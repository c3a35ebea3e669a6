"""Messaging fixtures: the app talks to the fake Twilio server through the real SDK."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from backend import create_app
from backend.database import db
from fake_twilio import FakeTwilio
from tests.conftest import app_config
from tests.factories import Factory

FROM_NUMBER = "+13125550100"


@pytest.fixture(scope="session")
def fake_twilio_server():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def twilio(fake_twilio_server) -> FakeTwilio:
    fake_twilio_server.reset()
    fake_twilio_server.latency = 0
    return fake_twilio_server


def twilio_config(database_url: str, twilio: FakeTwilio, **extra) -> dict:
    return app_config(database_url, TWILIO_ACCOUNT_SID=twilio.account_sid, TWILIO_AUTH_TOKEN=twilio.auth_token,
                      TWILIO_API_BASE_URL=twilio.base_url, TWILIO_FROM_NUMBER=FROM_NUMBER,
                      SMS_RATE_PER_SECOND=0, **extra)


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


def daytime_zone(now: datetime | None = None) -> str:
    """A fixed-offset zone where it is about 13:00 right now, far from any quiet hours."""
    hour = (now or datetime.now(UTC)).hour
    offset = 13 - hour  # hours east of UTC; Etc/ zones name it with the opposite sign
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


@pytest.fixture(autouse=True)
def daytime_patients(monkeypatch):
    """Patients live where it is midday now, so a test that sends "now" never meets quiet hours.

    Quiet hours are tested with their own clock and zone (test_dispatch.py); without this, every
    sending test would fail when run between 21:00 and 08:00 in the factory's default zone.
    """
    zone = daytime_zone()
    create_one, create_many = Factory.patient, Factory.patients

    def patient(self, coach=None, program_id=None, **kw):
        return create_one(self, coach, program_id, **{"timezone": zone, **kw})

    def patients(self, coach, count, **kw):
        return create_many(self, coach, count, **{"timezone": zone, **kw})

    monkeypatch.setattr(Factory, "patient", patient)
    monkeypatch.setattr(Factory, "patients", patients)
