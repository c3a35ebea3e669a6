"""The kinds the timeline shows. A capability adds its kind here, and only here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from marshmallow import Schema, fields

from backend.common.schemas import UtcDateTime
from backend.consent.models import Consent
from backend.consent.schemas import ConsentSchema
from backend.contacts.models import Contact
from backend.contacts.schemas import ContactSchema
from backend.handoffs.models import Handoff
from backend.handoffs.schemas import HandoffSchema
from backend.messaging.models import PENDING, Message, MessageStatus
from backend.messaging.schemas import MessageSchema
from backend.patients.models import PatientEvent, PatientEventKind
from backend.tasks.models import Task
from backend.tasks.schemas import TaskSchema
from backend.voice.models import Call
from backend.voice.schemas import CallSchema


@dataclass(frozen=True)
class TimelineSource:
    """A table of things that happened to a patient, and how to show one."""

    kind: str
    model: type
    time_column: str
    schema: Schema
    # Conditions for what has happened (the default view), given whether cancelled entries are wanted.
    happened: Callable[[bool], list] = field(default=lambda include_cancelled: [])
    # Conditions for what is still to come (`when=upcoming`); None: this kind has nothing upcoming.
    upcoming: Callable[[], list] | None = None

    @property
    def occurred_at(self):
        return getattr(self.model, self.time_column)


class PatientEventSchema(Schema):
    id = fields.Integer()
    kind = fields.Enum(PatientEventKind, by_value=True)
    actor_id = fields.Integer(allow_none=True)
    details = fields.Dict()
    occurred_at = UtcDateTime()


def _texts_that_happened(include_cancelled: bool) -> list:
    """Texts sent, received or failed; scheduled ones are upcoming; cancelled (superseded) ones on request."""
    conditions = [Message.status.not_in(PENDING)]
    return conditions if include_cancelled else [*conditions, Message.status != MessageStatus.CANCELLED]


SOURCES: tuple[TimelineSource, ...] = (
    TimelineSource("patient_event", PatientEvent, "occurred_at", PatientEventSchema()),
    # A call's own entry stands for the contact it wrote (one entry per call, with its outcome).
    TimelineSource("contact", Contact, "occurred_at", ContactSchema(), happened=lambda _: [
        Contact.id.not_in(sa.select(Call.contact_id).where(Call.contact_id.is_not(None)))]),
    TimelineSource("call", Call, "started_at", CallSchema(exclude=("caller", "legs", "has_voicemail"))),
    TimelineSource("task", Task, "created_at", TaskSchema(exclude=("overdue",))),
    TimelineSource("message", Message, "scheduled_for", MessageSchema(), happened=_texts_that_happened,
                   upcoming=lambda: [Message.status.in_(PENDING)]),
    TimelineSource("handoff", Handoff, "created_at", HandoffSchema()),
    TimelineSource("consent", Consent, "signed_at", ConsentSchema()),
)
