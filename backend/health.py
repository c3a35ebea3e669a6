"""Liveness and readiness probes."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify

from backend.database import db

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    """The process is alive."""
    return jsonify(status="ok")


def _expected_heads() -> set[str]:
    migrate = current_app.extensions["migrate"]
    script = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
    return set(script.get_heads())


def _redis_state() -> str:
    redis = current_app.extensions.get("bridgeline_redis")
    if redis is None:
        return "not_configured"
    try:
        redis.ping()
    except Exception:  # noqa: BLE001 - any failure means down
        return "down"
    return "ok"


@blp.get("/readyz")
def readyz():
    """Each dependency's state; 503 only when the database is unreachable or behind the migrations.

    Redis down is reported but ready: rate limits fall back to each process, caches are
    skipped, and sessions never depended on it.
    """
    checks = {"redis": _redis_state()}
    try:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception:  # noqa: BLE001 - any failure means not ready
        current_app.logger.warning("readiness: database unreachable")
        return jsonify(error="service_unavailable", message="The database is unreachable.",
                       checks={**checks, "database": "down"}), 503, {"Retry-After": "5"}
    expected = _expected_heads()
    if current != expected:
        return jsonify(error="service_unavailable", message="Database migrations are not at head.",
                       checks={**checks, "database": "migrations_behind"},
                       current=sorted(current), expected=sorted(expected)), 503
    status = "ready" if checks["redis"] != "down" else "ready_degraded"
    return jsonify(status=status, checks={**checks, "database": "ok"}, migration=sorted(current))
