"""Release scheduled injects from one process at the next due time

Revision ID: f193efef7151
Revises: f3c1d2b4a5e6
Create Date: 2026-12-07 15:54:25.806049

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f193efef7151'
down_revision = 'f3c1d2b4a5e6'
branch_labels = None
depends_on = None


def upgrade():
    lease = op.create_table('ticker_lease',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('holder', sa.String(length=120), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticker_lease'))
    )
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_due_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_live_session_next_due_at'), ['next_due_at'], unique=False)

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    # The row the ticker's processes compete for, expired: the first ticker to start takes it.
    op.bulk_insert(lease, [{'id': 1, 'holder': '', 'expires_at': now}])
    # Sessions running through the upgrade: the ticker looks at each at once and sets its exact next due time.
    live_session = sa.table('live_session', sa.column('status', sa.String()), sa.column('next_due_at', sa.DateTime()))
    op.execute(live_session.update().where(live_session.c.status == 'running').values(next_due_at=now))


def downgrade():
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_session_next_due_at'))
        batch_op.drop_column('next_due_at')

    op.drop_table('ticker_lease')
