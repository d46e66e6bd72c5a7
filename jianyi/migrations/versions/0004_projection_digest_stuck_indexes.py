"""Issue 10: the projection keeps a digest of each child table (``suggestion.projected``), so a
transition rewrites only the tables that changed; the stuck view reads only the suggestion row:
the facts its kinds need (open escalations, missed commitments, missing co-handler opinions),
``stuck_from`` (when some kind starts to hold) and an index per kind.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DUES = ("reply_due", "sign_due", "assign_due", "review_due", "co_opinion_due")
PAIRS = ("reply_due", "sign_due", "assign_due", "review_due", "open_escalations", "missed_commitments")
FACTS = ("open_escalations", "missed_commitments", "missing_co_opinions")
ERROR = sa.text("error != ''")


def upgrade() -> None:
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.add_column(sa.Column("projected", sa.JSON(), nullable=True))
        for fact in FACTS:
            batch_op.add_column(sa.Column(fact, sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("stuck_from", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        for fact in FACTS:
            batch_op.alter_column(fact, server_default=None)
    op.create_index("ix_suggestion_stuck_from", "suggestion", ["stuck_from", "state"])
    for column in PAIRS:
        op.create_index(f"ix_suggestion_state_{column}", "suggestion", ["state", column])
    op.create_index("ix_suggestion_state_co_opinion_due", "suggestion", ["state", "co_opinion_due", "missing_co_opinions"])
    op.create_index("ix_suggestion_with_error", "suggestion", ["state"], sqlite_where=ERROR, postgresql_where=ERROR)
    _backfill()


def _backfill() -> None:
    """The facts from the child rows, then ``stuck_from`` from the stuck view's own definition."""
    op.execute("UPDATE suggestion SET open_escalations = (SELECT count(*) FROM escalation e "
               "WHERE e.suggestion_id = suggestion.id AND e.resolved_at IS NULL)")
    op.execute("UPDATE suggestion SET missed_commitments = (SELECT count(*) FROM commitment c "
               "WHERE c.suggestion_id = suggestion.id AND c.status = '逾期')")
    op.execute("UPDATE suggestion SET missing_co_opinions = (SELECT count(*) FROM assignment a "
               "WHERE a.suggestion_id = suggestion.id AND a.role = '协办' AND a.active AND a.opinion = '')")
    from jianyi.models.stuck import stuck_from  # the one definition, as the projection uses it

    conn = op.get_bind()
    table = sa.table("suggestion", sa.column("id"), sa.column("stuck_from", sqlmodel.sql.sqltypes.UTCDateTime()))
    rows = conn.execute(sa.text("SELECT * FROM suggestion")).mappings().all()
    for row in rows:
        moment = stuck_from(_typed(dict(row)))
        if moment is not None:
            conn.execute(table.update().where(table.c.id == row["id"]).values(stuck_from=moment))


def _typed(row: dict) -> dict:
    """SQLite hands back its datetimes as text: the due columns as aware datetimes."""
    from datetime import UTC, datetime

    for due in (*DUES, "stuck_from"):
        value = row.get(due)
        if isinstance(value, str):
            row[due] = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return row


def downgrade() -> None:
    op.drop_index("ix_suggestion_with_error", table_name="suggestion")
    for column in (*PAIRS, "co_opinion_due"):
        op.drop_index(f"ix_suggestion_state_{column}", table_name="suggestion")
    op.drop_index("ix_suggestion_stuck_from", table_name="suggestion")
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        for column in ("stuck_from", *FACTS, "projected"):
            batch_op.drop_column(column)
