"""Task schemas."""

from marshmallow import fields, validate

from backend.common.schemas import ApiSchema, PageQuerySchema, UtcDateTime, nullable
from backend.tasks.models import TaskKind, TaskStatus


@nullable("patient_id", "created_by_id", "completed_at")
class TaskSchema(ApiSchema):
    id = fields.Integer(dump_only=True)
    patient_id = fields.Integer(dump_only=True)
    assignee_id = fields.Integer(allow_none=True)
    created_by_id = fields.Integer(dump_only=True)
    kind = fields.Enum(TaskKind, by_value=True, load_default=TaskKind.FOLLOW_UP)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    note = fields.String(allow_none=True, validate=validate.Length(max=4000))
    due_at = UtcDateTime(required=True)
    status = fields.Enum(TaskStatus, by_value=True, dump_only=True)
    overdue = fields.Boolean(dump_only=True)
    completed_at = UtcDateTime(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class TaskUpdateSchema(ApiSchema):
    status = fields.Enum(TaskStatus, by_value=True)
    title = fields.String(validate=validate.Length(min=1, max=200))
    note = fields.String(allow_none=True, validate=validate.Length(max=4000))
    due_at = UtcDateTime()


class MyTasksQuerySchema(PageQuerySchema):
    status = fields.List(fields.Enum(TaskStatus, by_value=True), load_default=lambda: [TaskStatus.OPEN])
    due_before = UtcDateTime()
    patient_id = fields.Integer()
