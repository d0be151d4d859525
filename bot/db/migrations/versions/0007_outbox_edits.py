"""outbox: edits (an outbox row may replace the message of an earlier row)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 11:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('edits', sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_edits'), ['edits'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_edits'))
        batch_op.drop_column('edits')
