"""Task schemas."""

from marshmallow import fields, validate

from backend.common.schemas import ApiSchema, PageQuerySchema, UtcDateTime, nullable
from backend.tasks.models import TaskKind, TaskStatus


@nullable("patient_id", "created_by_id", "completed_at", "patient_name")
class TaskSchema(ApiSchema):
    id = fields.Integer(dump_only=True)
    patient_id = fields.Integer(dump_only=True)
    patient_name = fields.String(dump_only=True, metadata={
        "description": "Preferred (or first) name and the last name's initial, e.g. \"Lucy G.\" (lists only)"})
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


class TaskAssignmentSchema(ApiSchema):
    assignee_id = fields.Integer(required=True)


class MyTasksQuerySchema(PageQuerySchema):
    status = fields.List(fields.Enum(TaskStatus, by_value=True), load_default=lambda: [TaskStatus.OPEN])
    due_before = UtcDateTime()
    due = fields.String(validate=validate.OneOf(["today", "overdue", "upcoming"]), metadata={
        "description": "today: due by the end of today in the programme's time zone (overdue included); "
                       "overdue: past due; upcoming: due after today"})
    patient_id = fields.Integer()
