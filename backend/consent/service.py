"""Consent rules: record and revoke consents, check coverage, account for every disclosure."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.errors import ConflictError, field_error, not_found
from backend.consent.models import Consent, Disclosure
from backend.database import db, utcnow
from backend.partners.models import Organization
from backend.patients.access import get_patient_for
from backend.users.models import User

ACCOUNTING_PERIOD = timedelta(days=3 * 365)


def record_consent(actor: User, patient_id: int, data: dict) -> Consent:
    """Record a signed consent (every §2.31 element was checked by the schema)."""
    patient = get_patient_for(actor, patient_id)
    org_id = data.get("recipient_organization_id")
    if org_id is not None:
        org = db.session.get(Organization, org_id)
        if org is None or org.program_id != actor.program_id:
            raise field_error("recipient_organization_id", "Not a partner of your programme.")
    now = utcnow()
    if data["signed_at"] > now + timedelta(minutes=5):
        raise field_error("signed_at", "Cannot be in the future.")
    if data.get("expires_at") is not None and data["expires_at"] <= data["signed_at"]:
        raise field_error("expires_at", "Must be after the signature.")
    consent = Consent(program_id=patient.program_id, patient_id=patient.id, created_by_id=actor.id, **data)
    db.session.add(consent)
    db.session.flush()
    audit.record("create", "consent", actor=actor, patient_id=patient.id, resource_id=consent.id)
    return consent


def list_consents(actor: User, patient_id: int) -> list[Consent]:
    patient = get_patient_for(actor, patient_id)
    audit.record("list", "consent", actor=actor, patient_id=patient.id)
    return list(db.session.scalars(sa.select(Consent).where(Consent.patient_id == patient.id)
                                   .order_by(Consent.signed_at.desc(), Consent.id.desc())))


def revoke_consent(actor: User, consent_id: int) -> Consent:
    """The patient revoked: no disclosure may rely on it from now on."""
    consent = db.session.get(Consent, consent_id)
    if consent is None:
        raise not_found("consent")
    get_patient_for(actor, consent.patient_id)  # 404 outside the caller's scope
    if consent.revoked_at is not None:
        raise ConflictError("already_revoked", "This consent was already revoked.")
    consent.revoked_at, consent.revoked_by_id = utcnow(), actor.id
    audit.record("revoke", "consent", actor=actor, patient_id=consent.patient_id, resource_id=consent.id)
    return consent


def consent_covering(patient_id: int, organization_id: str) -> Consent | None:
    """The newest active, unexpired consent naming this partner."""
    now = utcnow()
    for consent in db.session.scalars(
            sa.select(Consent).where(Consent.patient_id == patient_id,
                                     Consent.recipient_organization_id == organization_id,
                                     Consent.revoked_at.is_(None)).order_by(Consent.signed_at.desc())):
        if consent.is_active(now):
            return consent
    return None


def require_cover(patient_id: int, organization_id: str) -> Consent:
    """The consent that lets us disclose this patient's information to this partner now; 409 without one.

    The one Part 2 check for every disclosure to a partner: a handoff, its FHIR export, a confirmation link,
    (later) a partner joining a call.
    """
    consent = consent_covering(patient_id, organization_id)
    if consent is None:
        raise ConflictError("consent_required",
                            "Record the patient's consent to share with this partner first (42 CFR Part 2).",
                            extra={"organization_id": organization_id})
    return consent


def record_disclosure(actor: User | None, consent: Consent, information: str, channel: str) -> Disclosure:
    """Account for a release of patient information to the consent's recipient."""
    disclosure = Disclosure(program_id=consent.program_id, patient_id=consent.patient_id, consent_id=consent.id,
                            recipient_organization_id=consent.recipient_organization_id,
                            recipient_description=consent.recipient_description, information=information,
                            purpose=consent.purpose, channel=channel, disclosed_by_id=actor.id if actor else None)
    db.session.add(disclosure)
    db.session.flush()
    audit.record("disclose", "patient", actor=actor, patient_id=consent.patient_id, resource_id=disclosure.id,
                 details={"consent_id": consent.id, "channel": channel}, program_id=consent.program_id)
    return disclosure


def accounting_of_disclosures(actor: User, patient_id: int) -> sa.Select:
    """Every disclosure of the last three years, newest first."""
    patient = get_patient_for(actor, patient_id)
    audit.record("list", "disclosure", actor=actor, patient_id=patient.id)
    return (sa.select(Disclosure).where(Disclosure.patient_id == patient.id,
                                        Disclosure.disclosed_at >= utcnow() - ACCOUNTING_PERIOD)
            .order_by(Disclosure.disclosed_at.desc(), Disclosure.id.desc()))


def accounting_report(actor: User, patient_id: int) -> dict:
    """The accounting of disclosures as a printable page shows it: the patient and, for each disclosure, the
    recipient organisation's and the discloser's names (one audit row, written by accounting_of_disclosures)."""
    stmt = accounting_of_disclosures(actor, patient_id)
    patient = get_patient_for(actor, patient_id)
    rows = db.session.execute(
        stmt.add_columns(Organization.name, User.full_name)
        .outerjoin(Organization, Organization.id == Disclosure.recipient_organization_id)
        .outerjoin(User, User.id == Disclosure.disclosed_by_id)).all()
    return {"patient": patient, "since": utcnow() - ACCOUNTING_PERIOD,
            "disclosures": [{"disclosure": disclosure, "recipient": organization or disclosure.recipient_description,
                             "disclosed_by": discloser} for disclosure, organization, discloser in rows]}
