"""The kinds the timeline shows. A capability adds its kind here, and only here."""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema, fields

from backend.common.schemas import UtcDateTime
from backend.consent.models import Consent
from backend.consent.schemas import ConsentSchema
from backend.contacts.models import Contact
from backend.contacts.schemas import ContactSchema
from backend.handoffs.models import Handoff
from backend.handoffs.schemas import HandoffSchema
from backend.messaging.models import Message
from backend.messaging.schemas import MessageSchema
from backend.patients.models import PatientEvent, PatientEventKind
from backend.tasks.models import Task
from backend.tasks.schemas import TaskSchema


@dataclass(frozen=True)
class TimelineSource:
    """A table of things that happened to a patient, and how to show one."""

    kind: str
    model: type
    time_column: str
    schema: Schema

    @property
    def occurred_at(self):
        return getattr(self.model, self.time_column)


class PatientEventSchema(Schema):
    id = fields.Integer()
    kind = fields.Enum(PatientEventKind, by_value=True)
    actor_id = fields.Integer(allow_none=True)
    details = fields.Dict()
    occurred_at = UtcDateTime()


SOURCES: tuple[TimelineSource, ...] = (
    TimelineSource("patient_event", PatientEvent, "occurred_at", PatientEventSchema()),
    TimelineSource("contact", Contact, "occurred_at", ContactSchema()),
    TimelineSource("task", Task, "created_at", TaskSchema(exclude=("overdue",))),
    TimelineSource("message", Message, "scheduled_for", MessageSchema()),
    TimelineSource("handoff", Handoff, "created_at", HandoffSchema()),
    TimelineSource("consent", Consent, "signed_at", ConsentSchema()),
)
