"""catalogue versions (cached catalogue searches)

Revision ID: 0008_catalogue_versions
Revises: 0007_latest_capacity
Create Date: 2026-11-23 09:00:00

"""
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_catalogue_versions'
down_revision = '0007_latest_capacity'
branch_labels = None
depends_on = None


def upgrade():
    versions = op.create_table(
        'catalogue_versions',
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id'],
                                name=op.f('fk_catalogue_versions_program_id_programs')),
        sa.PrimaryKeyConstraint('program_id', name=op.f('pk_catalogue_versions')),
    )
    # Programmes that already have a catalogue get a token, so their searches are cached from the start.
    programs = op.get_bind().execute(sa.text("SELECT DISTINCT program_id FROM organizations")).scalars().all()
    is_sqlite = op.get_bind().dialect.name == "sqlite"
    now = datetime.now(UTC)
    op.bulk_insert(versions, [{"program_id": program_id, "token": uuid.uuid4().hex,
                               "changed_at": now.replace(tzinfo=None) if is_sqlite else now}
                              for program_id in programs])


def downgrade():
    op.drop_table('catalogue_versions')
