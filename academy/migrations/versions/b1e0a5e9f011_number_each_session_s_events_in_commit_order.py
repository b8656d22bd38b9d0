"""Number each session's events in commit order

Revision ID: b1e0a5e9f011
Revises: a6ace088f436
Create Date: 2026-12-07 13:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b1e0a5e9f011'
down_revision = 'a6ace088f436'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seq', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('session_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))

    # Existing logs keep their order: each session's events are numbered 1, 2, 3 … by their old ids.
    op.execute("""
        UPDATE session_event SET seq = (
            SELECT COUNT(*) FROM session_event AS earlier
            WHERE earlier.session_id = session_event.session_id AND earlier.id <= session_event.id)
    """)
    op.execute("""
        UPDATE live_session SET last_seq = (
            SELECT COUNT(*) FROM session_event WHERE session_event.session_id = live_session.id)
    """)

    with op.batch_alter_table('session_event', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint('uq_session_event_session_id_seq', ['session_id', 'seq'])


def downgrade():
    with op.batch_alter_table('session_event', schema=None) as batch_op:
        batch_op.drop_constraint('uq_session_event_session_id_seq', type_='unique')
        batch_op.drop_column('seq')
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.drop_column('last_seq')
