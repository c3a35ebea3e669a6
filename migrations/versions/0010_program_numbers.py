"""programme-owned Twilio numbers and messaging services

Inbound texts (and calls) belong to the programme that owns the dialled number.
Each programme's existing `phone` becomes one of its numbers when no other
programme shares it; a shared number is left for the operator to assign
(`flask program-number add`), since guessing would file replies in the wrong
programme.

Revision ID: 0010_program_numbers
Revises: 0009_assignment_removals
Create Date: 2026-12-01 23:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010_program_numbers'
down_revision = '0009_assignment_removals'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'program_numbers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=20), nullable=False),
        sa.Column('sms', sa.Boolean(), nullable=False),
        sa.Column('voice', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id'],
                                name=op.f('fk_program_numbers_program_id_programs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_program_numbers')),
        sa.UniqueConstraint('number', name=op.f('uq_program_numbers_number')),
    )
    with op.batch_alter_table('program_numbers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_program_numbers_program_id'), ['program_id'], unique=False)
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('messaging_service_sid', sa.String(length=34), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_programs_messaging_service_sid'), ['messaging_service_sid'])

    op.execute(sa.text(
        "INSERT INTO program_numbers (program_id, number, sms, voice, created_at, updated_at) "
        "SELECT id, phone, :yes, :yes, created_at, created_at FROM programs WHERE phone IN "
        "(SELECT phone FROM programs WHERE phone IS NOT NULL GROUP BY phone HAVING COUNT(*) = 1)"
    ).bindparams(yes=True))


def downgrade():
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_programs_messaging_service_sid'), type_='unique')
        batch_op.drop_column('messaging_service_sid')
    with op.batch_alter_table('program_numbers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_program_numbers_program_id'))
    op.drop_table('program_numbers')
