"""What patients (and unknown numbers) sent us: MMS media through our own scoped endpoint, and the texts from
numbers that match no patient, which supervisors assign to a patient or put aside. Every read is audited."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.errors import not_found
from backend.database import db, utcnow
from backend.messaging.models import Message, MessageDirection
from backend.patients.access import get_patient_for
from backend.tasks.models import TaskKind
from backend.tasks.service import open_system_task
from backend.twilio.gateway import GatewayError, gateway
from backend.users.models import Role, User
from backend.users.service import require_role


def _received(actor: User, message_id: int) -> Message:
    """A received text the actor may see: their patient's (scoped like the patient), or, for leads, any of the
    programme's; 404 otherwise, as for a missing one."""
    message = db.session.get(Message, message_id)
    if (message is None or message.program_id != actor.program_id
            or message.direction != MessageDirection.INBOUND):
        raise not_found("message")
    if message.patient_id is not None:
        get_patient_for(actor, message.patient_id)
    elif actor.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise not_found("message")
    return message


def media_content(actor: User, message_id: int, index: int) -> tuple[bytes, str]:
    """One photo (or other media) of an MMS, fetched from Twilio for the caller; audited."""
    message = _received(actor, message_id)
    media = message.media or []
    if not 0 <= index < len(media):
        raise not_found("media")
    try:
        content = gateway().fetch_media(media[index]["url"])
    except GatewayError as exc:
        raise not_found("media") from exc
    audit.record("view", "message_media", actor=actor, patient_id=message.patient_id, resource_id=message.id,
                 details={"index": index})
    return content


def unknown_texts(actor: User) -> sa.Select:
    """Texts from numbers that matched no patient and nobody has put aside, newest first (leads)."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    return (sa.select(Message).where(Message.program_id == actor.program_id,
                                     Message.direction == MessageDirection.INBOUND, Message.patient_id.is_(None),
                                     Message.dismissed_at.is_(None))
            .order_by(Message.created_at.desc(), Message.id.desc()))


def audit_unknown(actor: User, messages: list[Message]) -> list[Message]:
    """The list shows numbers and words: on the audit trail like any read of them."""
    audit.record("list", "unknown_text", actor=actor, details={"message_ids": [m.id for m in messages]})
    return messages


def assign_text(actor: User, message_id: int, patient_id: int) -> Message:
    """File an unknown number's text with the patient who sent it; their coach gets it like any reply."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    message = _received(actor, message_id)
    if message.patient_id is not None:
        raise not_found("message")
    patient = get_patient_for(actor, patient_id)
    message.patient_id = patient.id
    if patient.coach_id:
        open_system_task(patient.program_id, patient.coach_id, TaskKind.CALL_BACK, "Text reply from your patient",
                         timedelta(hours=4), patient_id=patient.id, created_by_id=actor.id)
    audit.record("assign", "unknown_text", actor=actor, patient_id=patient.id, resource_id=message.id)
    return message


def dismiss_text(actor: User, message_id: int) -> Message:
    """Put an unknown number's text aside (a wrong number, spam); it stays on record."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    message = _received(actor, message_id)
    if message.patient_id is not None:
        raise not_found("message")
    message.dismissed_at, message.dismissed_by_id = utcnow(), actor.id
    audit.record("dismiss", "unknown_text", actor=actor, resource_id=message.id)
    return message
