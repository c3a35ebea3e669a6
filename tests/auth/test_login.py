"""Logging in, refreshing and logging out of the app."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_jwt_extended import create_access_token, decode_token

from backend import create_app
from backend.auth.models import AuthSession
from backend.database import db, utcnow
from tests.conftest import app_config, flush_test_redis
from tests.factories import PASSWORD


def test_login_returns_tokens_and_user(client, coach):
    response = client.post("/api/v1/auth/login", json={"email": "COACH.A@example.test ", "password": PASSWORD})
    assert response.status_code == 200
    assert set(response.json) == {"access_token", "refresh_token", "user"}
    assert response.json["user"]["email"] == coach.email
    assert response.json["user"]["role"] == "coach"
    assert "password" not in response.json["user"] and "password_hash" not in response.json["user"]


def test_wrong_email_and_wrong_password_get_the_same_401(client, coach):
    wrong_password = client.post("/api/v1/auth/login", json={"email": coach.email, "password": "nope"})
    wrong_email = client.post("/api/v1/auth/login", json={"email": "nobody@example.test", "password": PASSWORD})
    assert wrong_password.status_code == wrong_email.status_code == 401
    assert wrong_password.json == wrong_email.json
    assert wrong_password.json["error"] == "invalid_credentials"


def test_inactive_account_cannot_log_in(client, factory, program):
    user = factory.user("coach", program, active=False)
    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 401 and response.json["error"] == "invalid_credentials"


def test_login_body_is_validated(client):
    response = client.post("/api/v1/auth/login", json={"email": "x@example.test"})
    assert response.status_code == 422 and "password" in response.json["errors"]


def test_me_needs_a_token(client, coach_api, coach):
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me").json["error"] == "authorization_required"
    me = coach_api.get("/api/v1/me")
    assert me.status_code == 200 and me.json["id"] == coach.id and me.json["program_name"] == "Test Programme"


def test_garbage_token_gets_401(client):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401 and response.json["error"] == "token_invalid"


def test_expired_access_token_gets_401(app, client, coach):
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = timedelta(seconds=-1)
    tokens = client.post("/api/v1/auth/login", json={"email": coach.email, "password": PASSWORD}).json
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 401 and response.json["error"] == "token_expired"


def test_refresh_gives_a_working_access_token(client, coach_api):
    refresh = {"Authorization": f"Bearer {coach_api.tokens['refresh_token']}"}
    response = client.post("/api/v1/auth/refresh", headers=refresh)
    assert response.status_code == 200
    new_access = {"Authorization": f"Bearer {response.json['access_token']}"}
    assert client.get("/api/v1/me", headers=new_access).status_code == 200


def test_refresh_token_is_not_an_access_token_and_vice_versa(client, coach_api):
    refresh = {"Authorization": f"Bearer {coach_api.tokens['refresh_token']}"}
    assert client.get("/api/v1/me", headers=refresh).status_code == 401
    assert client.post("/api/v1/auth/refresh", headers=coach_api.headers).status_code == 401


def test_token_lifetimes(app):
    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"] == timedelta(minutes=15)
    assert app.config["JWT_REFRESH_TOKEN_EXPIRES"] == timedelta(days=14)


def test_logout_revokes_access_and_refresh_at_once(client, coach_api):
    assert coach_api.post("/api/v1/auth/logout").status_code == 204
    after = coach_api.get("/api/v1/me")
    assert after.status_code == 401 and after.json["error"] == "token_revoked"
    refresh = {"Authorization": f"Bearer {coach_api.tokens['refresh_token']}"}
    assert client.post("/api/v1/auth/refresh", headers=refresh).status_code == 401


def test_logout_with_refresh_token_also_revokes_the_access_token(client, coach_api):
    refresh = {"Authorization": f"Bearer {coach_api.tokens['refresh_token']}"}
    assert client.post("/api/v1/auth/logout", headers=refresh).status_code == 204
    assert coach_api.get("/api/v1/me").status_code == 401


def test_logout_leaves_other_sessions_alone(login, coach):
    phone, tablet = login(coach), login(coach)
    phone.post("/api/v1/auth/logout")
    assert tablet.get("/api/v1/me").status_code == 200


def test_revocation_is_seen_by_another_worker(database_url, coach_api):
    """A second app instance (another worker process in production) refuses the revoked token."""
    other_worker = create_app(app_config(database_url)).test_client()
    assert other_worker.get("/api/v1/me", headers=coach_api.headers).status_code == 200
    coach_api.post("/api/v1/auth/logout")
    assert other_worker.get("/api/v1/me", headers=coach_api.headers).status_code == 401


def test_deactivating_a_user_revokes_their_tokens(client, admin_api, coach_api, coach):
    response = admin_api.patch(f"/api/v1/users/{coach.id}", json={"active": False})
    assert response.status_code == 200 and response.json["active"] is False
    assert coach_api.get("/api/v1/me").status_code == 401
    refresh = {"Authorization": f"Bearer {coach_api.tokens['refresh_token']}"}
    assert client.post("/api/v1/auth/refresh", headers=refresh).status_code == 401
    relogin = client.post("/api/v1/auth/login", json={"email": coach.email, "password": PASSWORD})
    assert relogin.status_code == 401


def test_revocation_without_redis_is_checked_in_the_database(database_url):
    """With no REDIS_URL, every worker checks the session row itself."""
    from tests.factories import Factory

    first = create_app(app_config(database_url, REDIS_URL=None))
    second = create_app(app_config(database_url, REDIS_URL=None)).test_client()
    factory = Factory(first)
    coach = factory.user("coach", factory.program())
    client = first.test_client()
    tokens = client.post("/api/v1/auth/login", json={"email": coach.email, "password": PASSWORD}).json
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert second.get("/api/v1/me", headers=headers).status_code == 200
    client.post("/api/v1/auth/logout", headers=headers)
    assert second.get("/api/v1/me", headers=headers).status_code == 401


def test_a_logged_out_token_stays_refused_whatever_redis_forgets(app, client, coach_api):
    """Redis restarted without persistence, or evicted keys: logout still holds (PostgreSQL decides)."""
    refresh = {"Authorization": f"Bearer {coach_api.tokens['refresh_token']}"}
    assert coach_api.post("/api/v1/auth/logout").status_code == 204
    flush_test_redis()
    assert coach_api.get("/api/v1/me").status_code == 401
    assert client.post("/api/v1/auth/refresh", headers=refresh).status_code == 401


def test_a_signed_token_naming_a_session_that_does_not_exist_is_refused(app, client, coach):
    with app.test_request_context():
        forged = create_access_token(identity=str(coach.id), additional_claims={
            "sid": "00000000-0000-4000-8000-000000000000", "role": "coach", "program_id": coach.program_id})
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and response.json["error"] == "token_revoked"


def test_a_session_is_only_its_own_users(app, client, coach_api, other_coach):
    """A token signed for another user but naming this user's session id is refused."""
    with app.test_request_context():
        sid = decode_token(coach_api.tokens["access_token"])["sid"]
        borrowed = create_access_token(identity=str(other_coach.id), additional_claims={"sid": sid})
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {borrowed}"}).status_code == 401


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(client, coach_api):
    first_refresh = {"Authorization": f"Bearer {coach_api.tokens['refresh_token']}"}
    rotated = client.post("/api/v1/auth/refresh", headers=first_refresh)
    assert rotated.status_code == 200 and set(rotated.json) == {"access_token", "refresh_token"}
    assert rotated.json["refresh_token"] != coach_api.tokens["refresh_token"]
    new_access = {"Authorization": f"Bearer {rotated.json['access_token']}"}
    assert client.get("/api/v1/me", headers=new_access).status_code == 200

    replay = client.post("/api/v1/auth/refresh", headers=first_refresh)  # a copy of the old one comes back
    assert replay.status_code == 401 and replay.json["error"] == "refresh_token_reused"
    # The whole session ended: the legitimate holder's new tokens stop working too.
    assert client.get("/api/v1/me", headers=new_access).status_code == 401
    second_refresh = {"Authorization": f"Bearer {rotated.json['refresh_token']}"}
    assert client.post("/api/v1/auth/refresh", headers=second_refresh).status_code == 401


def test_an_expired_session_is_refused_even_with_a_fresh_access_token(app, client, coach_api):
    with app.app_context():
        db.session.execute(sa.update(AuthSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert coach_api.get("/api/v1/me").status_code == 401
