"""a second factor for the panel: TOTP secrets, recovery codes, the programme's policy for supervisors

Revision ID: 0016_panel_mfa
Revises: 0015_audit_seals
Create Date: 2026-12-02 00:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_panel_mfa'
down_revision = '0015_audit_seals'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('mfa_enrolled_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('require_mfa_for_supervisors', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    op.create_table(
        'recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes')),
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_user_id'))
    op.drop_table('recovery_codes')
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_column('require_mfa_for_supervisors')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('mfa_enrolled_at')
        batch_op.drop_column('totp_secret')
