"""Add the health check's probe row

Revision ID: f3c1d2b4a5e6
Revises: 5cf9611dcdc3
Create Date: 2026-12-07 14:00:00.000000

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f3c1d2b4a5e6'
down_revision = '5cf9611dcdc3'
branch_labels = None
depends_on = None


def upgrade():
    probe = op.create_table('health_probe',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checked_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_probe'))
    )
    # The row /healthz updates: with it in place, processes never race to insert it.
    op.bulk_insert(probe, [{'id': 1, 'checked_at': datetime.now(timezone.utc).replace(tzinfo=None)}])


def downgrade():
    op.drop_table('health_probe')
