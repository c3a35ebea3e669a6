"""Workers sending from one Twilio number share its rate; a limiter outage never stops the texts."""

from __future__ import annotations

import pytest

from backend import create_app
from backend.database import db
from backend.extensions import limiter
from backend.messaging import sender_rate
from backend.messaging.dispatch import dispatch_due
from tests.conftest import REDIS_URL
from tests.messaging.conftest import FROM_NUMBER, twilio_config
from tests.messaging.test_dispatch import load, queue, run


def test_the_rate_becomes_a_limit():
    assert sender_rate.sender_limit(0) is None and sender_rate.sender_limit(None) is None
    assert str(sender_rate.sender_limit(1)) == "1 per 1 second"
    assert str(sender_rate.sender_limit(0.5)) == "1 per 2 second"
    assert str(sender_rate.sender_limit(1 / 30)) == "1 per 30 second"


@pytest.mark.skipif(not REDIS_URL, reason="workers share the rate through Redis")
def test_a_slot_taken_by_one_worker_is_taken_for_the_other(app, database_url, twilio):
    other_worker = create_app(twilio_config(database_url, twilio))
    limit = sender_rate.sender_limit(1 / 30)  # one text per 30 s on this number
    with app.app_context():
        sender_rate.wait_for_sender_slot(limit, FROM_NUMBER)  # free: returns at once
        key = sender_rate.storage_key(FROM_NUMBER)
    with other_worker.app_context():
        assert not limiter.limiter.test(limit, sender_rate.NAMESPACE, key)
        db.engine.dispose()


def test_dispatch_takes_a_slot_per_text(app, factory, coach):
    app.config["SMS_RATE_PER_SECOND"] = 100
    patient = factory.patient(coach)
    ids = [queue(app, patient, body=f"Text {n}") for n in range(3)]
    assert run(app, dispatch_due) == {"sent": 3}
    with app.app_context():
        stats = limiter.limiter.get_window_stats(sender_rate.sender_limit(100), sender_rate.NAMESPACE,
                                                 sender_rate.storage_key(FROM_NUMBER))
    assert stats.remaining == 97 and all(load(app, i).status == "sent" for i in ids)


def test_a_limiter_outage_falls_back_to_the_workers_own_pacing(app, factory, coach, monkeypatch, caplog):
    app.config["SMS_RATE_PER_SECOND"] = 100

    def storage_down(*_args, **_kwargs):
        raise ConnectionError("limiter storage unreachable")

    monkeypatch.setattr(limiter.limiter, "hit", storage_down)
    patient = factory.patient(coach)
    queue(app, patient)
    assert run(app, dispatch_due) == {"sent": 1}
    assert "shared SMS rate unavailable" in caplog.text
