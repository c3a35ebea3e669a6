"""Fixtures: an app on a real SQLite and (with TEST_DATABASE_URL) a real PostgreSQL.

Every test that uses `app` runs once per database backend. The schema is built
with the migrations once per session; each test gets a fresh copy (SQLite) or
truncated tables (PostgreSQL).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from backend import create_app
from backend.config import normalise_database_url
from backend.database import db
from backend.users.passwords import use_fast_hashing_for_tests
from tests.factories import PASSWORD, Factory

use_fast_hashing_for_tests()

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("REDIS_URL")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
REQUIRE_REDIS = os.environ.get("REQUIRE_REDIS") == "1"
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
# TEST_CLOCK=2026-12-02T05:30:00+00:00 runs the whole suite from that moment (23:30 in Chicago): no test may
# depend on the hour it happens to run at.
TEST_CLOCK = os.environ.get("TEST_CLOCK")


@pytest.fixture(autouse=True, scope="session")
def suite_clock():
    """The whole session on a moved clock when TEST_CLOCK says so (it ticks on from there)."""
    if not TEST_CLOCK:
        yield None
        return
    import time_machine

    with time_machine.travel(datetime.fromisoformat(TEST_CLOCK), tick=True) as traveller:
        yield traveller


def pytest_collection_modifyitems(config, items):
    if TEST_CLOCK:  # a real worker process keeps the machine's clock, which the suite no longer shares
        skip = pytest.mark.skip(reason="drives a real process; TEST_CLOCK moves only this one's clock")
        for item in items:
            if item.get_closest_marker("real_clock"):
                item.add_marker(skip)


def pytest_sessionstart(session):
    if REQUIRE_POSTGRES:
        if not TEST_DATABASE_URL:
            pytest.exit("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set", returncode=3)
        try:
            engine = sa.create_engine(normalise_database_url(TEST_DATABASE_URL))
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
        except Exception as exc:  # noqa: BLE001
            pytest.exit(f"REQUIRE_POSTGRES=1 but PostgreSQL is unreachable: {exc}", returncode=3)
    if REQUIRE_REDIS:
        import redis

        try:
            redis.Redis.from_url(REDIS_URL or "redis://", socket_connect_timeout=2).ping()
        except Exception as exc:  # noqa: BLE001
            pytest.exit(f"REQUIRE_REDIS=1 but Redis is unreachable: {exc}", returncode=3)


def app_config(database_url: str, **extra) -> dict:
    """Config overrides for a test app on the given database."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": TEST_SECRET,
        "REDIS_URL": REDIS_URL,
        "PUBLIC_BASE_URL": "http://localhost",
        **extra,
    }


def migrate_to_head(database_url: str) -> None:
    app = create_app(app_config(database_url, REDIS_URL=None))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "bridgeline.sqlite3"
    migrate_to_head(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url():
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    url = normalise_database_url(TEST_DATABASE_URL)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    except sa.exc.OperationalError as exc:
        if REQUIRE_POSTGRES:
            raise
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    finally:
        engine.dispose()
    migrate_to_head(url)
    return url


def truncate_all(url: str) -> None:
    """Empty every table; triggers (the audit log's append-only guard) are bypassed for cleanup only."""
    tables = ", ".join(t.name for t in db.metadata.sorted_tables)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    truncate_all(url)
    return url


@pytest.fixture
def backend(database_url) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def flush_test_redis() -> None:
    """Tests own the Redis database in REDIS_URL (CI uses db 15): start each test empty."""
    if REDIS_URL:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()


@pytest.fixture
def app(database_url):
    flush_test_redis()
    app = create_app(app_config(database_url))
    yield app
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def factory(app) -> Factory:
    return Factory(app)


@dataclass
class ApiSession:
    """A logged-in API client: every call carries the bearer token."""

    client: object
    tokens: dict
    user: object = None
    default_headers: dict = field(default_factory=dict)

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.tokens['access_token']}", **self.default_headers}

    def _call(self, method, path, headers=None, **kwargs):
        return getattr(self.client, method)(path, headers={**self.headers, **(headers or {})}, **kwargs)

    def get(self, path, **kw):
        return self._call("get", path, **kw)

    def post(self, path, **kw):
        return self._call("post", path, **kw)

    def patch(self, path, **kw):
        return self._call("patch", path, **kw)

    def put(self, path, **kw):
        return self._call("put", path, **kw)

    def delete(self, path, **kw):
        return self._call("delete", path, **kw)


@pytest.fixture
def login(client):
    """Log a user in through the API and return an ApiSession (the coach session helper)."""

    def _login(user, password: str = PASSWORD) -> ApiSession:
        response = client.post("/api/v1/auth/login", json={"email": user.email, "password": password})
        assert response.status_code == 200, response.json
        return ApiSession(client, response.json, user)

    return _login


