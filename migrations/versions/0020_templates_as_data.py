"""message templates and follow-up plans as data: versions per programme; each text records its version

Revision ID: 0020_templates_as_data
Revises: 0019_message_media
Create Date: 2026-12-02 02:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0020_templates_as_data'
down_revision = '0019_message_media'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'message_template_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=60), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id'],
                                name=op.f('fk_message_template_versions_program_id_programs')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_message_template_versions_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_message_template_versions')),
        sa.UniqueConstraint('program_id', 'key', 'language', 'version', name='uq_message_template_versions_version'),
    )
    op.create_table(
        'follow_up_plan_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=60), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('steps', sa.JSON(), nullable=False),
        sa.Column('delivery_hour', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id'],
                                name=op.f('fk_follow_up_plan_versions_program_id_programs')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_follow_up_plan_versions_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_plan_versions')),
        sa.UniqueConstraint('program_id', 'key', 'version', name='uq_follow_up_plan_versions_version'),
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template_version', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('template_version')
    op.drop_table('follow_up_plan_versions')
    op.drop_table('message_template_versions')
