"""The case's snapshot beside its projection: the whole CaseState as the workflow holds it after the last
recorded transition, so the to-do list asks the lifecycle who may do what now (as the case page does).
A suggestion recorded before this revision gets its snapshot with its next transition; `jianyi admin
recompute` writes one for every open suggestion at once.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "casesnapshot",
        sa.Column("suggestion_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("suggestion_id"),
    )


def downgrade() -> None:
    op.drop_table("casesnapshot")
