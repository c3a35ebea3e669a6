"""Partner system keys: issued once and kept as digests, scoped, revocable, rate-limited, audited; the partner's
HSDS read and FHIR pull (each pull re-checks consent and is a disclosure)."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.consent.models import Disclosure
from backend.database import db
from backend.partner_access.models import PartnerKey
from tests.consent.test_consent import consent_body
from tests.handoffs.test_fhir import create_handoff
from tests.handoffs.test_fhir_validation import assert_valid_r4
from tests.handoffs.test_handoffs import setup_handoff


def issue(admin_api, name="Northside EHR", scopes=("hsds:read", "fhir:handoffs"), organization_id=None) -> dict:
    response = admin_api.post("/api/v1/partner-keys", json={"name": name, "scopes": list(scopes),
                                                            "organization_id": organization_id})
    assert response.status_code == 201, response.json
    return response.json


def as_key(client, token, method="get", header="X-Api-Key", **kw):
    value = token if header == "X-Api-Key" else f"Bearer {token}"
    return getattr(client, method)(kw.pop("path"), headers={header: value}, **kw)


@pytest.fixture
def handed_off(coach_api, supervisor_api, factory, coach):
    """A handoff to Northside Health under a consent naming it."""
    patient, org_id, service_id = setup_handoff(coach_api, supervisor_api, factory, coach)
    return {"patient": patient, "org": org_id, "service": service_id,
            "handoff": create_handoff(coach_api, patient, service_id)}


def audit_rows(app, **where):
    with app.app_context():
        stmt = sa.select(AuditEvent).order_by(AuditEvent.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, name) == value)
        return list(db.session.scalars(stmt))


def test_the_secret_is_shown_once_and_only_its_digest_is_stored(app, admin_api, handed_off):
    issued = issue(admin_api, organization_id=handed_off["org"])
    token = issued["key"]
    assert token.startswith(issued["prefix"] + "_") and issued["prefix"].startswith("blk_")
    assert issued["scopes"] == ["fhir:handoffs", "hsds:read"] and issued["active"]
    with app.app_context():
        stored = db.session.get(PartnerKey, issued["id"])
        assert stored.digest == hashlib.sha256(token.encode()).hexdigest()
        row = db.session.execute(sa.text("SELECT * FROM partner_keys")).mappings().one()
        assert not any(token in str(value) or token.split("_")[-1] in str(value) for value in row.values())
    listed = admin_api.get("/api/v1/partner-keys")
    assert listed.status_code == 200 and [k["id"] for k in listed.json] == [issued["id"]]
    assert "key" not in listed.json[0] and token not in listed.get_data(as_text=True)
    (created,) = audit_rows(app, action="create", resource="partner_key")
    assert created.user_id == admin_api.user.id and token not in str(created.details)


def test_only_admins_issue_and_the_fhir_scope_needs_an_organisation(admin_api, supervisor_api, handed_off):
    body = {"name": "Northside EHR", "scopes": ["hsds:read"]}
    assert supervisor_api.post("/api/v1/partner-keys", json=body).status_code == 403
    assert supervisor_api.get("/api/v1/partner-keys").status_code == 403
    refused = admin_api.post("/api/v1/partner-keys", json={**body, "scopes": ["fhir:handoffs"]})
    assert refused.status_code == 422 and "organization_id" in refused.json["errors"]
    unknown = admin_api.post("/api/v1/partner-keys", json={**body, "scopes": ["everything"]})
    assert unknown.status_code == 422


def test_hsds_read_with_a_key_is_scoped_to_its_programme(client, admin_api, handed_off, factory):
    token = issue(admin_api, scopes=("hsds:read",))["key"]
    services = as_key(client, token, path="/hsds/services")
    assert services.status_code == 200 and [s["name"] for s in services.json["contents"]] == ["Northside Intake"]
    by_bearer = as_key(client, token, header="Authorization", path=f"/hsds/services/{handed_off['service']}")
    assert by_bearer.status_code == 200 and by_bearer.json["id"] == handed_off["service"]
    orgs = as_key(client, token, path="/hsds/organizations")
    assert orgs.status_code == 200 and orgs.json["total_items"] == 1
    assert as_key(client, token, path=f"/hsds/organizations/{handed_off['org']}").status_code == 200
    # Another programme's catalogue is not there for this key.
    other = factory.program("Elsewhere")
    with client.application.app_context():
        from backend.partners.models import Organization

        elsewhere = Organization(program_id=other.id, name="Elsewhere Clinic")
        db.session.add(elsewhere)
        db.session.commit()
        elsewhere_id = elsewhere.id
    assert as_key(client, token, path=f"/hsds/organizations/{elsewhere_id}").status_code == 404
    # An hsds-only key pulls no handoffs.
    refused = as_key(client, token, path="/api/v1/partner/handoffs")
    assert refused.status_code == 403 and refused.json["error"] == "scope_missing"


def test_fhir_pull_rechecks_consent_and_records_a_disclosure(app, client, admin_api, coach_api, handed_off):
    issued = issue(admin_api, scopes=("fhir:handoffs",), organization_id=handed_off["org"])
    token, hid = issued["key"], handed_off["handoff"]
    listed = as_key(client, token, path="/api/v1/partner/handoffs")
    assert listed.status_code == 200 and [h["id"] for h in listed.json] == [hid]
    assert "patient_id" not in listed.json[0] and "X-Pagination" in listed.headers
    pulled = as_key(client, token, header="Authorization", path=f"/api/v1/partner/handoffs/{hid}/fhir")
    assert pulled.status_code == 200 and pulled.mimetype == "application/fhir+json"
    assert_valid_r4(pulled.json)
    with app.app_context():
        disclosures = list(db.session.scalars(sa.select(Disclosure).where(
            Disclosure.channel.startswith(f"partner api key #{issued['id']}"))))
        assert len(disclosures) == 1 and disclosures[0].disclosed_by_id is None
        assert disclosures[0].recipient_organization_id == handed_off["org"]
    (disclosed,) = [row for row in audit_rows(app, action="disclose") if "partner api key" in row.details["channel"]]
    assert disclosed.program_id is not None and disclosed.user_id is None
    (exported,) = audit_rows(app, action="export", resource="handoff", outcome="success")
    assert exported.details["partner_key_id"] == issued["id"] and exported.patient_id == handed_off["patient"].id

    # The patient revokes: the next pull is refused, and nothing more is disclosed.
    consents = coach_api.get(f"/api/v1/patients/{handed_off['patient'].id}/consents").json
    for consent in consents:
        assert coach_api.post(f"/api/v1/consents/{consent['id']}/revoke").status_code == 200
    refused = as_key(client, token, path=f"/api/v1/partner/handoffs/{hid}/fhir")
    assert refused.status_code == 409 and refused.json["error"] == "consent_required"
    assert as_key(client, token, path="/api/v1/partner/handoffs").json == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Disclosure).where(
            Disclosure.channel.startswith("partner api key"))) == 1
    # A new consent covers it again.
    coach_api.post(f"/api/v1/patients/{handed_off['patient'].id}/consents", json=consent_body(handed_off["org"]))
    assert as_key(client, token, path=f"/api/v1/partner/handoffs/{hid}/fhir").status_code == 200


def test_another_organisations_handoff_is_not_found(client, admin_api, supervisor_api, handed_off):
    other = supervisor_api.post("/api/v1/partners", json={"name": "Harbor Recovery", "description": "Partner"}).json
    token = issue(admin_api, scopes=("fhir:handoffs",), organization_id=other["id"])["key"]
    assert as_key(client, token, path="/api/v1/partner/handoffs").json == []
    missing = as_key(client, token, path=f"/api/v1/partner/handoffs/{handed_off['handoff']}/fhir")
    assert missing.status_code == 404 and missing.json["error"] == "not_found"


def test_revoked_or_unknown_keys_are_refused_and_audited(app, client, admin_api, handed_off):
    issued = issue(admin_api, organization_id=handed_off["org"])
    revoked = admin_api.post(f"/api/v1/partner-keys/{issued['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json["revoked_at"] and not revoked.json["active"]
    again = admin_api.post(f"/api/v1/partner-keys/{issued['id']}/revoke")
    assert again.status_code == 409 and again.json["error"] == "already_revoked"
    refused = as_key(client, issued["key"], path="/api/v1/partner/handoffs")
    assert refused.status_code == 401 and refused.json["error"] == "api_key_revoked"
    forged = as_key(client, issued["prefix"] + "_" + "x" * 43, path="/hsds/services")
    assert forged.status_code == 401 and forged.json["error"] == "api_key_invalid"
    rows = audit_rows(app, action="access", resource="partner_api")
    assert [(r.outcome, r.resource_id, r.user_id) for r in rows] == [
        ("api_key_revoked", str(issued["id"]), None), ("api_key_invalid", None, None)]
    assert audit_rows(app, action="revoke", resource="partner_key")[0].user_id == admin_api.user.id


def test_keys_and_staff_tokens_stay_on_their_own_endpoints(client, admin_api, coach_api, handed_off):
    token = issue(admin_api, organization_id=handed_off["org"])["key"]
    for header in ("X-Api-Key", "Authorization"):
        refused = as_key(client, token, header=header, path=f"/api/v1/patients/{handed_off['patient'].id}")
        assert refused.status_code == 401 and refused.json["error"] == "api_key_not_accepted"
    staff = coach_api.get("/api/v1/partner/handoffs")
    assert staff.status_code == 401 and staff.json["error"] == "api_key_required"
    assert client.get("/api/v1/partner/handoffs").status_code == 401
    # Staff keep reading the HSDS API with their login, as before.
    assert coach_api.get("/hsds/services").status_code == 200


def test_each_key_is_rate_limited_and_every_use_audited(app, client, admin_api, handed_off):
    app.config["PARTNER_KEY_RATE_LIMIT"] = "3 per minute"
    first = issue(admin_api, scopes=("hsds:read",))
    second = issue(admin_api, name="Second system", scopes=("hsds:read",))
    for _ in range(3):
        assert as_key(client, first["key"], path="/hsds/services").status_code == 200
    limited = as_key(client, first["key"], path="/hsds/services")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert as_key(client, second["key"], path="/hsds/services").status_code == 200  # its own budget
    rows = audit_rows(app, action="access", resource="partner_api")
    assert [r.outcome for r in rows] == ["success"] * 3 + ["rate_limited", "success"]
    assert {r.details["partner_key_id"] for r in rows} == {first["id"], second["id"]}
    assert all(r.details["route"] == "/hsds/services" and r.program_id is not None for r in rows)
    with app.app_context():
        assert db.session.get(PartnerKey, first["id"]).last_used_at is not None
