"""SuggestionWorkflow: one suggestion from 提 to 办结, the only writer of its records.

Orchestration only. The machine answers "may this happen?" (models/lifecycle.py), the action's
spec "what follows?" (models/actions.py), the agenda "what is due when?" (models/agenda.py),
the policy "by when?" (computed in the records activity). This workflow validates, applies the
consequences to a working copy of the case, records it through one local activity, and only
then keeps the copy; it sleeps until the next agenda time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ApplicationError

from jianyi.workflows.checks import Checked, check, decide, decode_request, refuse
from jianyi.workflows.delivery import RECORD_TIMEOUT, deliver

with workflow.unsafe.imports_passed_through():
    from jianyi.activities.records import RecordActivities
    from jianyi.models import agenda
    from jianyi.models.actions import Action, ActionContext, settle, spec_for
    from jianyi.models.case import (
        CaseState,
        Effects,
        Offices,
        Recipient,
        ReminderFired,
        StartCase,
        Transition,
    )
    from jianyi.models.commands import ActionRequest, Empty, MergeInInput
    from jianyi.models.lifecycle import Facts, Lifecycle, Move, Role, State
    from jianyi.workflows.search import upsert_for

__all__ = ["StartCase", "SuggestionWorkflow"]

SYSTEM_ACTOR = "系统"
# After an admin's 补录 (a backdated step) the agenda waits this long for the next one, so a case
# entered step by step is not reminded of deadlines its later, still unentered, steps had met.
BACKFILL_HOLD = timedelta(seconds=60)
# A record that keeps failing is a failure to surface, not to retry forever in silence.
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)


@workflow.defn(name="SuggestionWorkflow")
class SuggestionWorkflow:
    @workflow.init
    def __init__(self, start: StartCase) -> None:
        offices = Offices(congress=start.congress_office, government=start.government_office, supervision=start.supervision_office)
        self.case = start.resume or CaseState(
            id=workflow.info().workflow_id, submission=start.submission, policy=start.policy, offices=offices
        )
        self.machine = Lifecycle(self.case.state)
        self.lock = asyncio.Lock()
        self.woken = False
        self.agenda_broken = False
        self.deliveries: list[asyncio.Future[Any]] = []
        self.submission_recorded = start.resume is not None  # human actions wait for it (an update may come with the start)

    # -- the run: submit, then the agenda loop until a terminal state ---------------------------
    @workflow.run
    async def run(self, start: StartCase) -> CaseState:
        if start.resume is None:
            async with self.lock:
                await self._submit(start)
        timer: asyncio.Task[None] | None = None
        timer_at: datetime | None = None
        while not self.machine.is_terminal:
            async with self.lock:
                await self._fire_due()
            if self.machine.is_terminal:
                break
            if workflow.info().get_current_history_length() > start.history_bound:
                await self._continue_as_new(start)
            next_at = None if self.agenda_broken else agenda.next_time(self.case, workflow.now())
            if next_at != timer_at:
                if timer is not None:
                    timer.cancel()
                timer, timer_at = None, next_at
                if next_at is not None:
                    timer = asyncio.create_task(asyncio.sleep(max((next_at - workflow.now()).total_seconds(), 0.001)))
            self.woken = False
            await workflow.wait_condition(lambda t=timer: self.woken or (t is not None and t.done()))
            if timer is not None and timer.done():
                timer, timer_at = None, None
        if timer is not None:
            timer.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self.deliveries:
            await asyncio.gather(*self.deliveries, return_exceptions=True)
        return self.case

    async def _continue_as_new(self, start: StartCase) -> None:
        """A case that lives for years starts a fresh history, carrying its whole state."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self.deliveries:
            await asyncio.gather(*self.deliveries, return_exceptions=True)
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(start.model_copy(update={"resume": self.case}))

    async def _submit(self, start: StartCase) -> None:
        case = self.case.working_copy()
        effective = start.effective_at or workflow.now()
        case.submitted_at = effective
        if start.effective_at is not None:
            case.agenda_hold_until = workflow.now() + BACKFILL_HOLD
        x = ActionContext(case, "", State.SUBMITTED, start.submission, start.actor, Role(start.role), effective)
        x.start("review")
        if case.submission.period == "闭会期间":
            x.start("assign")
        payload = start.submission.model_dump(mode="json") | {"via": start.via}
        await self._commit(x, "submit", "start", start.actor, payload, role=start.role)
        self.submission_recorded = True

    @workflow.query
    def view(self) -> CaseState:
        return self.case

    # -- human actions ------------------------------------------------------------------------------
    @workflow.update(dynamic=True)
    async def on_action(self, action: str, args: Sequence[RawValue]) -> CaseState:
        request = decode_request(args)
        # An update delivered with the start runs before run(); the submission is recorded first.
        await workflow.wait_condition(lambda: self.submission_recorded)
        async with self.lock:
            checked = self._check(action, request, dated=workflow.patched("dated-acts-bounded"))
            case = self.case.working_copy()
            case.error = case.error if self.agenda_broken else ""  # a step that went through clears a past 处理异常
            if request.effective_at is not None:
                case.agenda_hold_until = workflow.now() + BACKFILL_HOLD
            x = ActionContext(case, checked.move.source, checked.move.dest, checked.payload, checked.principal, checked.role, checked.effective)
            payload = x.payload.model_dump(mode="json") | {"by": x.principal, "via": request.via}
            payload |= {"on_behalf_of": request.on_behalf_of} if request.on_behalf_of else {}
            update_id = workflow.current_update_info().id  # type: ignore[union-attr]
            await self._guarded(self._apply(action, x, request.actor, request.role, payload, update_id))
            self.woken = True
            if action == Action.REVIEW and checked.move.dest == State.MERGED:
                await self._tell_merge_target(checked.payload)
            return self.case

    @on_action.validator
    def validate(self, action: str, args: Sequence[RawValue]) -> None:
        self._check(action, decode_request(args))

    def _check(self, action: str, request: ActionRequest, dated: bool = True) -> Checked:
        return check(self.case, self.machine, action, request, workflow.now(), dated)

    def _decide(self, action: str, facts: Facts) -> Move:
        return decide(self.machine, action, facts)

    async def _apply(self, action: str, x: ActionContext[Any], actor: str, role: str, payload: dict[str, Any], key: str) -> None:
        spec_for(action).consequences(x)
        await self._commit(x, action, key, actor, payload | x.audit_extra, role=role)

    # -- merging: the target records the merged suggestion and its deputies ---------------------------
    async def _tell_merge_target(self, review: Any) -> None:
        if not workflow.patched("merge-recorded-on-target"):
            return
        handle = workflow.get_external_workflow_handle(review.merge_into)
        sub = self.case.submission
        note = MergeInInput(source_id=self.case.id, number=sub.display_number, deputies=self.case.deputies)
        try:
            await handle.signal(SuggestionWorkflow.merge_in, note)
        except Exception as exc:  # noqa: BLE001  (the target ended meanwhile: recorded, never lost)
            workflow.logger.warning("merge target %s not told: %s", review.merge_into, exc)

    @workflow.signal
    async def merge_in(self, note: MergeInInput) -> None:
        await workflow.wait_condition(lambda: self.submission_recorded)
        async with self.lock:
            if self.machine.is_terminal or note.source_id in self.case.merged_from:
                return
            case = self.case.working_copy()
            case.merged_from.append(note.source_id)
            new = [d for d in note.deputies if d not in case.deputies]
            case.submission = case.submission.model_copy(update={"co_signers": [*case.submission.co_signers, *new]})
            x = self._system(case)
            await self._guarded(self._commit(x, "merge_in", f"merge_in:{note.source_id}", SYSTEM_ACTOR, note.model_dump(mode="json")))

    # -- the agenda: reminders, notices, escalations, the evaluation window --------------------------
    async def _fire_due(self) -> None:
        if self.agenda_broken:
            return
        try:
            due = agenda.due_now(self.case, workflow.now())
        except Exception as exc:  # noqa: BLE001  (an unforeseen failure is surfaced, not retried forever)
            await self._surface(exc, "agenda")
            return
        for item, stale in due:
            if self.machine.is_terminal or self.agenda_broken:
                break
            await self._guarded(self._fire(item, stale), refuse_caller=False)

    async def _fire(self, item: agenda.AgendaItem, stale: list[agenda.AgendaItem]) -> None:
        case, now = self.case.working_copy(), workflow.now()
        case.fired += [i.key for i in stale] + [item.key]
        fired = ReminderFired(kind=item.kind, cycle=item.key, due_at=item.at,
                              stale=[ReminderFired(kind=i.kind, cycle=i.key, due_at=i.at) for i in stale])
        payload = {"kind": item.kind, "due_at": item.at.isoformat(), "skipped": [i.key for i in stale], **item.extra}
        if item.kind == "expire_evaluation":
            move = self._decide("expire_evaluation", Facts(principal=SYSTEM_ACTOR, role=Role.SYSTEM))
            x = self._system(case, move.dest, agenda.expire_evaluation(case, item, now))
            await self._commit(x, "expire_evaluation", f"agenda:{item.key}", SYSTEM_ACTOR, {"skipped": payload["skipped"]}, fired=fired)
        else:
            x = self._system(case, effects=agenda.fire(case, item, now))
            await self._commit(x, "agenda", f"agenda:{item.key}", SYSTEM_ACTOR, payload, fired=fired)

    def _system(self, case: CaseState | None = None, dest: str = "", effects: Effects | None = None) -> ActionContext[Any]:
        """A system step on (a working copy of) the case."""
        case = case or self.case.working_copy()
        return ActionContext(case, case.state, dest or case.state, Empty(), SYSTEM_ACTOR, Role.SYSTEM, workflow.now(), effects or Effects())

    # -- writing: one local activity per transition, then delivery and search attributes -------------
    async def _commit(
        self, x: ActionContext[Any], action: str, key: str, actor: str, payload: dict[str, Any],
        role: str = Role.SYSTEM, fired: ReminderFired | None = None,
    ) -> None:
        """Record the working copy; only once it is written does it become the case."""
        case = x.case
        settle(case, x.dest, x.at)
        case.seq = self.case.seq + 1
        for kind in x.effects.drop:
            case.deadlines.pop(kind, None)
        transition = Transition(
            suggestion_id=case.id, seq=case.seq, key=key, actor=actor, role=str(role), action=action,
            from_state=str(x.source), to_state=str(x.dest), payload=payload, at=workflow.now(), effective_at=x.at,
            case=case, deadlines=x.effects.deadlines, drop_deadlines=x.effects.drop, messages=x.effects.messages, reminder=fired,
        )
        result = await workflow.execute_local_activity_method(
            RecordActivities.record_transition, transition, start_to_close_timeout=RECORD_TIMEOUT, retry_policy=RECORD_RETRY,
        )
        case.deadlines.update(result.deadlines)
        upsert_for(case)
        self.case = case  # only now, when nothing can fail any more, is the step the case's
        if self.machine.state != case.state:
            self.machine.move_to(case.state)
        if result.outbox_ids:
            not_before = max(filter(None, (result.deliver_at, case.agenda_hold_until)), default=None)
            self.deliveries.append(asyncio.create_task(self._deliver(result.outbox_ids, not_before)))

    async def _guarded(self, step: Any, refuse_caller: bool = True) -> None:
        """Run a step; an unforeseen failure is surfaced (stuck, admin notice) and refused to its caller."""
        try:
            await step
        except (ApplicationError, workflow.NondeterminismError):
            raise
        except Exception as exc:  # noqa: BLE001  (ActivityError included: the records kept failing)
            await self._surface(exc, "action")
            if refuse_caller:
                raise refuse("processing_error", "处理异常：本次操作未能记录，已通知系统管理员，请稍后重试") from None

    async def _surface(self, exc: BaseException, where: str) -> None:
        """Record a processing error once: the case shows it in `stuck`, the admin is told."""
        error = f"{type(exc).__name__}: {exc}"[:500]
        workflow.logger.error("case %s: unforeseen failure in %s: %s", self.case.id, where, error)
        if where == "agenda":
            self.agenda_broken = True
        if self.case.error:
            return
        x = self._system()
        x.case.error = error
        x.tell("processing_error", [Recipient(kind="admin", name="")], error=error)
        try:
            await self._commit(x, "processing_error", f"error:{x.cycle}", SYSTEM_ACTOR, {"error": error, "where": where})
        except Exception:  # noqa: BLE001  (the records themselves fail: the worker log has it)
            self.case.error = error

    async def _deliver(self, ids: list[int], not_before: datetime | None) -> None:
        async def audit_failure(error: str) -> None:
            async with self.lock:
                await self._commit(self._system(), "delivery_failed", f"delivery_failed:{ids[0]}", SYSTEM_ACTOR, {"outbox_ids": ids, "error": error})

        await deliver(self.case.id, ids, not_before, audit_failure)
