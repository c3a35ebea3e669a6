"""Partner system access over HTTP: the admins' key endpoints, the partner's endpoints, and the key check.

Who may call what:
- `/api/v1/partner-keys...`: staff tokens (admins) only, like every staff endpoint.
- `/api/v1/partner/...`: partner API keys only (`X-Api-Key: blk_...` or `Authorization: Bearer blk_...`);
  a staff token there is 401 `api_key_required`.
- `/hsds...`: a key with `hsds:read` (scoped to the key's programme), or a staff token as before.
- Anywhere else a key is 401 `api_key_not_accepted`.
Every request that presents a key is audited (actor none, the key's id in the details), refusals included; each
key has its own rate limit (PARTNER_KEY_RATE_LIMIT, default 120 per minute).
"""

from __future__ import annotations

import functools
import logging
import math
import time

from flask import Flask, current_app, g, jsonify, request
from flask.views import MethodView
from flask_jwt_extended import current_user
from limits import parse

from backend.api.actions import api_action
from backend.common.errors import RateLimitedError, UnauthenticatedError
from backend.common.pagination import page_of, pagination_header
from backend.common.schemas import ApiBlueprint, PageQuerySchema
from backend.common.unit_of_work import after_rollback, transaction
from backend.extensions import limiter
from backend.partner_access import service
from backend.partner_access.schemas import (
    IssuedPartnerKeySchema,
    PartnerHandoffQuerySchema,
    PartnerHandoffSchema,
    PartnerKeyCreateSchema,
    PartnerKeySchema,
)

log = logging.getLogger("bridgeline.partner_access")

blp = ApiBlueprint("partner_keys", __name__, url_prefix="/api/v1/partner-keys",
                   description="Partner system keys (admins): issue, list, revoke")
partner_blp = ApiBlueprint("partner", __name__, url_prefix="/api/v1/partner",
                           description="For partner systems, with a partner API key: the handoffs addressed to the "
                                       "partner, as FHIR R4 bundles")

KEY_ONLY_PREFIX = "/api/v1/partner/"
DEFAULT_RATE_LIMIT = "120 per minute"
RATE_NAMESPACE = "partner-key"
FHIR_RESPONSE = {"responses": {"200": {
    "description": "A FHIR R4 Bundle: Task, ServiceRequest, Consent (IDSCL), Patient, Organizations",
    "content": {"application/fhir+json": {"schema": {"type": "object", "description": "FHIR R4 Bundle"}}}}}}


# -- the key check (called by the app before the staff token check) --------------------------------------------------

def presented_key() -> str | None:
    """The partner key the request carries: `X-Api-Key`, or a bearer token that starts with `blk_`."""
    header = request.headers.get("X-Api-Key")
    if header:
        return header.strip()
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and service.looks_like_key(value) else None


def _is_hsds(path: str) -> bool:
    return path == "/hsds" or path.startswith("/hsds/")


def authenticate_request() -> bool:
    """True when a partner key authenticated this request (the staff token check is then skipped); raises the
    refusal (401, 403, 429) when a key is wrong here; False when the request is for the staff token check."""
    token = presented_key()
    path = request.path
    if token is None:
        if path.startswith(KEY_ONLY_PREFIX):
            raise UnauthenticatedError("api_key_required", "This endpoint takes a partner API key (X-Api-Key).")
        return False
    g.partner_key_presented = True
    if not (path.startswith(KEY_ONLY_PREFIX) or _is_hsds(path)):
        g.partner_key_seen = service.find_key(token)
        raise UnauthenticatedError("api_key_not_accepted",
                                   "A partner API key opens only /hsds and /api/v1/partner.")
    g.partner_key_seen = service.find_key(token)
    key = service.require_live(g.partner_key_seen)
    service.require_scope(key, service.HSDS_READ if _is_hsds(path) else service.FHIR_HANDOFFS)
    _rate_limit(key)
    g.partner_key = key
    return True


