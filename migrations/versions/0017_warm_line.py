"""the warm line: programme settings and hours, each coach's line state, calls and their legs

Revision ID: 0017_warm_line
Revises: 0016_panel_mfa
Create Date: 2026-12-02 01:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0017_warm_line'
down_revision = '0016_panel_mfa'
branch_labels = None
depends_on = None


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _when(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    with op.batch_alter_table('caseload_policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('after_hours_calls', sa.Integer(), server_default='3', nullable=False))
        batch_op.add_column(sa.Column('phone_minutes_per_day', sa.Integer(), server_default='240', nullable=False))
    op.create_table(
        'warm_lines',
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('hours', sa.JSON(), nullable=False),
        sa.Column('override', sa.String(length=10), nullable=True),
        _when('override_until'),
        sa.Column('crisis_number', sa.String(length=20), nullable=False),
        sa.Column('crisis_transfer_number', sa.String(length=20), nullable=False),
        sa.Column('ring_timeout_seconds', sa.Integer(), nullable=False),
        sa.Column('max_coaches', sa.Integer(), nullable=False),
        sa.Column('max_wait_seconds', sa.Integer(), nullable=False),
        sa.Column('transcribe_voicemail', sa.Boolean(), nullable=False),
        sa.Column('recording_retention_days', sa.Integer(), nullable=False),
        sa.Column('callback_due_minutes', sa.Integer(), nullable=False),
        sa.Column('callbacks_for_voicemail_only', sa.Boolean(), nullable=False),
        _when('created_at', False),
        _when('updated_at', False),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_warm_lines_program_id_programs')),
        sa.PrimaryKeyConstraint('program_id', name=op.f('pk_warm_lines')),
    )
    op.create_table(
        'calls',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('direction', _enum('call_direction', 'inbound', 'outbound'), nullable=False),
        sa.Column('status', _enum('call_status', 'ringing', 'in_progress', 'voicemail', 'completed'),
                  nullable=False),
        sa.Column('outcome', _enum('call_outcome', 'answered', 'voicemail', 'missed', 'abandoned', 'after_hours',
                                   'no_answer', 'failed'), nullable=True),
        sa.Column('twilio_sid', sa.String(length=34), nullable=True),
        sa.Column('program_number', sa.String(length=20), nullable=False),
        sa.Column('external_number', sa.String(length=20), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=True),
        sa.Column('coach_id', sa.Integer(), nullable=True),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('after_hours', sa.Boolean(), nullable=False),
        _when('started_at', False),
        _when('answered_at'),
        _when('ended_at'),
        sa.Column('duration_seconds', sa.Integer(), nullable=True),
        sa.Column('last_sequence', sa.Integer(), nullable=False),
        sa.Column('conference_sid', sa.String(length=34), nullable=True),
        sa.Column('voicemail_sid', sa.String(length=34), nullable=True),
        sa.Column('voicemail_seconds', sa.Integer(), nullable=True),
        _when('voicemail_deleted_at'),
        sa.Column('callback_task_id', sa.Integer(), nullable=True),
        sa.Column('contact_id', sa.Integer(), nullable=True),
        _when('crisis_transfer_at'),
        sa.Column('confirmed_outside_hours', sa.Boolean(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        _when('created_at', False),
        _when('updated_at', False),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_calls_program_id_programs')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_calls_patient_id_patients')),
        sa.ForeignKeyConstraint(['coach_id'], ['users.id'], name=op.f('fk_calls_coach_id_users')),
        sa.ForeignKeyConstraint(['callback_task_id'], ['tasks.id'], name=op.f('fk_calls_callback_task_id_tasks')),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_calls_contact_id_contacts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calls')),
        sa.UniqueConstraint('twilio_sid', name=op.f('uq_calls_twilio_sid')),
    )
    op.create_index('ix_calls_program_id_started_at', 'calls', ['program_id', 'started_at'])
    op.create_index('ix_calls_patient_id_started_at', 'calls', ['patient_id', 'started_at'])
    op.create_index('ix_calls_coach_id_started_at', 'calls', ['coach_id', 'started_at'])
    op.create_table(
        'call_legs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=False),
        sa.Column('kind', _enum('leg_kind', 'coach', 'patient', 'partner', 'crisis'), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('partner_contact_id', sa.String(length=36), nullable=True),
        sa.Column('handoff_id', sa.Integer(), nullable=True),
        sa.Column('number', sa.String(length=20), nullable=False),
        sa.Column('twilio_sid', sa.String(length=34), nullable=True),
        sa.Column('outcome', _enum('leg_outcome', 'accepted', 'declined', 'no_answer', 'busy', 'failed',
                                   'cancelled'), nullable=True),
        _when('rung_at', False),
        _when('answered_at'),
        _when('joined_at'),
        _when('ended_at'),
        sa.Column('on_hold', sa.Boolean(), nullable=False),
        sa.Column('notice_given', sa.Boolean(), nullable=False),
        sa.Column('last_sequence', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_legs_call_id_calls')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_call_legs_user_id_users')),
        sa.ForeignKeyConstraint(['partner_contact_id'], ['partner_contacts.id'],
                                name=op.f('fk_call_legs_partner_contact_id_partner_contacts')),
        sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], name=op.f('fk_call_legs_handoff_id_handoffs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_call_legs')),
        sa.UniqueConstraint('twilio_sid', name=op.f('uq_call_legs_twilio_sid')),
    )
    op.create_index('ix_call_legs_call_id_position', 'call_legs', ['call_id', 'position'])
    op.create_index(op.f('ix_call_legs_user_id'), 'call_legs', ['user_id'])
    op.create_table(
        'line_states',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('taking_calls', sa.Boolean(), nullable=False),
        sa.Column('busy_call_id', sa.Integer(), nullable=True),
        _when('busy_since'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_line_states_user_id_users')),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_line_states_program_id_programs')),
        sa.ForeignKeyConstraint(['busy_call_id'], ['calls.id'], name=op.f('fk_line_states_busy_call_id_calls')),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_line_states')),
    )
    op.create_index(op.f('ix_line_states_program_id'), 'line_states', ['program_id'])


def downgrade():
    op.drop_index(op.f('ix_line_states_program_id'), table_name='line_states')
    op.drop_table('line_states')
    op.drop_index(op.f('ix_call_legs_user_id'), table_name='call_legs')
    op.drop_index('ix_call_legs_call_id_position', table_name='call_legs')
    op.drop_table('call_legs')
    op.drop_index('ix_calls_coach_id_started_at', table_name='calls')
    op.drop_index('ix_calls_patient_id_started_at', table_name='calls')
    op.drop_index('ix_calls_program_id_started_at', table_name='calls')
    op.drop_table('calls')
    op.drop_table('warm_lines')
    with op.batch_alter_table('caseload_policies', schema=None) as batch_op:
        batch_op.drop_column('phone_minutes_per_day')
        batch_op.drop_column('after_hours_calls')
