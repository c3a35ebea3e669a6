"""Request ids, one access-log line per request, security headers.

The access log names the route pattern, never the path's query string or a
body: a search for a name or phone number must not end up in the logs.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
access_log = logging.getLogger("bridgeline.access")


class RequestIdFilter(logging.Filter):
    """Adds the current request id (or "-") to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        from flask import has_request_context

        record.request_id = getattr(g, "request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(level: str) -> None:
    """Plain line logs with the request id; werkzeug's own lines (full URLs) are silenced."""
    root = logging.getLogger()
    if not any(isinstance(f, RequestIdFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # "Running job ..." every 2 s buries what matters


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
ADMIN_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"


def init_request_logging(app: Flask) -> None:
    """Install the request id, access log and header hooks."""

    @app.before_request
    def _start():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        response.headers["X-Request-ID"] = g.get("request_id", "-")
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path.startswith(("/api/v1/", "/admin", "/partner")):
            # Patient data must not linger in shared or browser caches.
            response.headers.setdefault("Cache-Control", "no-store")
        if request.path.startswith(("/admin", "/partner")):
            response.headers.setdefault("Content-Security-Policy", ADMIN_CSP)
        if app.config["BRIDGELINE_ENV"] == "production":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        duration_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        access_log.info("method=%s route=%s status=%s duration_ms=%.1f client=%s",
                        request.method, route, response.status_code, duration_ms, request.remote_addr or "-")
        return response