@pytest.fixture
def program(factory):
    return factory.program()


@pytest.fixture
def supervisor(factory, program):
    return factory.user("supervisor", program, email="sup@example.test")


@pytest.fixture
def admin_user(factory, program):
    return factory.user("admin", program, email="admin@example.test")


@pytest.fixture
def coach(factory, program, supervisor):
    return factory.user("coach", program, email="coach.a@example.test", supervisor_id=supervisor.id)


@pytest.fixture
def other_coach(factory, program, supervisor):
    return factory.user("coach", program, email="coach.b@example.test", supervisor_id=supervisor.id)


@pytest.fixture
def coach_api(login, coach) -> ApiSession:
    return login(coach)


@pytest.fixture
def supervisor_api(login, supervisor) -> ApiSession:
    return login(supervisor)


@pytest.fixture
def admin_api(login, admin_user) -> ApiSession:
    return login(admin_user)


@pytest.fixture
def count_statements(app):
    """Context manager collecting the SQL statements the app sends."""

    @contextlib.contextmanager
    def _count():
        with app.app_context():
            engine = db.engine
        statements: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        sa.event.listen(engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            sa.event.remove(engine, "before_cursor_execute", before)

    return _count


def run_named_job(app, name: str, **kwargs):
    """Run a registered job through its entry point (the job runner), with `kwargs` for this run."""
    from dataclasses import replace

    from backend.jobs.runner import job_named, run_job

    return run_job(app, replace(job_named(name), kwargs=kwargs))


# -- the OpenAPI contract: every API answer a test gets is checked against the document (tests/contract.py) --

_contract: list = []  # the one Contract of this session, built from the first app's document


def _contract_for(client, original_open):
    if not _contract:
        from tests.contract import Contract

        _contract.append(Contract(original_open(client, "/api/v1/openapi.json").json))
    return _contract[0]


@pytest.fixture(autouse=True, scope="session")
def answers_checked_against_the_contract():
    """Wrap every test client: an API answer the document does not declare fails the test that got it."""
    from flask.testing import FlaskClient

    original_open = FlaskClient.open

    def open_checked(self, *args, **kwargs):
        response = original_open(self, *args, **kwargs)
        path = response.request.path
        if path.startswith(("/api/v1/", "/hsds")) and not path.startswith("/api/v1/openapi"):
            problems = _contract_for(self, original_open).violations(
                response.request.method, path, response.status_code, response.headers, response.get_data())
            assert not problems, "The answer breaks the OpenAPI contract:\n" + "\n".join(problems)
        return response

    FlaskClient.open = open_checked
    yield
    FlaskClient.open = original_open


def pytest_sessionfinish(session, exitstatus):
    # CI runs the whole suite: every operation in the document must have been answered and checked.
    required = os.environ.get("REQUIRE_CONTRACT_COVERAGE") == "1"
    if required and _contract and exitstatus == 0 and _contract[0].operations - _contract[0].seen:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if _contract:
        contract = _contract[0]
        missed = sorted(contract.operations - contract.seen)
        listed = f"; never called: {missed}" if missed and os.environ.get("REQUIRE_CONTRACT_COVERAGE") else ""
        terminalreporter.write_line(f"OpenAPI contract: {len(contract.seen)} of {len(contract.operations)} operations "
                                    f"answered and checked{listed}")


@pytest.fixture
def factory_for():
    """A Factory for an app a test built itself (another worker, other settings)."""
    return Factory


@pytest.fixture(scope="session")
def fake_twilio_server():
    """One fake Twilio (REST API and phone network) for the session; the real SDK talks to it."""
    from fake_twilio import FakeTwilio

    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def twilio(fake_twilio_server):
    """The fake, cleared for this test."""
    fake_twilio_server.reset()
    fake_twilio_server.latency = 0
    return fake_twilio_server


def twilio_config(database_url: str, twilio, **extra) -> dict:
    """An app configuration that sends through the real twilio SDK to the fake."""
    return app_config(database_url, TWILIO_ACCOUNT_SID=twilio.account_sid, TWILIO_AUTH_TOKEN=twilio.auth_token,
                      TWILIO_API_BASE_URL=twilio.base_url, TWILIO_FROM_NUMBER="+13125550100",
                      SMS_RATE_PER_SECOND=0, **extra)


@pytest.fixture
def live_server(app):
    """The app served over HTTP on 127.0.0.1, on a free port, for the browser."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page():
    """A page in Debian's chromium (never a downloaded browser), 1440 px wide."""
    from tests.admin.browser import CHROMIUM, WIDE

    assert CHROMIUM, "REQUIRE_BROWSER=1 but chromium is not installed"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        context = browser.new_context(viewport={"width": WIDE, "height": 900})
        yield context.new_page()
        context.close()
        browser.close()
