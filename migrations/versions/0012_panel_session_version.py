"""panel sessions end on the server: a per-user session version

Revision ID: 0012_panel_session_version
Revises: 0011_refresh_rotation
Create Date: 2026-12-01 23:55:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012_panel_session_version'
down_revision = '0011_refresh_rotation'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('panel_session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('panel_session_version')
