"""Failed logins are throttled per account and address, with a higher ceiling per account, in the database."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import time_machine

from backend import create_app
from backend.database import utcnow
from tests.conftest import app_config
from tests.factories import PASSWORD


def fail(client, email, address="10.1.1.1"):
    return client.post("/api/v1/auth/login", json={"email": email, "password": "wrong password"},
                       environ_base={"REMOTE_ADDR": address})


def login_from(client, email, address, password=PASSWORD):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_sixth_failed_login_gets_429_with_retry_after(client, coach):
    for _ in range(5):
        assert fail(client, coach.email).status_code == 401
    sixth = login_from(client, coach.email, "10.1.1.1")  # even with the right password, from that address
    assert sixth.status_code == 429
    assert sixth.json["error"] == "too_many_failed_logins"
    assert 0 < int(sixth.headers["Retry-After"]) <= 15 * 60


def test_lockout_is_per_account(client, coach, other_coach):
    for _ in range(5):
        fail(client, coach.email)
    response = client.post("/api/v1/auth/login", json={"email": other_coach.email, "password": PASSWORD})
    assert response.status_code == 200


def test_unknown_accounts_are_throttled_too(client):
    for _ in range(5):
        assert fail(client, "ghost@example.test").status_code == 401
    assert fail(client, "ghost@example.test").status_code == 429


def test_more_than_20_attempts_a_minute_from_one_address_get_429(client):
    for n in range(20):
        assert fail(client, f"user{n}@example.test", "10.9.9.9").status_code == 401
    refused = fail(client, "another@example.test", "10.9.9.9")
    assert refused.status_code == 429
    assert refused.json["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    assert fail(client, "another@example.test", "10.9.9.10").status_code == 401


def test_lockout_holds_across_workers_and_restarts_without_redis(database_url, client, coach):
    for _ in range(5):
        fail(client, coach.email)
    restarted = create_app(app_config(database_url, REDIS_URL=None)).test_client()  # another process, no Redis
    assert login_from(restarted, coach.email, "10.1.1.1").status_code == 429


def test_nobody_can_lock_a_colleague_out_from_another_address(client, coach):
    for _ in range(5):
        fail(client, coach.email, "198.51.100.66")
    assert fail(client, coach.email, "198.51.100.66").status_code == 429
    assert login_from(client, coach.email, "10.20.30.40").status_code == 200  # the coach, at the hospital


def test_distributed_guessing_meets_the_account_ceiling_briefly(app, client, coach):
    app.config["LOGIN_FAILURES_PER_ACCOUNT_ANYWHERE"] = "8 per 15 minutes"
    for n in range(8):
        assert fail(client, coach.email, f"192.0.2.{n + 1}").status_code == 401
    locked = login_from(client, coach.email, "10.20.30.40")
    assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    with time_machine.travel(utcnow() + timedelta(minutes=16)):  # brief: the window passes
        assert login_from(client, coach.email, "10.20.30.40").status_code == 200


def test_a_successful_login_clears_that_addresses_failures(client, coach):
    for _ in range(4):
        fail(client, coach.email)
    assert login_from(client, coach.email, "10.1.1.1").status_code == 200
    for _ in range(4):
        assert fail(client, coach.email).status_code == 401
    assert login_from(client, coach.email, "10.1.1.1").status_code == 200


def test_old_failures_are_purged(app, client, coach):
    from backend.auth.models import LoginFailure
    from backend.database import db
    from tests.conftest import run_named_job

    fail(client, coach.email)
    with time_machine.travel(utcnow() + timedelta(days=2)):
        assert run_named_job(app, "purge_login_failures") == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginFailure)) == 0
