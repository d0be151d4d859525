"""question log, feedback, handoffs, event dedupe, conversation references

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 14:15:23.304814
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_reference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=512), nullable=False),
    sa.Column('reference', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_reference')),
    sa.UniqueConstraint('channel', 'conversation_id', name=op.f('uq_conversation_reference_channel'))
    )
    with op.batch_alter_table('conversation_reference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_reference_updated_at'), ['updated_at'], unique=False)

    op.create_table('processed_event',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_processed_event'))
    )
    with op.batch_alter_table('processed_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processed_event_expires_at'), ['expires_at'], unique=False)

    op.create_table('question_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('user_ref', sa.String(length=255), nullable=True),
    sa.Column('conversation_ref', sa.String(length=255), nullable=True),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('entry_id', sa.String(length=128), nullable=True),
    sa.Column('confidence', sa.Double(), nullable=False),
    sa.Column('answered', sa.Boolean(), nullable=False),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_question_log'))
    )
    with op.batch_alter_table('question_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_question_log_answered'), ['answered'], unique=False)
        batch_op.create_index(batch_op.f('ix_question_log_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_question_log_entry_id'), ['entry_id'], unique=False)

    op.create_table('feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('question_log_id', sa.Integer(), nullable=False),
    sa.Column('user_ref', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['question_log_id'], ['question_log.id'], name=op.f('fk_feedback_question_log_id_question_log'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback')),
    sa.UniqueConstraint('question_log_id', 'user_ref', name=op.f('uq_feedback_question_log_id'))
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_question_log_id'), ['question_log_id'], unique=False)

    op.create_table('handoff_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('question_log_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('user_ref', sa.String(length=255), nullable=True),
    sa.Column('conversation_ref', sa.String(length=255), nullable=True),
    sa.Column('thread_ref', sa.String(length=255), nullable=True),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['question_log_id'], ['question_log.id'], name=op.f('fk_handoff_request_question_log_id_question_log'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_request')),
    sa.UniqueConstraint('question_log_id', name=op.f('uq_handoff_request_question_log_id'))
    )
    with op.batch_alter_table('handoff_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoff_request_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_handoff_request_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('handoff_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_request_status'))
        batch_op.drop_index(batch_op.f('ix_handoff_request_created_at'))

    op.drop_table('handoff_request')
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_question_log_id'))
        batch_op.drop_index(batch_op.f('ix_feedback_created_at'))

    op.drop_table('feedback')
    with op.batch_alter_table('question_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_question_log_entry_id'))
        batch_op.drop_index(batch_op.f('ix_question_log_created_at'))
        batch_op.drop_index(batch_op.f('ix_question_log_answered'))

    op.drop_table('question_log')
    with op.batch_alter_table('processed_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processed_event_expires_at'))

    op.drop_table('processed_event')
    with op.batch_alter_table('conversation_reference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_reference_updated_at'))

    op.drop_table('conversation_reference')
