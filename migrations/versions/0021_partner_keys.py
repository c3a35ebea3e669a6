"""partner system keys: API keys a programme admin issues to a partner's systems (only digests stored)

Revision ID: 0021_partner_keys
Revises: 0020_templates_as_data
Create Date: 2026-12-02 03:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0021_partner_keys'
down_revision = '0020_templates_as_data'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'partner_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.String(length=36), nullable=True),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('lookup', sa.String(length=16), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('scopes', sa.JSON(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_partner_keys_program_id_programs')),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_partner_keys_organization_id_organizations')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_partner_keys_created_by_id_users')),
        sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_partner_keys_revoked_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_keys')),
        sa.UniqueConstraint('lookup', name=op.f('uq_partner_keys_lookup')),
    )
    with op.batch_alter_table('partner_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_keys_program_id'), ['program_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_partner_keys_organization_id'), ['organization_id'], unique=False)


def downgrade():
    with op.batch_alter_table('partner_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_keys_organization_id'))
        batch_op.drop_index(batch_op.f('ix_partner_keys_program_id'))
    op.drop_table('partner_keys')
