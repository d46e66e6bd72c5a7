"""Issues 6–9: the supervisors' registry, accounts and API tokens; writes keyed by content (audit key and
content hash, seq on deadlines, reminders and outbox rows); the chain head, review and rectification
deadlines, merges and processing errors on the suggestion row; reply letters; escalation steps.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('login', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('binding', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('must_change', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_login_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_binding'), ['binding'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_login'), ['login'], unique=True)
        batch_op.create_index(batch_op.f('ix_account_role'), ['role'], unique=False)

    op.create_table('apitoken',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('login', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apitoken_login'), ['login'], unique=False)
        batch_op.create_index(batch_op.f('ix_apitoken_token_hash'), ['token_hash'], unique=True)

    op.create_table('supervisor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('webhook_url', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('supervisor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervisor_name'), ['name'], unique=True)

    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))

    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=False, server_default="0"))

    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number', sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column('steps', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('rectify_due', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=False, server_default="0"))

    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=False, server_default="0"))

    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachment_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column('attachment_sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))

    with op.batch_alter_table('suggestion', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_due', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('rectify_due', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('merged_into', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column('chain_seq', sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column('chain_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))



def downgrade() -> None:
    with op.batch_alter_table('suggestion', schema=None) as batch_op:
        batch_op.drop_column('chain_hash')
        batch_op.drop_column('chain_seq')
        batch_op.drop_column('error')
        batch_op.drop_column('merged_into')
        batch_op.drop_column('rectify_due')
        batch_op.drop_column('review_due')

    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.drop_column('attachment_sha256')
        batch_op.drop_column('attachment_name')

    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.drop_column('seq')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('seq')

    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.drop_column('rectify_due')
        batch_op.drop_column('steps')
        batch_op.drop_column('number')

    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.drop_column('seq')

    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.drop_column('content_hash')
        batch_op.drop_column('key')

    with op.batch_alter_table('supervisor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervisor_name'))

    op.drop_table('supervisor')
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apitoken_token_hash'))
        batch_op.drop_index(batch_op.f('ix_apitoken_login'))

    op.drop_table('apitoken')
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_role'))
        batch_op.drop_index(batch_op.f('ix_account_login'))
        batch_op.drop_index(batch_op.f('ix_account_binding'))

    op.drop_table('account')
