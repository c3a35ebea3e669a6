"""Configuration from environment variables, with embedded defaults."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-do-not-deploy"  # noqa: S105 - refused in production


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe for the chosen environment."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# Twilio's default opt-out, opt-in and help keywords (answered by Twilio unless the number turns them off).
TWILIO_DEFAULT_KEYWORDS = "STOP,STOPALL,UNSUBSCRIBE,CANCEL,END,QUIT,REVOKE,OPTOUT,START,YES,UNSTOP,HELP,INFO"


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the Flask config from the environment and explicit overrides."""
    env = os.environ
    overrides = dict(overrides or {})
    sqlite_default = "sqlite:///" + str(Path(instance_path) / "bridgeline.sqlite3")
    database_url = env.get("DATABASE_URL")
    config = {
        "BRIDGELINE_ENV": env.get("BRIDGELINE_ENV", "development"),
        "SECRET_KEY": env.get("SECRET_KEY") or DEFAULT_SECRET_KEY,
        "DATABASE_URL_SET": bool(database_url),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url or sqlite_default),
        "REDIS_URL": env.get("REDIS_URL") or None,
        # The embedded default follows PORT, so the links the product sends point at the server that runs.
        "PUBLIC_BASE_URL": (env.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{env.get('PORT') or 5000}").rstrip("/"),
        "PHONE_DEFAULT_REGION": env.get("PHONE_DEFAULT_REGION", "US"),
        # Keywords Twilio's own opt-out handling answers (its defaults); the product answers the others.
        "TWILIO_HANDLED_KEYWORDS": frozenset(
            w.strip().upper() for w in env.get("TWILIO_HANDLED_KEYWORDS", TWILIO_DEFAULT_KEYWORDS).split(",")
            if w.strip()),
        "PROXY_FIX_X_FOR": int(env.get("PROXY_FIX_X_FOR", "0")),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        # Limits and sessions
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(minutes=15),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(days=14),
        "JWT_TOKEN_LOCATION": ["headers"],
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=30),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE")),
        "REMEMBER_COOKIE_DURATION": timedelta(seconds=0),
        "LOGIN_FAILURES_PER_ACCOUNT": env.get("LOGIN_FAILURES_PER_ACCOUNT", "5 per 15 minutes"),
        "LOGIN_FAILURES_PER_ACCOUNT_ANYWHERE": env.get("LOGIN_FAILURES_PER_ACCOUNT_ANYWHERE", "50 per 15 minutes"),
        "LOGIN_ATTEMPTS_PER_ADDRESS": env.get("LOGIN_ATTEMPTS_PER_ADDRESS", "20 per minute"),
        "RATELIMIT_STRATEGY": "moving-window",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Redis down: limits are counted per process meanwhile (with a warning), never an error for the user.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        "RATELIMIT_KEY_PREFIX": env.get("RATELIMIT_KEY_PREFIX", "bridgeline"),
        "IDEMPOTENCY_KEY_TTL": timedelta(hours=24),
        # The database role the app connects as in production; `flask db upgrade` (run as the owner) grants it
        # INSERT and SELECT only on the audit trail.
        "APP_DB_ROLE": env.get("BRIDGELINE_APP_ROLE") or None,
        # Seals the audit trail (held outside the database; without it a key is derived from SECRET_KEY).
        "AUDIT_SEAL_KEY": env.get("AUDIT_SEAL_KEY") or None,
        # Catalogue searches are cached until the catalogue changes, at most this long (0 turns caching off).
        "CATALOGUE_CACHE_SECONDS": int(env.get("CATALOGUE_CACHE_SECONDS", "30")),
        "CACHE_KEY_PREFIX": "bridgeline:cache:",
        # SMS (Twilio). Without an account SID and token the console gateway is used.
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID") or None,
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN") or None,
        "TWILIO_FROM_NUMBER": env.get("TWILIO_FROM_NUMBER") or None,
        "TWILIO_MESSAGING_SERVICE_SID": env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
        "TWILIO_API_BASE_URL": env.get("TWILIO_API_BASE_URL") or None,  # None: Twilio itself
        "SMS_RATE_PER_SECOND": float(env.get("SMS_RATE_PER_SECOND", "1")),
        "SMS_SEND_LEASE": timedelta(seconds=int(env.get("SMS_SEND_LEASE_SECONDS", "300"))),
        # OpenAPI
        "API_TITLE": "Bridgeline API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "v1/openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/static/",
        "API_SPEC_OPTIONS": {
            "info": {"description": (
                "The JSON API behind the coaches' app. To try it here: `POST /api/v1/auth/login` with a demo "
                "login (the example body: `coach1@demo.test` / `bridgeline-demo`), copy `access_token` from the "
                "answer, press **Authorize** and paste it (no `Bearer ` prefix). Access tokens last 15 minutes; "
                "`POST /api/v1/auth/refresh` with the refresh token gives a new pair. Errors are "
                "`{error, message, errors}`; lists are arrays with totals in `X-Pagination`.")},
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
            "security": [{"bearerAuth": []}],
        },
        "WTF_CSRF_TIME_LIMIT": 3600,
        "WTF_CSRF_CHECK_DEFAULT": False,  # the admin panel protects its own forms
        "SQLALCHEMY_RECORD_QUERIES": False,
    }
    config.update(overrides)
    if "SQLALCHEMY_DATABASE_URI" in overrides:
        config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(overrides["SQLALCHEMY_DATABASE_URI"])
        config["DATABASE_URL_SET"] = True
    config["RATELIMIT_STORAGE_URI"] = config.get("RATELIMIT_STORAGE_URI") or (
        config["REDIS_URL"] or "memory://"
    )
    config["JWT_SECRET_KEY"] = config.get("JWT_SECRET_KEY") or config["SECRET_KEY"]
    check_production_safety(config)
    return config


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def check_production_safety(config: dict) -> None:
    """Refuse to start production with a default secret or the embedded database."""
    if config["BRIDGELINE_ENV"] != "production":
        return
    secret = config.get("SECRET_KEY") or ""
    if secret == DEFAULT_SECRET_KEY or len(secret) < 32:
        raise ConfigError("SECRET_KEY must be set to a random value of 32+ characters in production")
    if not config.get("DATABASE_URL_SET"):
        raise ConfigError("DATABASE_URL must be set in production")
    config["SESSION_COOKIE_SECURE"] = True
