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


@blp.get("/readyz")
def readyz():
    """The database answers and its schema is at the migrations' head; 503 otherwise."""
    try:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception:  # noqa: BLE001 - any failure means not ready
        current_app.logger.warning("readiness: database unreachable")
        return jsonify(error="unavailable", message="The database is unreachable."), 503
    expected = _expected_heads()
    if current != expected:
        return jsonify(error="unavailable", message="Database migrations are not at head.",
                       current=sorted(current), expected=sorted(expected)), 503
    return jsonify(status="ready", migration=sorted(current))
