"""Add each module's quiz review policy and each question's hint for a wrong answer

Revision ID: 5cf9611dcdc3
Revises: 5b9638873440
Create Date: 2026-12-02 10:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5cf9611dcdc3'
down_revision = '5b9638873440'
branch_labels = None
depends_on = None


def upgrade():
    # Existing modules get the safe policy until the next content sync writes what course.yml says.
    with op.batch_alter_table('module', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review', sa.String(length=32), server_default='after_pass_or_last_attempt',
                                      nullable=False))

    with op.batch_alter_table('question', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hint', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('question', schema=None) as batch_op:
        batch_op.drop_column('hint')

    with op.batch_alter_table('module', schema=None) as batch_op:
        batch_op.drop_column('review')
