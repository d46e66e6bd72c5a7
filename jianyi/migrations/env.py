"""Alembic's environment for the records database: the URL comes from the caller (jianyi.models.migrate)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import jianyi.models.db  # noqa: F401  (registers every table on SQLModel.metadata)

SCHEDULER_TABLES = {"apscheduler_jobs"}  # the scheduler's job store keeps its own table in the same database


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    return not (type_ == "table" and name in SCHEDULER_TABLES)


def run() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True,
                      compare_type=True, include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


run()
