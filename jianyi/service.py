"""The client side of the engine, shared by the CLI, the API and the tests.

It checks references against the directory (unknown unit, unknown deputy), then talks to the
suggestion's workflow: start for 提, an update for every other human action, a query for the
live state. Every refusal comes back as :class:`InputError` with a Chinese message.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from jianyi import directory
from jianyi.models.actions import Action, decode, unit_names
from jianyi.models.actions import label as action_label
from jianyi.models.bounds import check_dates, date_problem
from jianyi.models.case import CaseState
from jianyi.models.commands import (
    ActionRequest,
    InputError,
    parse_number,
    parse_submit,
    suggestion_id_of,
    suggestion_workflow_id,
    unknown_suggestion,
    validate_payload,
)
from jianyi.models.lifecycle import Refused, Role, check_backfill, check_submission
from jianyi.models.policy import CST, Policy
from jianyi.models.states import TERMINAL_VALUES
from jianyi.settings import Settings
from jianyi.workflows import search
from jianyi.workflows.suggestion import StartCase, SuggestionWorkflow


def offices_named(names: Iterable[str], offices: Iterable[str]) -> str:
    """Why these handling units are refused ("" when they are not): an office is told of cases, never handles one."""
    named = [n for n in names if n in set(offices)]
    return f"「{'、'.join(named)}」是办公室，不承办建议：请选择承办单位" if named else ""

class Engine:
    def __init__(self, client: Client, settings: Settings, policy: Policy | None = None) -> None:
        self.client = client
        self.settings = settings
        self.policy = policy or Policy()

    async def submit(
        self,
        data: dict[str, Any],
        actor: str,
        role: str = Role.DEPUTY,
        effective_at: datetime | None = None,
        via: str = "cli",
    ) -> str:
        sub = parse_submit(data)
        _check_dates(sub)
        if effective_at is not None and (problem := date_problem(effective_at, datetime.now(UTC))):
            raise InputError(f"补录的发生时间{problem}")
        # directory look-ups are blocking SQLite calls: keep them off the event loop (a worker may share it)
        known, opened, missing = await asyncio.to_thread(
            directory.submission_references, self.settings.db_url, sub.session, [sub.lead_deputy, *sub.co_signers])
        if effective_at is not None and opened and effective_at.astimezone(CST).date() < opened:
            raise InputError(f"补录的发生时间不能早于会次「{sub.session}」的开幕日（{opened.isoformat()}）")
        if sub.lead_deputy in sub.co_signers or len(set(sub.co_signers)) != len(sub.co_signers):
            raise InputError("附议代表不能与领衔代表相同，也不能重复")
        if not known:
            raise InputError(f"未知的会次「{sub.session}」，请先由管理员登记")
        if missing:
            raise InputError(f"未登记的代表：{'、'.join(missing)}")
        try:
            check_submission(actor, role, sub.lead_deputy)
            if effective_at is not None:
                check_backfill(role)
        except Refused as exc:
            raise InputError(exc.message, exc.code) from None
        start = StartCase(
            submission=sub,
            actor=actor,
            role=role,
            effective_at=effective_at,
            policy=self.policy,
            congress_office=self.settings.congress_office,
            government_office=self.settings.government_office,
            supervision_office=self.settings.supervision_office,
            via=via,
            history_bound=self.settings.history_bound,
        )
        try:
            await self.client.start_workflow(
                SuggestionWorkflow.run,
                start,
                id=sub.workflow_id,
                task_queue=self.settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                search_attributes=_initial_attributes(sub.session, sub.period),
            )
        except WorkflowAlreadyStartedError:
            raise InputError(f"建议 {sub.session} {sub.display_number} 已经提出过，不能重复提交") from None
        return sub.workflow_id

    async def act(
        self,
        suggestion_id: str,
        action: str,
        actor: str,
        role: str,
        payload: dict[str, Any] | None = None,
        on_behalf_of: str = "",
        effective_at: datetime | None = None,
        via: str = "cli",
        update_id: str | None = None,
    ) -> CaseState:
        """Send one action. ``update_id`` is its idempotency key: the same id again (a retry after a
        timeout) never applies the action twice; one is generated when the caller has none."""
        if not isinstance(payload, dict | None):
            raise InputError("请求内容应为字段及其取值", f"payload must be an object, got {type(payload).__name__}")
        parsed = decode(action, payload or {})
        _check_dates(parsed)
        await self._check_references(suggestion_id, action, parsed)
        fields = {"actor": actor, "role": role, "payload": parsed.model_dump(mode="json"), "on_behalf_of": on_behalf_of,
                  "effective_at": effective_at, "via": via}
        request = validate_payload(ActionRequest, fields)
        handle = self.client.get_workflow_handle(suggestion_id_of(suggestion_id))
        return await self._send(handle, action, request, update_id or str(uuid.uuid4()), suggestion_id)

    async def _send(self, handle: WorkflowHandle[Any, Any], action: str, request: ActionRequest, update_id: str, sid: str) -> CaseState:
        """The update, retried under its own id while the case is running but the service hiccups."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.settings.action_timeout_seconds
        while True:
            left = give_up - loop.time()
            try:
                async with asyncio.timeout(max(left, 0.1)):
                    return await handle.execute_update(action, request, id=update_id, result_type=CaseState)
            except WorkflowUpdateFailedError as exc:
                cause = exc.cause
                message = cause.message if isinstance(cause, ApplicationError) else str(cause)
                raise InputError(message, f"{action_label(action)}: {cause!r}") from None
            except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
                raise Unavailable(update_id) from None
            except RPCError as exc:
                error = await _update_error(handle, exc, sid)
                if error is not None:
                    raise error from None
            if loop.time() >= give_up:
                raise Unavailable(update_id)
            await asyncio.sleep(0.5)

    async def _check_references(self, suggestion_id: str, action: str, parsed: Any) -> None:
        """What the workflow cannot see: the directory, and the other suggestion a merge names."""
        url = self.settings.db_url
        names = unit_names(action, parsed)
        missing = await asyncio.to_thread(directory.unknown_units, url, names) if names else []
        if missing:
            raise InputError(f"未知的承办单位：{'、'.join(missing)}")
        if problem := offices_named(names, self.settings.offices):
            raise InputError(problem)
        if action == Action.MARK_KEY and parsed.key and not await asyncio.to_thread(directory.supervisor_exists, url, parsed.supervisor):
            raise InputError(f"「{parsed.supervisor or '（未填写）'}」不是已登记的督办人，请先由管理员登记（jianyi admin supervisor）")
        if action == Action.REVIEW and parsed.decision == "merge":
            parsed.merge_into = await self._merge_target_id(suggestion_id, parsed.merge_into)
            await self._check_merge_target(suggestion_id_of(suggestion_id), parsed.merge_into)

    async def _merge_target_id(self, source: str, target: str) -> str:
        """``第12号`` names a suggestion of the same session; an id names any."""
        if parse_number(target):
            session = (await self.view(source)).submission.session
            return suggestion_workflow_id(session, target)
        return suggestion_id_of(target)

    async def _check_merge_target(self, source: str, target: str) -> None:
        if target == source:
            raise InputError("不能把建议并入它自己")
        try:
            case = await self.view(target)
        except InputError:
            raise InputError(f"并入的建议「{target}」不存在") from None
        if case.state in TERMINAL_VALUES:
            label = case.state_label  # 已办结, 已撤回 … or 不予立案
            raise InputError(f"并入的建议{case.submission.display_number}{'' if label.startswith('已') else '状态为'}{label}，不能再并入")

    async def recompute_open(self, actor: str, reason: str) -> list[tuple[str, list[str]]]:
        """Recompute the deadlines of every open suggestion (after a calendar or policy change).

        Returns each suggestion with the deadlines that moved (as "kind: old → new").
        """
        from sqlmodel import select

        from jianyi.models.db import session_for
        from jianyi.models.tables import Suggestion

        with session_for(self.settings.db_url) as db:
            open_ids = list(db.exec(select(Suggestion.id).where(Suggestion.state.not_in(TERMINAL_VALUES))))  # type: ignore[attr-defined]
        out: list[tuple[str, list[str]]] = []
        for sid in open_ids:
            before = (await self.view(sid)).deadlines
            after = (await self.act(sid, "recompute_deadlines", actor, Role.ADMIN, {"reason": reason})).deadlines
            moved = [
                f"{d.label}：{before[k].display_due()} → {d.display_due()}" + ("（暂定）" if d.provisional else "（确定）")
                for k, d in after.items()
                if k in before and (before[k].due_at, before[k].provisional) != (d.due_at, d.provisional)
            ]
            out.append((sid, moved))
        return out

    async def view(self, suggestion_id: str) -> CaseState:
        handle = self.client.get_workflow_handle(suggestion_id_of(suggestion_id))
        try:
            return await handle.query(SuggestionWorkflow.view)
        except RPCError as exc:
            raise _rpc_error(exc, suggestion_id) from None


