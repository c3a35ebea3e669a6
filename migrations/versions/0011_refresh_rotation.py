"""refresh tokens rotate: the session keeps the one that may still be used

Revision ID: 0011_refresh_rotation
Revises: 0010_program_numbers
Create Date: 2026-12-01 23:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011_refresh_rotation'
down_revision = '0010_program_numbers'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refresh_jti', sa.String(length=36), nullable=True))


def downgrade():
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_column('refresh_jti')