def _rate_limit(key) -> None:
    limit = parse(current_app.config.get("PARTNER_KEY_RATE_LIMIT", DEFAULT_RATE_LIMIT))
    try:
        allowed = limiter.limiter.hit(limit, RATE_NAMESPACE, key.lookup)
        reset_at = None if allowed else limiter.limiter.get_window_stats(limit, RATE_NAMESPACE, key.lookup)[0]
    except Exception:  # noqa: BLE001 - a limiter outage must not take the partner API down
        log.warning("partner key rate limit unavailable", exc_info=True)
        return
    if not allowed:
        raise RateLimitedError("rate_limited", f"Too many requests with this API key ({limit}). Slow down.",
                               retry_after=max(1, math.ceil(reset_at - time.time())))


def _audit_key_use(response):
    """One audit row for each request that presented a key, whatever its outcome (written after the work)."""
    if not g.get("partner_key_presented"):
        return response
    key = g.get("partner_key_seen")
    if response.status_code < 400:
        outcome = "success"
    else:
        body = response.get_json(silent=True) if response.is_json else None
        outcome = (body or {}).get("error") or str(response.status_code)
    route = request.url_rule.rule if request.url_rule else request.path
    try:  # the work committed already (or was refused and undone): the row stands in its own transaction
        after_rollback(lambda: service.record_use(key, route=route, method=request.method,
                                                  status=response.status_code, outcome=outcome[:40]))
    except Exception:  # noqa: BLE001 - the answer stands even if its audit row cannot be written
        log.exception("could not audit a partner key's use")
    return response


def init_partner_access(app: Flask) -> None:
    app.after_request(_audit_key_use)


def partner_action(view):
    """The partner endpoints' unit of work: commit on success; roll back a refusal (audited after the request)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        with transaction():
            return view(*args, **kwargs)

    return wrapper


# -- the admins' endpoints -------------------------------------------------------------------------------------------

@blp.route("")
class PartnerKeys(MethodView):
    @api_action("list", "partner_key")
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, PartnerKeySchema(many=True))
    def get(self, query):
        """The programme's partner keys, newest first (admins); never a secret."""
        items, total = page_of(service.list_keys(current_user), query["page"], query["page_size"])
        service.audit_list(current_user, len(items))
        return items, 200, pagination_header(total, query["page"], query["page_size"])

    @api_action("create", "partner_key")
    @blp.arguments(PartnerKeyCreateSchema)
    @blp.response(201, IssuedPartnerKeySchema)
    def post(self, data):
        """Issue a key (admins): the answer carries the secret `key` this once; only its digest is kept.

        `fhir:handoffs` needs `organization_id`: the key pulls only the handoffs addressed to that partner.
        """
        key, token = service.issue_key(current_user, data)
        key.key = token  # this answer only: never stored
        return key, 201, {"Cache-Control": "no-store"}


@blp.route("/<int:partner_key_id>/revoke")
class PartnerKeyRevoke(MethodView):
    @api_action("revoke", "partner_key")
    @blp.response(200, PartnerKeySchema)
    @blp.alt_response(409, description="already_revoked")
    def post(self, partner_key_id):
        """Revoke a key (admins): it stops working at once."""
        return service.revoke_key(current_user, partner_key_id)


# -- the partner's endpoints (a partner API key with fhir:handoffs) --------------------------------------------------

@partner_blp.route("/handoffs")
class PartnerHandoffs(MethodView):
    @partner_action
    @partner_blp.arguments(PartnerHandoffQuerySchema, location="query")
    @partner_blp.response(200, PartnerHandoffSchema(many=True))
    def get(self, query):
        """The handoffs addressed to your organisation that a consent covers now, newest first (no patient
        identity here: pull the FHIR bundle)."""
        items, total = service.partner_handoffs(g.partner_key, query["page"], query["page_size"])
        return items, 200, pagination_header(total, query["page"], query["page_size"])


@partner_blp.route("/handoffs/<int:handoff_id>/fhir")
class PartnerHandoffFhir(MethodView):
    @partner_action
    @partner_blp.response(200)
    @partner_blp.doc(**FHIR_RESPONSE)
    @partner_blp.alt_response(409, description="consent_required: no consent covers your organisation now")
    def get(self, handoff_id):
        """One handoff addressed to your organisation as FHIR R4, recorded as a disclosure (42 CFR Part 2).

        Each pull re-checks that a consent covers your organisation at that moment: 409 `consent_required`
        without one. A handoff addressed to anyone else is 404."""
        response = jsonify(service.partner_bundle(g.partner_key, handoff_id))
        response.mimetype = "application/fhir+json"
        return response
