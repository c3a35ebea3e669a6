"""index for the removed-patients feed of offline sync

Revision ID: 0009_assignment_removals
Revises: 0008_catalogue_versions
Create Date: 2026-11-23 02:05:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009_assignment_removals'
down_revision = '0008_catalogue_versions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_previous_coach_id_created_at', ['previous_coach_id', 'created_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_previous_coach_id_created_at')
