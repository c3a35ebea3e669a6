"""Constants and small helpers shared by the benchmark scripts (everything talks to 127.0.0.1 only)."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
DOCS = ROOT / "docs" / "PERFORMANCE.md"
HOST = "127.0.0.1"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"
RATELIMIT_PREFIX = "bridgeline-bench"
BENCH_PASSWORD = "bench-password-not-secret"  # noqa: S105 - synthetic benchmark accounts only


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def pg_url(dbname: str) -> str:
    """SQLAlchemy URL of a database on the local server."""
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"


def dsn(dbname: str) -> str:
    """psycopg connection string of a database on the local server."""
    return f"{PG_DSN} dbname={dbname}"


def import_backend() -> None:
    """Make `import backend` work from any working directory."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def http_json(method: str, port: int, path: str, body: dict | None = None,
              token: str | None = None) -> tuple[int, dict, object]:
    """One request to 127.0.0.1; returns (status, headers, parsed JSON body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        parsed = json.loads(raw) if raw else None
        return response.status, dict(response.getheaders()), parsed
    finally:
        conn.close()


def login(port: int, email: str, password: str = BENCH_PASSWORD) -> str:
    """Log in through the API; returns the access token."""
    status, _headers, body = http_json("POST", port, "/api/v1/auth/login", {"email": email, "password": password})
    if status != 200:
        raise RuntimeError(f"login as {email} failed: {status} {body}")
    return body["access_token"]


def _raise_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so that `finally` blocks stop the servers."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