def _check_dates(parsed: Any) -> None:
    try:
        check_dates(parsed, datetime.now(UTC))
    except ValueError as exc:
        raise InputError(str(exc)) from None


class Unavailable(InputError):
    """The worker (or Temporal) did not answer in time: nothing is known to be applied (exit 3)."""

    exit_code = 3

    def __init__(self, update_id: str | None) -> None:
        if update_id is None:  # a read, or nothing was sent: there is nothing to be processed later
            super().__init__("处理服务暂时不可用，请稍后重试（这次没有办理任何操作）。", "the workflow service did not answer")
        else:
            super().__init__(
                f"处理服务暂时不可用，请稍后重试。本次操作编号 {update_id}：它可能在服务恢复后才被处理；"
                f"重试时带上 --update-id {update_id}，同一操作不会被办理两次。",
                f"no answer within the action timeout (update id {update_id})",
            )
        self.update_id = update_id


async def _update_error(handle: WorkflowHandle[Any, Any], exc: RPCError, suggestion_id: str) -> InputError | None:
    """What an RPC error on an update means; None: the case runs and the update may be sent again."""
    try:
        status = (await handle.describe()).status
    except RPCError as described:
        return _rpc_error(described, suggestion_id) if described.status == RPCStatusCode.NOT_FOUND else None
    if status == WorkflowExecutionStatus.COMPLETED:
        return InputError(f"建议「{suggestion_id}」已经办结，不能再操作", str(exc))
    if status != WorkflowExecutionStatus.RUNNING:
        return InputError(f"建议「{suggestion_id}」的流程已被终止或取消（{status.name}），不能再操作，请联系系统管理员", str(exc))
    return None  # running: the update was lost in a restart or a hiccup; its id makes a retry safe


def _rpc_error(exc: RPCError, suggestion_id: str) -> InputError:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return InputError(unknown_suggestion(suggestion_id), str(exc))
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
        return Unavailable(None)
    return InputError(f"工作流服务出错：{exc.message}", str(exc))


def _initial_attributes(session: str, period: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(search.STATE, "submitted"),
            SearchAttributePair(search.STAGE, "提"),
            SearchAttributePair(search.SESSION, session),
            SearchAttributePair(search.PERIOD, period),
        ]
    )
