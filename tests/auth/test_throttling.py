"""Failed logins are throttled per account and per address."""

from __future__ import annotations

import os

import pytest

from backend import create_app
from tests.conftest import app_config
from tests.factories import PASSWORD


def fail(client, email, address="10.1.1.1"):
    return client.post("/api/v1/auth/login", json={"email": email, "password": "wrong password"},
                       environ_base={"REMOTE_ADDR": address})


def test_sixth_failed_login_gets_429_with_retry_after(client, coach):
    for _ in range(5):
        assert fail(client, coach.email).status_code == 401
    sixth = client.post("/api/v1/auth/login", json={"email": coach.email, "password": PASSWORD})
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


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set")
def test_lockout_is_shared_between_workers_through_redis(database_url, client, coach):
    for _ in range(5):
        fail(client, coach.email)
    other_worker = create_app(app_config(database_url)).test_client()
    response = other_worker.post("/api/v1/auth/login", json={"email": coach.email, "password": PASSWORD})
    assert response.status_code == 429
