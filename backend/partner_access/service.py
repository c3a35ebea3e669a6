"""Partner system keys: issue (the secret once), list, revoke; authenticate a key; the partner's FHIR pull.

A key is `blk_` + a 12-character look-up part + `_` + a 43-character random secret. Only the look-up part and the
SHA-256 digest of the whole key are stored (the secret has 256 bits of entropy, so a plain digest cannot be
reversed); a presented key is found by its look-up part and compared by digest in constant time.

Scopes: `hsds:read` (the programme's catalogue through the HSDS read API) and `fhir:handoffs` (the handoffs
addressed to the key's partner organisation, as FHIR bundles: each pull re-checks, at that moment, that a consent
covers that partner, and is recorded as a disclosure).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.errors import ConflictError, ForbiddenError, UnauthenticatedError, field_error, not_found
from backend.consent.service import consent_covering, record_disclosure, require_cover
from backend.database import db, utcnow
from backend.handoffs import fhir
from backend.handoffs.models import Handoff
from backend.partner_access.models import PartnerKey
from backend.partners.models import Organization
from backend.users.models import Role, User
from backend.users.service import require_role

HSDS_READ, FHIR_HANDOFFS = "hsds:read", "fhir:handoffs"
SCOPES = {HSDS_READ: "Read the programme's partner catalogue (HSDS 3.0 API)",
          FHIR_HANDOFFS: "Pull the handoffs addressed to the partner organisation as FHIR bundles"}
PREFIX, LOOKUP_CHARS = "blk_", 12
# last_used_at is written at most this often per key (each use has its own audit row anyway).
LAST_USED_RESOLUTION = timedelta(minutes=1)
FHIR_INFORMATION = "Referral as FHIR: name, phone, service requested, appointment"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """(look-up part, whole key)."""
    lookup = secrets.token_hex(LOOKUP_CHARS // 2)
    return lookup, f"{PREFIX}{lookup}_{secrets.token_urlsafe(32)}"


def looks_like_key(value: str | None) -> bool:
    return bool(value) and value.startswith(PREFIX)


# -- the admin's side ------------------------------------------------------------------------------------------------

def issue_key(actor: User, data: dict) -> tuple[PartnerKey, str]:
    """A new key for the programme (admins); returns it and its secret, which is never shown again."""
    require_role(actor, Role.ADMIN)
    scopes = sorted(set(data["scopes"]))
    org_id = data.get("organization_id")
    if org_id is not None:
        org = db.session.get(Organization, org_id)
        if org is None or org.program_id != actor.program_id:
            raise field_error("organization_id", "Not a partner of your programme.")
    if FHIR_HANDOFFS in scopes and org_id is None:
        raise field_error("organization_id", "A key that pulls handoffs must belong to one partner organisation.")
    lookup, token = new_token()
    key = PartnerKey(program_id=actor.program_id, organization_id=org_id, name=data["name"], lookup=lookup,
                     digest=digest(token), scopes=scopes, created_by_id=actor.id)
    db.session.add(key)
    db.session.flush()
    audit.record("create", "partner_key", actor=actor, resource_id=key.id,
                 details={"scopes": scopes, "organization_id": org_id})
    return key, token


def list_keys(actor: User) -> sa.Select:
    """The programme's keys, newest first (admins); no secret is ever listed."""
    require_role(actor, Role.ADMIN)
    return (sa.select(PartnerKey).where(PartnerKey.program_id == actor.program_id)
            .order_by(PartnerKey.created_at.desc(), PartnerKey.id.desc()))


def audit_list(actor: User, count: int) -> None:
    audit.record("list", "partner_key", actor=actor, details={"count": count})


def get_key(actor: User, key_id: int) -> PartnerKey:
    require_role(actor, Role.ADMIN)
    key = db.session.get(PartnerKey, key_id)
    if key is None or key.program_id != actor.program_id:
        raise not_found("partner key")
    return key


def revoke_key(actor: User, key_id: int) -> PartnerKey:
    """The key stops working at once, in every worker (each request checks the database)."""
    key = get_key(actor, key_id)
    if key.revoked_at is not None:
        raise ConflictError("already_revoked", "This key was already revoked.")
    key.revoked_at, key.revoked_by_id = utcnow(), actor.id
    audit.record("revoke", "partner_key", actor=actor, resource_id=key.id)
    return key


