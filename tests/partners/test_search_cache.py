"""Catalogue searches are answered from a cache until the catalogue changes; a change shows at once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa
import time_machine
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from backend import create_app
from backend.database import db, utcnow
from backend.partners.catalogue_cache import BREAKER_SECONDS
from backend.partners.models import CapacityReport
from tests.conftest import ApiSession, app_config
from tests.factories import PASSWORD
from tests.partners.test_catalogue import DETOX, HOUSING, partner

DETOX_SEARCH = "/api/v1/services?service_type=detox&payer=medicaid&language=es"


def searched_tables(statements: list[str]) -> bool:
    return any("FROM services" in s or "service_attributes" in s for s in statements)


@pytest.fixture
def detox(supervisor_api) -> str:
    return supervisor_api.post(f"/api/v1/partners/{partner(supervisor_api)}/services", json=DETOX).json["id"]


@pytest.fixture
def app_with(database_url):
    """A second app on the same database with its own cache settings, logged in as `user`."""
    apps = []

    def _make(user, **config) -> ApiSession:
        other = create_app(app_config(database_url, **config))
        apps.append(other)
        client = other.test_client()
        tokens = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.json
        return ApiSession(client, tokens.json, user)

    yield _make
    for other in apps:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_repeated_search_is_answered_from_the_cache(app, coach_api, detox, count_statements):
    first = coach_api.get(DETOX_SEARCH)
    with count_statements() as statements:
        again = coach_api.get(DETOX_SEARCH)
    assert again.json == first.json == [s for s in first.json if s["id"] == detox]
    assert again.headers["X-Pagination"] == first.headers["X-Pagination"]
    assert not searched_tables(statements)  # the user and the catalogue token only
    # The values of one filter are alternatives: their order is the same question.
    coach_api.get("/api/v1/services?service_type=detox&service_type=residential")
    with count_statements() as statements:
        assert coach_api.get("/api/v1/services?service_type=residential&service_type=detox").json == first.json
    assert not searched_tables(statements)


def test_cached_and_computed_answers_are_the_same(app, coach_api, supervisor_api, detox):
    supervisor_api.post(f"/api/v1/partners/{partner(supervisor_api, 'Bridge')}/services", json=HOUSING)
    coach_api.post(f"/api/v1/services/{detox}/capacity", json={"available": 2, "maximum": 10})
    for path in (DETOX_SEARCH, "/api/v1/services?page_size=1&page=2", "/api/v1/services?has_capacity=true",
                 "/api/v1/services?q=bridge", "/api/v1/services?page=9"):
        app.config["CATALOGUE_CACHE_SECONDS"] = 30
        coach_api.get(path)  # fills the cache
        cached = coach_api.get(path)
        app.config["CATALOGUE_CACHE_SECONDS"] = 0
        computed = coach_api.get(path)
        assert (cached.status_code, cached.json, json.loads(cached.headers["X-Pagination"])) == (
            computed.status_code, computed.json, json.loads(computed.headers["X-Pagination"])), path


def test_every_catalogue_write_shows_in_the_next_search(coach_api, supervisor_api, detox, count_statements):
    def search(path=DETOX_SEARCH):
        """The answer, once it is in the cache (so a write below must replace it to show)."""
        answer = coach_api.get(path).json
        with count_statements() as statements:
            assert coach_api.get(path).json == answer
        assert not searched_tables(statements)
        return answer

    def card():
        return search()[0]

    assert card()["capacity"] is None
    coach_api.post(f"/api/v1/services/{detox}/capacity", json={"available": 3})
    assert card()["capacity"]["available"] == 3
    supervisor_api.patch(f"/api/v1/services/{detox}", json={"hours": "Mon-Fri 8-4"})
    assert card()["hours"] == "Mon-Fri 8-4"
    supervisor_api.patch(f"/api/v1/partners/{card()['organization_id']}", json={"name": "Renamed Health"})
    assert card()["organization_name"] == "Renamed Health"
    supervisor_api.patch(f"/api/v1/services/{detox}", json={"languages": ["en"]})
    assert search() == []

    org = search("/api/v1/services?service_type=detox")[0]["organization_id"]
    new = supervisor_api.post(f"/api/v1/partners/{org}/services", json={**DETOX, "name": "Second Detox"}).json["id"]
    assert [s["id"] for s in search()] == [new]
    assert search("/api/v1/partners?service_type=detox")[0]["contacts"] == []
    supervisor_api.post(f"/api/v1/partners/{org}/contacts", json={"name": "Dana Intake"})
    assert search("/api/v1/partners?service_type=detox")[0]["contacts"][0]["name"] == "Dana Intake"

    doc = supervisor_api.get("/api/v1/hsds/export").json
    service = next(s for s in doc["services"] if s["id"] == new)
    service["name"] = "Imported Detox"
    assert supervisor_api.post("/api/v1/hsds/import", json={"services": [service]}).status_code == 200
    assert [s["name"] for s in search()] == ["Imported Detox"]


def test_programmes_never_share_an_answer(coach_api, detox, factory, login):
    elsewhere = factory.program("Elsewhere")
    outsider_lead = login(factory.user("supervisor", elsewhere))
    theirs = outsider_lead.post(f"/api/v1/partners/{partner(outsider_lead, 'Their Partner')}/services",
                                json=DETOX).json["id"]
    outsider = login(factory.user("coach", elsewhere))
    assert [s["id"] for s in coach_api.get(DETOX_SEARCH).json] == [detox]
    assert [s["id"] for s in outsider.get(DETOX_SEARCH).json] == [theirs]
    assert [s["id"] for s in coach_api.get(DETOX_SEARCH).json] == [detox]


def test_a_cache_outage_costs_speed_not_the_answer(coach, coach_api, detox, app_with, caplog, monkeypatch):
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2,
                              retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2))  # as the app's client
    broken = app_with(coach, CACHE_TYPE="RedisCache", CACHE_REDIS_HOST=unreachable)
    calls = []
    real_get = unreachable.get
    monkeypatch.setattr(unreachable, "get", lambda *a, **kw: calls.append(a) or real_get(*a, **kw))
    for _ in range(3):
        response = broken.get(DETOX_SEARCH)
        assert response.status_code == 200 and [s["id"] for s in response.json] == [detox]
    assert "catalogue cache get failed" in caplog.text
    assert len(calls) == 1  # the breaker opened: the next searches did not wait on the dead cache
    with time_machine.travel(utcnow() + timedelta(seconds=BREAKER_SECONDS + 1)):
        assert broken.get(DETOX_SEARCH).status_code == 200
    assert len(calls) == 2  # and it tries again once the breaker's time is up


def test_cached_answers_expire_so_capacity_turns_stale_on_time(app, coach_api, detox):
    app.config["CATALOGUE_CACHE_SECONDS"] = 1
    coach_api.post(f"/api/v1/services/{detox}/capacity", json={"available": 1})
    assert len(coach_api.get("/api/v1/services?has_capacity=true").json) == 1
    with app.app_context():  # time passes: the report is now 25 hours old (no catalogue write)
        db.session.execute(sa.update(CapacityReport).values(reported_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
    assert len(coach_api.get("/api/v1/services?has_capacity=true").json) == 1  # still the cached answer
    with time_machine.travel(utcnow() + timedelta(seconds=2)):  # past the entry's second, by our clock
        assert coach_api.get("/api/v1/services?has_capacity=true").json == []


def test_a_computed_search_costs_the_same_statements_for_any_page_size(app, coach_api, supervisor_api,
                                                                       count_statements):
    org = partner(supervisor_api)
    for n in range(30):
        supervisor_api.post(f"/api/v1/partners/{org}/services", json={**DETOX, "name": f"Detox {n:02d}"})
    app.config["CATALOGUE_CACHE_SECONDS"] = 0
    counted = []
    for size in (5, 30):
        with count_statements() as statements:
            assert len(coach_api.get(f"/api/v1/services?service_type=detox&page_size={size}").json) == size
        counted.append(len(statements))
    assert counted[0] == counted[1]


def test_an_app_revalidates_its_saved_list_with_the_etag(app, coach_api, detox):
    first = coach_api.get(DETOX_SEARCH)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    unchanged = coach_api.get(DETOX_SEARCH, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.get_data() == b"" and unchanged.headers["ETag"] == etag
    # A proxy that compresses the body weakens the tag; it still revalidates.
    assert coach_api.get(DETOX_SEARCH, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    app.config["CATALOGUE_CACHE_SECONDS"] = 0  # computed answers carry the same ETag for the same content
    assert coach_api.get(DETOX_SEARCH, headers={"If-None-Match": etag}).status_code == 304
    coach_api.post(f"/api/v1/services/{detox}/capacity", json={"available": 4})
    changed = coach_api.get(DETOX_SEARCH, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.json[0]["capacity"]["available"] == 4
