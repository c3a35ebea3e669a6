"""Bridgeline: backend for hospital peer recovery coach programmes."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, request, send_from_directory
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from backend.api.openapi import JsonErrorApi
from backend.common.errors import ForbiddenError
from backend.config import load_config
from backend.errors import ApiError, register_error_handlers
from backend.extensions import csrf, db, jwt, limiter, login_manager, migrate
from backend.observability import configure_logging, init_request_logging
from backend.twilio.gateway import init_gateway

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# All a temporary password (after an admin's reset) may do: choose a new one, see who it is, or log out.
PASSWORD_CHANGE_PATHS = {"/api/v1/me/password", "/api/v1/me", "/api/v1/auth/logout"}
PUBLIC_API_PATHS = {"/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout",
                    "/api/v1/openapi.json"}
# The admin panel is a separate package that imports backend; backend only
# names it here, by dotted path, so the dependency points one way.
DEFAULT_UI_BLUEPRINTS = ("admin:blueprint",)


def create_app(config_overrides: dict | None = None) -> Flask:
    """Build the Flask application."""
    app = Flask(__name__, instance_path=str(PROJECT_ROOT / "instance"))
    # An id no 32-bit column can hold is no record of ours: the route does not match, 404 (not a database error).
    app.url_map.converters["int"] = RecordIdConverter
    app.config.update(load_config(app.instance_path, config_overrides))
    os.makedirs(app.instance_path, exist_ok=True)
    configure_logging(app.config["LOG_LEVEL"])
    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"], x_proto=1)

    init_request_logging(app)  # first, so every request (even a refused one) has its id and log line
    _init_extensions(app)
    _register_api(app)
    register_error_handlers(app)

    from backend import cli, health
    from backend.handoffs import partner_pages
    from backend.messaging import webhooks
    from backend.voice import webhooks as voice_webhooks

    app.register_blueprint(health.blp)
    app.register_blueprint(webhooks.blueprint)
    app.register_blueprint(voice_webhooks.blueprint)
    app.register_blueprint(partner_pages.blueprint)
    cli.register(app)
    for dotted in app.config.get("UI_BLUEPRINTS", DEFAULT_UI_BLUEPRINTS):
        module, _, attr = dotted.partition(":")
        app.register_blueprint(getattr(importlib.import_module(module), attr))
    return app


class RecordIdConverter(IntegerConverter):
    """`<int:...>` in every route: 0 to 2^31 - 1, what the id columns hold."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def _init_extensions(app: Flask) -> None:
    from backend.auth.tokens import init_jwt
    from backend.partners.catalogue_cache import init_catalogue_cache

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Writers wait for the lock (caseload assignment takes it up front) instead of failing.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", _sqlite_pragmas)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    jwt.init_app(app)
    init_jwt(app)
    login_manager.init_app(app)
    init_gateway(app)
    csrf.init_app(app)
    limiter.init_app(app)
    if app.config["REDIS_URL"]:
        import redis
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry

        # A blocking pool: under a burst, threads wait briefly for a connection instead of failing. Two quick
        # retries, not the client's default of seconds of backoff: Redis down must not slow every request.
        pool = redis.BlockingConnectionPool.from_url(app.config["REDIS_URL"], max_connections=64, timeout=5,
                                                     socket_timeout=2, socket_connect_timeout=2,
                                                     retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2))
        app.extensions["bridgeline_redis"] = redis.Redis(connection_pool=pool)
        # Cached catalogue answers live in Redis too, so every worker shares them (same pool and timeouts).
        app.config.setdefault("CACHE_TYPE", "RedisCache")
        app.config.setdefault("CACHE_REDIS_HOST", app.extensions["bridgeline_redis"])
    app.config.setdefault("CACHE_TYPE", "SimpleCache")  # without Redis, each process keeps its own
    init_catalogue_cache(app)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a commit no longer waits for fsync
    cursor.close()


def _register_api(app: Flask) -> None:
    from backend.audit import service as audit
    from backend.audit.api import blp as audit_blp
    from backend.auth.api import blp as auth_blp
    from backend.caseload.api import blp as caseload_blp
    from backend.common.unit_of_work import after_rollback
    from backend.consent.api import blp as consent_blp
    from backend.contacts.api import blp as contacts_blp
    from backend.handoffs.api import blp as handoffs_blp
    from backend.messaging.api import blp as messaging_blp
    from backend.partner_access import api as partner_access_api
    from backend.partners.api import blp as partners_blp
    from backend.partners.hsds_api import blp as hsds_blp
    from backend.partners.hsds_api import public_blp as hsds_public_blp
    from backend.patients.api import blp as patients_blp
    from backend.reports.api import blp as reports_blp
    from backend.shifts.api import blp as shifts_blp
    from backend.tasks.api import blp as tasks_blp
    from backend.timeline.api import blp as timeline_blp
    from backend.users.api import blp as users_blp
    from backend.voice.api import blp as voice_blp
    from backend.wellness.api import blp as wellness_blp

    api = JsonErrorApi(app)  # one per app: its OpenAPI spec registers each schema once
    for blp in (auth_blp, users_blp, patients_blp, contacts_blp, tasks_blp, timeline_blp, audit_blp,
                caseload_blp, shifts_blp, wellness_blp, messaging_blp, partners_blp, hsds_blp, hsds_public_blp,
                consent_blp, handoffs_blp, reports_blp, voice_blp, partner_access_api.blp,
                partner_access_api.partner_blp):
        api.register_blueprint(blp)
    partner_access_api.init_partner_access(app)

    @app.get("/api/docs/static/<path:filename>")
    def swagger_ui_assets(filename):
        """Swagger UI served from the installed package, not a CDN."""
        import swagger_ui_bundle

        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    @app.before_request
    def _require_token():
        # Deny by default: every API path needs an access token unless listed as public.
        if request.path.startswith(("/api/v1/", "/hsds")) and request.path not in PUBLIC_API_PATHS:
            # A partner API key opens /hsds and /api/v1/partner only (refused anywhere else); staff tokens the rest.
            if partner_access_api.authenticate_request():
                return
            verify_jwt_in_request()
            if get_jwt().get("pwchange") and request.path not in PASSWORD_CHANGE_PATHS:
                raise ForbiddenError("password_change_required",
                                     "Choose a new password first (PUT /api/v1/me/password).")

    @app.after_request
    def _audit_refused_authentication(response):
        # Probing patient routes with stolen or forged tokens leaves a trail (with the client's address).
        if response.status_code == 401 and (request.path.startswith("/api/v1/patients")
                                            or "patient_id" in (request.view_args or {})):
            patient_ref = (request.view_args or {}).get("patient_id")
            try:
                after_rollback(lambda: audit.record(
                    "access", "patient", actor=None, outcome="unauthenticated",
                    resource_id=patient_ref, details={"route": request.url_rule.rule if request.url_rule else None}))
            except Exception:  # noqa: BLE001 - the refusal stands even if its audit row cannot be written
                app.logger.exception("could not audit a refused authentication")
        return response

    @app.before_request
    def _require_json_body():
        if (request.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH")
                and (request.content_length or request.headers.get("Transfer-Encoding"))
                and not request.is_json):
            raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")


__all__ = ["ApiError", "create_app"]
