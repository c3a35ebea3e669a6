"""Liveness and readiness probes."""

from __future__ import annotations

import sqlalchemy as sa

from backend.database import db


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_at_head(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["status"] == "ready"


def test_readyz_503_when_migrations_are_behind(app, client):
    with app.app_context():
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = 'outdated'"))
        db.session.commit()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["error"] == "unavailable"


def test_readyz_503_when_database_is_unreachable():
    from backend import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                      "SECRET_KEY": "x" * 40})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
