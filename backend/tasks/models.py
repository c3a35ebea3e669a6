"""Task model."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TimestampMixin, db, str_enum


class TaskKind(enum.StrEnum):
    CALL_BACK = "call_back"
    FOLLOW_UP = "follow_up"
    CONFIRM_APPOINTMENT = "confirm_appointment"
    CHECK_PHONE_NUMBER = "check_phone_number"
    REVIEW = "review"
    WELLNESS_CHECK_IN = "wellness_check_in"
    OTHER = "other"


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class Task(TimestampMixin, db.Model):
    __tablename__ = "tasks"
    __table_args__ = (
        sa.Index("ix_tasks_assignee_id_status_due_at", "assignee_id", "status", "due_at"),
        sa.Index("ix_tasks_patient_id_created_at", "patient_id", "created_at"),
        # Overdue tasks of a programme (the supervisors' page, the escalation job).
        sa.Index("ix_tasks_program_id_status_due_at", "program_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    patient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patients.id"))
    assignee_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[TaskKind] = mapped_column(str_enum(TaskKind, "task_kind"), default=TaskKind.FOLLOW_UP)
    title: Mapped[str] = mapped_column(sa.String(200))
    note: Mapped[str | None] = mapped_column(sa.Text)
    due_at: Mapped[datetime]
    status: Mapped[TaskStatus] = mapped_column(str_enum(TaskStatus, "task_status"), default=TaskStatus.OPEN)
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Set once, when the task went too long past due: the review task its assignee's supervisor was given.
    escalated_at: Mapped[datetime | None]
    escalation_task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tasks.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
