"""audit seals: closed blocks of audit events sealed with a keyed, chained hash

Revision ID: 0015_audit_seals
Revises: 0014_password_change
Create Date: 2026-12-02 00:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015_audit_seals'
down_revision = '0014_password_change'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_seals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('first_event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('last_event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('event_count', sa.Integer(), nullable=False),
        sa.Column('previous_digest', sa.String(length=64), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('sealed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_seals')),
        sa.UniqueConstraint('last_event_id', name=op.f('uq_audit_seals_last_event_id')),
    )


def downgrade():
    op.drop_table('audit_seals')
