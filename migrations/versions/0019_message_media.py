"""MMS media kept as Twilio's URLs; texts from unknown numbers dismissed by a supervisor

Revision ID: 0019_message_media
Revises: 0018_task_escalation
Create Date: 2026-12-02 02:15:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0019_message_media'
down_revision = '0018_task_escalation'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('dismissed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('dismissed_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_messages_dismissed_by_id_users'), 'users', ['dismissed_by_id'],
                                    ['id'])


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_messages_dismissed_by_id_users'), type_='foreignkey')
        batch_op.drop_column('dismissed_by_id')
        batch_op.drop_column('dismissed_at')
        batch_op.drop_column('media')