def organization_names(actor: User) -> dict[str, str]:
    """The programme's partner organisations by id (for the panel's select and list)."""
    return dict(db.session.execute(sa.select(Organization.id, Organization.name)
                                   .where(Organization.program_id == actor.program_id)
                                   .order_by(Organization.name)).all())


# -- the partner's side ----------------------------------------------------------------------------------------------

def find_key(token: str) -> PartnerKey | None:
    """The key this token is (revoked or not), or None for an unknown or malformed one."""
    if not looks_like_key(token) or len(token) > 200:
        return None
    lookup = token[len(PREFIX):len(PREFIX) + LOOKUP_CHARS]
    key = db.session.scalar(sa.select(PartnerKey).where(PartnerKey.lookup == lookup))
    if key is None or not hmac.compare_digest(key.digest, digest(token)):
        return None
    return key


def require_live(key: PartnerKey | None) -> PartnerKey:
    """The key found for a token, if it still works; 401 for an unknown or revoked one."""
    if key is None:
        raise UnauthenticatedError("api_key_invalid", "The API key is not valid.")
    if key.revoked_at is not None:
        raise UnauthenticatedError("api_key_revoked", "The API key was revoked. Ask the programme for a new one.")
    return key


def require_scope(key: PartnerKey, scope: str) -> None:
    if scope not in key.scopes:
        raise ForbiddenError("scope_missing", f"This API key does not have the {scope} scope.",
                             extra={"scope": scope})


def record_use(key: PartnerKey | None, *, route: str | None, method: str, status: int, outcome: str) -> None:
    """One audit row per request that presented a key (no actor: the key's id is in the details)."""
    now = utcnow()
    if key is not None and outcome == "success" and (
            key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION):
        db.session.execute(sa.update(PartnerKey).where(PartnerKey.id == key.id).values(last_used_at=now))
    audit.record("access", "partner_api", actor=None, program_id=key.program_id if key else None,
                 resource_id=key.id if key else None, outcome=outcome,
                 details={"partner_key_id": key.id if key else None, "route": route, "method": method,
                          "status": status})


def _addressed(key: PartnerKey) -> sa.Select:
    require_scope(key, FHIR_HANDOFFS)
    return sa.select(Handoff).where(Handoff.program_id == key.program_id,
                                    Handoff.organization_id == key.organization_id)


def partner_handoffs(key: PartnerKey, page: int, page_size: int) -> tuple[list[dict], int]:
    """The handoffs addressed to the key's organisation that a consent covers now, newest first.

    Only what a pull needs to be chosen: no name, phone or patient id (those come in the bundle, with the
    disclosure recorded). A handoff whose consent was revoked or expired is not listed.
    """
    covered = [handoff for handoff in db.session.scalars(
        _addressed(key).order_by(Handoff.created_at.desc(), Handoff.id.desc()))
        if consent_covering(handoff.patient_id, handoff.organization_id) is not None]
    chosen = covered[(page - 1) * page_size:page * page_size]
    return [{"id": h.id, "reference": h.reference, "kind": h.kind, "status": h.status, "service_id": h.service_id,
             "appointment_at": h.appointment_at, "created_at": h.created_at, "updated_at": h.updated_at,
             "fhir_url": f"/api/v1/partner/handoffs/{h.id}/fhir"} for h in chosen], len(covered)


def partner_bundle(key: PartnerKey, handoff_id: int) -> dict:
    """The FHIR bundle of a handoff addressed to the key's organisation: 404 for any other (nothing said of it),
    409 consent_required when no consent covers that partner now; each pull is recorded as a disclosure."""
    handoff = db.session.scalar(_addressed(key).where(Handoff.id == handoff_id))
    if handoff is None:
        raise not_found("handoff")
    consent = require_cover(handoff.patient_id, handoff.organization_id)
    bundle = fhir.bundle_for(handoff, consent)
    record_disclosure(None, consent, FHIR_INFORMATION,
                      channel=f"partner api key #{key.id} {handoff.reference}"[:40])
    audit.record("export", "handoff", actor=None, program_id=key.program_id, patient_id=handoff.patient_id,
                 resource_id=handoff.id, details={"partner_key_id": key.id, "consent_id": consent.id})
    return bundle
