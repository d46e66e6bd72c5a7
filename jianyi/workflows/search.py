"""Search attributes on every suggestion workflow, so Temporal's own UI can filter stuck cases."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

STATE = SearchAttributeKey.for_keyword("JianyiState")
STAGE = SearchAttributeKey.for_keyword("JianyiStage")
LEAD_UNIT = SearchAttributeKey.for_keyword("JianyiLeadUnit")
REPLY_DUE = SearchAttributeKey.for_datetime("JianyiReplyDue")
OVERDUE = SearchAttributeKey.for_bool("JianyiOverdue")
KEY_SUPERVISION = SearchAttributeKey.for_bool("JianyiKeySupervision")
SESSION = SearchAttributeKey.for_keyword("JianyiSession")
PERIOD = SearchAttributeKey.for_keyword("JianyiPeriod")

ALL = (STATE, STAGE, LEAD_UNIT, REPLY_DUE, OVERDUE, KEY_SUPERVISION, SESSION, PERIOD)
