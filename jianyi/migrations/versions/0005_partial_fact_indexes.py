"""Issue 10: the stuck view's facts (open escalations, missed commitments, missing co-handler
opinions) each in a partial index over the rows where the fact holds, with the column the kind's
page is ordered by; the counts and pages read only those rows.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FACT_INDEXES = {"open_escalations": "reply_due", "missed_commitments": "reply_due", "missing_co_opinions": "co_opinion_due"}


def upgrade() -> None:
    op.drop_index("ix_suggestion_state_open_escalations", table_name="suggestion")
    op.drop_index("ix_suggestion_state_missed_commitments", table_name="suggestion")
    op.drop_index("ix_suggestion_state_co_opinion_due", table_name="suggestion")
    for fact, order in FACT_INDEXES.items():
        where = sa.text(f"{fact} > 0")
        op.create_index(f"ix_suggestion_with_{fact}", "suggestion", ["state", order], sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for fact in FACT_INDEXES:
        op.drop_index(f"ix_suggestion_with_{fact}", table_name="suggestion")
    op.create_index("ix_suggestion_state_open_escalations", "suggestion", ["state", "open_escalations"])
    op.create_index("ix_suggestion_state_missed_commitments", "suggestion", ["state", "missed_commitments"])
    op.create_index("ix_suggestion_state_co_opinion_due", "suggestion", ["state", "co_opinion_due", "missing_co_opinions"])
