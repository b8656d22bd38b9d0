"""Add scenarios and scenario versions

Revision ID: 323fb97f941a
Revises: 166c54bfc425
Create Date: 2026-11-27 11:21:06.542631

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '323fb97f941a'
down_revision = '166c54bfc425'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scenario',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('current_version_id', sa.Integer(), nullable=True),
    sa.Column('archived_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scenario')),
    sa.UniqueConstraint('slug', name=op.f('uq_scenario_slug'))
    )
    op.create_table('scenario_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scenario_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['scenario_id'], ['scenario.id'], name=op.f('fk_scenario_version_scenario_id_scenario')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scenario_version')),
    sa.UniqueConstraint('scenario_id', 'content_hash', name='uq_scenario_version_scenario_id_content_hash'),
    sa.UniqueConstraint('scenario_id', 'number', name='uq_scenario_version_scenario_id_number')
    )
    # The two tables point at each other: the scenario's key to its current version comes last.
    with op.batch_alter_table('scenario', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_scenario_current_version_id_scenario_version'),
                                    'scenario_version', ['current_version_id'], ['id'])


def downgrade():
    with op.batch_alter_table('scenario', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_scenario_current_version_id_scenario_version'), type_='foreignkey')

    op.drop_table('scenario_version')
    op.drop_table('scenario')
