"""Search attributes on every suggestion workflow, so Temporal's own UI can filter stuck cases."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

STATE = SearchAttributeKey.for_keyword("JianyiState")
STAGE = SearchAttributeKey.for_keyword("JianyiStage")
LEAD_UNIT = SearchAttributeKey.for_keyword("JianyiLeadUnit")
REPLY_DUE = SearchAttributeKey.for_datetime("JianyiReplyDue")
OVERDUE = SearchAttributeKey.for_bool("JianyiOverdue")
KEY_SUPERVISION = SearchAttributeKey.for_bool("JianyiKeySupervision")
SESSION = SearchAttributeKey.for_keyword("JianyiSession")
PERIOD = SearchAttributeKey.for_keyword("JianyiPeriod")

ALL = (STATE, STAGE, LEAD_UNIT, REPLY_DUE, OVERDUE, KEY_SUPERVISION, SESSION, PERIOD)


def upsert_for(case: Any) -> None:
    """Keep the workflow's search attributes current with its case (only what changed)."""
    due = case.handling_deadline
    wanted: list[SearchAttributeUpdate[Any]] = [
        STATE.value_set(case.state),
        STAGE.value_set(case.stage),
        LEAD_UNIT.value_set(case.lead_unit or "—"),
        OVERDUE.value_set(case.overdue),
        KEY_SUPERVISION.value_set(case.key_supervision),
        SESSION.value_set(case.submission.session),
        PERIOD.value_set(case.submission.period),
    ]
    if due is not None:
        wanted.append(REPLY_DUE.value_set(due.due_at))
    current = workflow.info().typed_search_attributes
    changed = [pair for pair in wanted if current.get(pair.key) != pair.value]
    if changed:
        workflow.upsert_search_attributes(changed)
