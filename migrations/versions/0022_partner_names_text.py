"""partner, service, location and point-person names as text: HSDS names have no maximum

Revision ID: 0022_partner_names_text
Revises: 0021_partner_keys
Create Date: 2026-12-02 03:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0022_partner_names_text'
down_revision = '0021_partner_keys'
branch_labels = None
depends_on = None

COLUMNS = {'organizations': ('name', 'alternate_name'), 'locations': ('name',), 'services': ('name',),
           'partner_contacts': ('name',)}
NOT_NULL = {('organizations', 'name'), ('services', 'name'), ('partner_contacts', 'name')}


def _change(to_type, from_type):
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, type_=to_type, existing_type=from_type,
                                      existing_nullable=(table, column) not in NOT_NULL)


def upgrade():
    _change(sa.Text(), sa.String(length=200))


def downgrade():
    # Names longer than 200 characters are cut back to fit (a downgrade loses what the older schema cannot hold).
    for table, columns in COLUMNS.items():
        for column in columns:
            op.execute(sa.text(f"UPDATE {table} SET {column} = substr({column}, 1, 200) "
                               f"WHERE length({column}) > 200"))
    _change(sa.String(length=200), sa.Text())
