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
        head = db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = 'outdated'"))
        db.session.commit()
    try:
        response = client.get("/readyz")
    finally:  # the PostgreSQL test database is shared by the tests that follow
        with app.app_context():
            db.session.execute(sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head})
            db.session.commit()
    assert response.status_code == 503
    assert response.json["error"] == "service_unavailable"
    assert response.json["checks"]["database"] == "migrations_behind"


def test_readyz_503_when_database_is_unreachable():
    from backend import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                      "SECRET_KEY": "x" * 40})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.json["checks"]["database"] == "down"


def test_the_api_answers_503_with_retry_after_while_the_database_is_down():
    """Not a 500: the app and a load balancer both know to wait and retry."""
    from flask_jwt_extended import create_access_token

    from backend import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                      "SECRET_KEY": "x" * 40, "REDIS_URL": None})
    with app.test_request_context():
        token = create_access_token(identity="1", additional_claims={"sid": "s"})
    client = app.test_client()
    for response in (client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}),
                     client.post("/api/v1/auth/login", json={"email": "coach@example.test", "password": "x" * 12})):
        assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
        assert response.json["error"] == "service_unavailable"


def test_redis_down_is_reported_and_the_app_stays_up(database_url, factory_for):
    """Logins, the API and readiness work with Redis unreachable: limits count per process meanwhile."""
    from backend import create_app
    from tests.conftest import app_config
    from tests.factories import PASSWORD

    app = create_app(app_config(database_url, REDIS_URL="redis://127.0.0.1:1/0"))
    coach = factory_for(app).user("coach")
    client = app.test_client()
    login = client.post("/api/v1/auth/login", json={"email": coach.email, "password": PASSWORD})
    assert login.status_code == 200
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {login.json['access_token']}"})
    assert me.status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok", "redis": "down"}
    assert ready.json["status"] == "ready_degraded"
