"""Voice fixtures: the app talks to the fake Twilio through the real SDK, and the fake's phone network
places calls into the app's signed webhooks (through the test client) and plays each phone as scripted."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import time_machine

from backend import create_app
from backend.database import db
from backend.programs.models import WarmLine
from tests.conftest import flush_test_redis, twilio_config

LINE = "+13125550100"  # the factory's first programme owns it
BASE = "http://localhost"
INCOMING = f"{BASE}/webhooks/twilio/voice"
STATUS = f"{BASE}/webhooks/twilio/voice/status"
COACH_PHONES = [f"+131255501{n}" for n in range(11, 40)]
# 12:00 in Chicago on a Tuesday: the default hours (08:00-22:00) are open and nobody is in quiet hours.
MIDDAY_IN_CHICAGO = datetime(2026, 6, 16, 17, 0, tzinfo=UTC)


@pytest.fixture
def app(database_url, twilio):
    flush_test_redis()
    app = create_app(twilio_config(database_url, twilio, PUBLIC_BASE_URL=BASE))
    yield app
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture(autouse=True)
def midday_clock(request):
    """The app's clock at midday in Chicago (ticking on), so the line is open whatever the wall clock says."""
    if request.node.get_closest_marker("real_clock"):
        yield None
        return
    with time_machine.travel(MIDDAY_IN_CHICAGO, tick=True) as traveller:
        yield traveller


def _transport(client):
    def post(url, data, headers):
        parts = urlsplit(url)
        response = client.post(parts.path + (f"?{parts.query}" if parts.query else ""), data=data, headers=headers)
        return response.status_code, response.get_data(as_text=True)

    def get(url, headers):
        parts = urlsplit(url)
        response = client.get(parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
        return response.status_code, response.get_data(as_text=True)

    return post, get


@pytest.fixture
def net(twilio, client, program):
    """The phone network, with the programme's line pointed at the app's voice webhooks."""
    network = twilio.voice
    network.post, network.get = _transport(client)
    network.number(LINE, voice_url=INCOMING, status_callback=STATUS)
    return network


@pytest.fixture
def coaches(factory, program, supervisor):
    """Three coaches on shift, each with a phone (and no patients: equal utilisation, so ids decide)."""
    return [factory.user("coach", program, email=f"ring{i}@example.test", phone=COACH_PHONES[i], on_shift=True,
                         supervisor_id=supervisor.id, full_name=f"Coach Number {i}") for i in range(3)]


def set_line(app, program_id: int, **settings) -> None:
    """Store warm-line settings for the programme."""
    from backend.programs.hours import stored_line

    with app.app_context():
        line = stored_line(program_id)
        for name, value in settings.items():
            setattr(line, name, value)
        db.session.commit()


def stored(app, model, **where):
    """Rows of a model (detached), filtered by equality."""
    import sqlalchemy as sa

    with app.app_context():
        stmt = sa.select(model).filter_by(**where).order_by(model.__table__.primary_key.columns.values()[0])
        rows = list(db.session.scalars(stmt))
        db.session.expunge_all()
        return rows


__all__ = ["BASE", "COACH_PHONES", "INCOMING", "LINE", "STATUS", "WarmLine", "set_line", "stored"]
