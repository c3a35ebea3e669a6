"""Closing the loop without a partner login: a single-use link for the partner's point person."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from backend.audit import service as audit
from backend.common.errors import ConflictError
from backend.consent.service import record_disclosure, require_cover
from backend.database import db, utcnow
from backend.handoffs.models import OPEN_STATUSES, ConfirmationLink, FhirTaskStatus, Handoff
from backend.handoffs.service import get_handoff, move, record_partner_answer
from backend.partners.models import Service
from backend.patients.models import Patient
from backend.programs.models import Program
from backend.users.models import User

LINK_LIFETIME = timedelta(days=14)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(actor: User, handoff_id: int) -> dict:
    """A random link (only its digest is stored), valid 14 days, answerable once."""
    handoff = get_handoff(actor, handoff_id)
    if handoff.status not in OPEN_STATUSES:
        raise ConflictError("handoff_closed", f"The handoff is already {handoff.status}.")
    # The page shows the partner the patient's initials and appointment: a disclosure like any other.
    consent = require_cover(handoff.patient_id, handoff.organization_id)
    record_disclosure(actor, consent, "Confirmation link: initials, appointment time, referral reference",
                      channel=f"confirmation link {handoff.reference}")
    token = secrets.token_urlsafe(32)
    link = ConfirmationLink(handoff_id=handoff.id, token_hash=_digest(token), expires_at=utcnow() + LINK_LIFETIME,
                            created_by_id=actor.id)
    db.session.add(link)
    db.session.flush()
    audit.record("create", "confirmation_link", actor=actor, patient_id=handoff.patient_id, resource_id=handoff.id)
    return {"url": f"{current_app.config['PUBLIC_BASE_URL']}/partner/confirm/{token}", "expires_at": link.expires_at}


class TooEarlyError(Exception):
    """An answer before the appointment's time: refused, and the link stays usable."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class LinkUnusableError(Exception):
    """The link is unknown, expired or already used (with the HTTP status to answer)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _link(token: str, *, for_update: bool = False) -> tuple[ConfirmationLink, Handoff]:
    stmt = sa.select(ConfirmationLink).where(ConfirmationLink.token_hash == _digest(token))
    if for_update:  # re-read under the lock even if this request already loaded the link unlocked
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    link = db.session.scalar(stmt)
    if link is None:
        raise LinkUnusableError(404, "This link is not valid.")
    if link.used_at is not None:
        raise LinkUnusableError(410, "This link was already used. Thank you, the answer was recorded.")
    if link.expires_at <= utcnow():
        raise LinkUnusableError(410, "This link has expired. Please call the programme instead.")
    return link, db.session.get(Handoff, link.handoff_id, with_for_update=for_update, populate_existing=for_update)


def link_summary(token: str) -> dict:
    """What the partner may see: initials, appointment, reference; nothing else about the patient."""
    link, handoff = _link(token)
    patient = db.session.get(Patient, handoff.patient_id)
    # The partner sees initials and an appointment: a disclosure to someone without an account, so audited.
    audit.record("view", "confirmation_link", actor=None, program_id=handoff.program_id, patient_id=patient.id,
                 resource_id=handoff.id)
    return {"initials": f"{patient.first_name[:1]}.{patient.last_name[:1]}.".upper(),
            "appointment_at": handoff.appointment_at, "reference": handoff.reference,
            "timezone": patient.timezone, "closed": handoff.status not in OPEN_STATUSES,
            "program_name": db.session.get(Program, handoff.program_id).name,
            "service_name": db.session.get(Service, handoff.service_id).name}


def answer_link(token: str, arrived: bool) -> None:
    """Record the partner's answer once, and close the loop on the handoff."""
    link, handoff = _link(token, for_update=True)
    if handoff.status not in OPEN_STATUSES:
        raise LinkUnusableError(409, "This referral is already closed. Thank you.")
    if handoff.appointment_at is not None and utcnow() < handoff.appointment_at:
        raise TooEarlyError("The appointment has not started yet. Please answer after it, using the same link.")
    if handoff.status in (FhirTaskStatus.REQUESTED, FhirTaskStatus.ON_HOLD):
        move(handoff, FhirTaskStatus.ACCEPTED, None)  # the partner saw the patient, so it took the referral
    record_partner_answer(handoff, arrived)
    link.used_at, link.answer = utcnow(), "arrived" if arrived else "did_not_arrive"
