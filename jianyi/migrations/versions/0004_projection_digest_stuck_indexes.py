"""Issue 10: the projection keeps a digest of each child table (``suggestion.projected``), so a
transition rewrites only the tables that changed; indexes for the stuck view's kinds.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DUES = ("reply_due", "sign_due", "assign_due", "review_due", "co_opinion_due")


def upgrade() -> None:
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.add_column(sa.Column("projected", sa.JSON(), nullable=True))
    for due in DUES:
        op.create_index(f"ix_suggestion_state_{due}", "suggestion", ["state", due])
    error = sa.text("error != ''")
    op.create_index("ix_suggestion_with_error", "suggestion", ["state"], sqlite_where=error, postgresql_where=error)


def downgrade() -> None:
    op.drop_index("ix_suggestion_with_error", table_name="suggestion")
    for due in DUES:
        op.drop_index(f"ix_suggestion_state_{due}", table_name="suggestion")
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.drop_column("projected")
