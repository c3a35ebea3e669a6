"""overdue tasks escalate to the coach's supervisor once, after a time the programme sets

Revision ID: 0018_task_escalation
Revises: 0018_timeline_events
Create Date: 2026-12-02 02:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0018_task_escalation'
# Chained after the timeline's migration (both were planned on 0017_warm_line: one head keeps `upgrade` working).
down_revision = '0018_timeline_events'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('caseload_policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalate_overdue_after_hours', sa.Integer(), server_default='24',
                                      nullable=False))
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('escalation_task_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_tasks_escalation_task_id_tasks'), 'tasks',
                                    ['escalation_task_id'], ['id'])
        batch_op.create_index('ix_tasks_program_id_status_due_at', ['program_id', 'status', 'due_at'], unique=False)


def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_program_id_status_due_at')
        batch_op.drop_constraint(batch_op.f('fk_tasks_escalation_task_id_tasks'), type_='foreignkey')
        batch_op.drop_column('escalation_task_id')
        batch_op.drop_column('escalated_at')
    with op.batch_alter_table('caseload_policies', schema=None) as batch_op:
        batch_op.drop_column('escalate_overdue_after_hours')
