"""patient events for the timeline (text opt-out and opt-in, handoff status changes); a coach's name for texts

Revision ID: 0018_timeline_events
Revises: 0017_warm_line
Create Date: 2026-12-02 02:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0018_timeline_events'
down_revision = '0017_warm_line'
branch_labels = None
depends_on = None

BEFORE = ('created', 'status_changed', 'coach_changed', 'details_updated')
AFTER = BEFORE + ('sms_opted_out', 'sms_opted_in', 'handoff_status_changed')
NAME = 'ck_patient_events_patient_event_kind'


def _kinds(values):
    return sa.Enum(*values, name='patient_event_kind', native_enum=False, create_constraint=True, length=32)


def _replace_check(values):
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint(op.f(NAME), 'patient_events', type_='check')
        listed = ", ".join(f"'{v}'" for v in values)
        op.create_check_constraint('patient_event_kind', 'patient_events', sa.text(f"kind IN ({listed})"))
        return
    # SQLite: rebuild the table with the new CHECK (alembic's batch mode copies the rows).
    with op.batch_alter_table('patient_events', recreate='always') as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_='check')
        batch_op.alter_column('kind', existing_type=sa.String(32), type_=_kinds(values), existing_nullable=False)


def upgrade():
    _replace_check(AFTER)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_name', sa.String(length=60), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('text_name')
    op.execute(sa.text("DELETE FROM patient_events WHERE kind IN ('sms_opted_out', 'sms_opted_in', "
                       "'handoff_status_changed')"))
    _replace_check(BEFORE)
