"""SuggestionWorkflow: one suggestion from 提 to 办结, the only writer of its records.

The machine answers "may this happen?", the policy "by when?"; this workflow decides "what
next?": which deadlines to (re)compute, whom to notify, and when to wake up. Every human action
is an update whose validator asks the machine, so a refused action leaves no trace in history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

from jianyi.workflows.delivery import RECORD_TIMEOUT, deliver

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from jianyi.models.case import (
        CaseState,
        CommitmentState,
        DeadlineRequest,
        MessageRequest,
        Recipient,
        Recorded,
        Transition,
    )
    from jianyi.models.commands import ActionRequest, InputError, SubmitInput, parse_payload
    from jianyi.models.lifecycle import (
        AWAITING_REPLY,
        HANDLING_STATES,
        HUMAN_ACTIONS,
        ROLE_LABELS,
        ROLE_RULES,
        Decision,
        Facts,
        Lifecycle,
        Refused,
        Role,
        State,
        check_backfill,
    )
    from jianyi.models.policy import Policy, at_hour, china_day, end_of_day, overdue_repeats
    from jianyi.workflows import search

SYSTEM_ACTOR = "系统"
# After an admin's 补录 (a backdated step) the agenda waits this long for the next one, so a case
# entered step by step is not reminded of deadlines its later, still unentered, steps had met.
BACKFILL_HOLD = timedelta(seconds=60)
OUTCOMES = {State.MERGED: "已并案", State.NOT_REGISTERED: "不予立案", State.WITHDRAWN: "已撤回"}


class StartCase(BaseModel):
    submission: SubmitInput
    actor: str
    role: str = Role.DEPUTY
    effective_at: datetime | None = None
    policy: Policy = Policy()
    congress_office: str = "区人大常委会代表工作委员会"
    government_office: str = "区政府办公室"
    supervision_office: str = "区政府督查室"


@dataclass
class AgendaItem:
    key: str
    at: datetime
    kind: str
    group: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """What a transition leads to, beyond the new state."""

    deadlines: list[DeadlineRequest] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    messages: list[MessageRequest] = field(default_factory=list)


def refuse(code: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=code, non_retryable=True)


@workflow.defn(name="SuggestionWorkflow")
class SuggestionWorkflow:
    @workflow.init
    def __init__(self, start: StartCase) -> None:
        self.start = start
        self.case = CaseState(id=workflow.info().workflow_id, submission=start.submission, policy=start.policy)
        self.machine = Lifecycle(self.case.state)
        self.lock = asyncio.Lock()
        self.woken = False
        self.deliveries: list[asyncio.Future[Any]] = []
        self._last_reply: dict[str, Any] = {}
        self.submission_recorded = False  # human actions wait for it (an update may come in the first task)

    # -- the run: submit, then the agenda loop until a terminal state ---------------------------
    @workflow.run
    async def run(self, start: StartCase) -> CaseState:
        async with self.lock:
            now = workflow.now()
            effective = start.effective_at or now
            self.case.submitted_at = effective
            if start.effective_at is not None:
                self.case.agenda_hold_until = now + BACKFILL_HOLD
            plan = Plan()
            if self.case.submission.period == "闭会期间":
                plan.deadlines.append(DeadlineRequest(kind="assign", rule="assign", start=effective))
            await self._commit(
                start.actor, start.role, "submit", "", State.SUBMITTED,
                start.submission.model_dump(mode="json"), effective, plan,
            )
            self.submission_recorded = True
        timer: asyncio.Task[None] | None = None
        timer_at: datetime | None = None
        while not self.machine.is_terminal:
            async with self.lock:
                await self._fire_due()
            if self.machine.is_terminal:
                break
            next_at = self._next_time()
            if next_at != timer_at:
                if timer is not None:
                    timer.cancel()
                timer, timer_at = None, next_at
                if next_at is not None:
                    delay = max((next_at - workflow.now()).total_seconds(), 0.001)
                    timer = asyncio.create_task(asyncio.sleep(delay))
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

    @workflow.query
    def view(self) -> CaseState:
        return self.case

    # -- human actions ------------------------------------------------------------------------------
    @workflow.update(dynamic=True)
    async def act(self, action: str, args: Sequence[RawValue]) -> CaseState:
        request = self._decode(args)
        # An update delivered with the start runs before run(); the submission is recorded first.
        await workflow.wait_condition(lambda: self.submission_recorded)
        async with self.lock:
            facts, payload, effective = self._check(action, request)
            try:
                decision = self.machine.apply(action, facts)
            except Refused as exc:  # the state moved while this update waited for the lock
                raise refuse(exc.code, exc.message) from None
            plan = self._plan(action, decision, payload, facts, effective)
            recorded = payload | {"by": facts.principal}
            if request.on_behalf_of:
                recorded["on_behalf_of"] = request.on_behalf_of
            if request.effective_at is not None:
                self.case.agenda_hold_until = workflow.now() + BACKFILL_HOLD
            await self._commit(request.actor, request.role, action, decision.source, decision.dest, recorded, effective, plan)
            self.woken = True
            return self.case

    @act.validator
    def validate(self, action: str, args: Sequence[RawValue]) -> None:
        self._check(action, self._decode(args))

    def _decode(self, args: Sequence[RawValue]) -> ActionRequest:
        if len(args) != 1:
            raise refuse("bad_request", "请求格式错误：应只有一个参数")
        try:
            return workflow.payload_converter().from_payload(args[0].payload, ActionRequest)
        except Exception as exc:  # noqa: BLE001  (any decoding problem is the caller's)
            raise refuse("bad_request", f"请求格式错误：{exc}") from None

    def _check(self, action: str, request: ActionRequest) -> tuple[Facts, dict[str, Any], datetime]:
        """Everything that may refuse an action, without changing anything."""
        if request.role == Role.SYSTEM or (action in ROLE_RULES and action not in HUMAN_ACTIONS):
            raise refuse("role_not_allowed", "系统操作不能由人发起")
        try:
            payload = parse_payload(action, request.payload).model_dump(mode="json")
            role = Role(request.role)
        except InputError as exc:
            raise refuse("invalid_input", exc.message) from None
        except ValueError:
            raise refuse("unknown_role", f"未知的角色「{request.role}」") from None
        principal, effective = request.actor, workflow.now()
        if request.on_behalf_of or request.effective_at:
            try:
                check_backfill(role)
            except Refused as exc:
                raise refuse(exc.code, exc.message) from None
            principal, role = self._behalf(request.on_behalf_of)
            effective = request.effective_at or effective
            if effective > workflow.now():
                raise refuse("invalid_input", "补录的发生时间不能晚于现在")
            if self.case.last_effective_at and effective < self.case.last_effective_at:
                raise refuse("invalid_input", "补录的发生时间不能早于上一步的发生时间")
        facts = self._facts(principal, role, payload, effective)
        try:
            self.machine.decide(action, facts)
        except Refused as exc:
            raise refuse(exc.code, exc.message) from None
        return facts, payload, effective

    @staticmethod
    def _behalf(on_behalf_of: str) -> tuple[str, Role]:
        role_text, _, name = on_behalf_of.partition(":")
        try:
            role = Role(role_text)
        except ValueError:
            raise refuse("invalid_input", "补录须指明代谁登记，格式为 角色:名称，如 unit:区城管局") from None
        if not name or role in (Role.ADMIN, Role.SYSTEM):
            raise refuse("invalid_input", "补录须指明代谁登记，格式为 角色:名称，如 unit:区城管局")
        return name, role

    def _facts(self, principal: str, role: Role, payload: dict[str, Any], at: datetime) -> Facts:
        c, p = self.case, self.case.policy
        sign = c.deadlines.get("sign")
        return Facts(
            principal=principal,
            role=role,
            payload=payload,
            lead_deputy=c.submission.lead_deputy,
            lead_unit=c.lead_unit,
            co_handlers=c.co_handlers,
            round=c.round,
            max_rounds=p.max_rounds,
            contact_this_round=c.round in c.contact_rounds,
            contact_required=p.contact_required,
            review_required=p.reply_review_required,
            extensions_used=c.extensions_used,
            max_extensions=p.max_extensions,
            extension_pending=c.extension_pending,
            adjustment_window_open=sign is None or at < sign.due_at,
            adjustment_window_due=sign.display_due() if sign else "",
            replied_ever=c.replies > 0,
            open_commitments=c.open_commitments,
            key_supervision=c.key_supervision,
        )

    # -- what next ----------------------------------------------------------------------------------
    def _plan(self, action: str, d: Decision, p: dict[str, Any], f: Facts, at: datetime) -> Plan:
        """Apply the action's consequences to the case and say what to compute and send."""
        c, plan = self.case, Plan()
        unit, lead = Recipient(kind="unit", name=c.lead_unit), c.submission.lead_deputy
        office = Recipient(kind="office", name=self.start.congress_office)
        if action == "review":
            told = {State.RETURNED: "returned", State.MERGED: "merged", State.NOT_REGISTERED: "not_registered"}
            if d.dest in told:
                deputies = [Recipient(kind="deputy", name=n) for n in (lead, *c.submission.co_signers)]
                plan.messages.append(
                    self._msg(told[State(d.dest)], f"{c.seq + 1}", deputies, reason=p["reason"], merge_into=p.get("merge_into", ""))
                )
        elif action == "resubmit":
            sub = c.submission.model_copy(update={k: v for k, v in p.items() if v and k in ("title", "text")})
            c.submission = sub
        elif action in ("assign", "decide_adjustment"):
            if action == "assign" or p["decision"] == "approve":
                c.lead_unit = p["lead_unit"]
                if p.get("co_handlers") is not None or action == "assign":
                    c.co_handlers = list(p.get("co_handlers") or [])
                # a co-handler made lead is no longer a co-handler; the restarted clock is not overdue
                c.co_handlers = [u for u in c.co_handlers if u != c.lead_unit]
                c.assigned_at, c.co_opinions, c.signed, c.overdue = at, {}, False, False
                plan.deadlines += [
                    DeadlineRequest(kind="sign", rule="sign", start=at),
                    DeadlineRequest(kind="reply", rule="reply", start=at),
                ]
                if c.co_handlers:
                    plan.deadlines.append(DeadlineRequest(kind="co_opinion", rule="co_opinion", start=at))
                else:
                    plan.drop.append("co_opinion")
                plan.drop.append("assign")
                cycle = f"{c.seq + 1}"
                plan.messages.append(self._msg("assigned", cycle, [Recipient(kind="unit", name=c.lead_unit)], role="主办"))
                if c.co_handlers:
                    plan.messages.append(
                        self._msg("assigned", cycle, [Recipient(kind="unit", name=u) for u in c.co_handlers], role="协办")
                    )
            else:
                plan.messages.append(self._msg("adjustment_decided", f"{c.seq + 1}", [unit], decision="不同意调整", comment=p.get("comment", "")))
        elif action == "sign":
            c.signed = True
        elif action == "request_adjustment":
            plan.messages.append(self._msg("adjustment_requested", f"{c.seq + 1}", [office], unit=f.principal, reason=p["reason"]))
        elif action == "request_extension":
            c.extension_pending = True
            plan.messages.append(self._msg("extension_requested", f"{c.seq + 1}", [office], unit=f.principal, reason=p["reason"]))
        elif action == "decide_extension":
            c.extension_pending = False
            if p["decision"] == "approve":
                c.extensions_used += 1
                c.overdue = False  # until the agenda finds the new deadline passed too
                old = c.deadlines["reply"]
                plan.deadlines.append(DeadlineRequest(kind="reply", rule="extension", start=at, base_day=old.nominal_end))
            plan.messages.append(
                self._msg("extension_decided", f"{c.seq + 1}", [unit], decision="同意延期" if p["decision"] == "approve" else "不同意延期", comment=p.get("comment", ""))
            )
        elif action == "record_contact":
            if c.round not in c.contact_rounds:
                c.contact_rounds.append(c.round)
        elif action == "co_opinion":
            c.co_opinions[f.principal] = p["text"]
            plan.messages.append(self._msg("co_opinion", f"{f.principal}-{c.seq + 1}", [unit], unit=f.principal, text=p["text"]))
        elif action == "reply":
            self._reply(p, at, plan)
        elif action == "review_reply":
            if p["decision"] == "approve":
                self._to_deputies(at, plan)
            else:
                plan.messages.append(self._msg("reply_sent_back", f"{c.seq + 1}", [unit], comment=p["comment"]))
        elif action == "evaluate":
            c.last_result = p["result"]
            if d.dest == State.REHANDLING:
                self._rehandle(at, plan, reason=f"代表对第{c.round}轮办理结果不满意，意见：{p.get('comment', '')}")
            elif d.dest == State.ESCALATED:
                c.escalation_count += 1
                plan.messages.append(
                    self._msg("escalated", f"eval-{c.round}", [self._supervision()], reason=f"经{c.round}轮办理代表仍不满意")
                )
        elif action == "resolve_escalation":
            if d.dest == State.REHANDLING:
                self._rehandle(at, plan, reason=f"督查室责令重新办理：{p['comment']}")
            else:
                c.last_result = "未解决"
        elif action == "fulfil_commitment":
            for cm in c.commitments:
                if cm.number == p["number"]:
                    cm.fulfilled = True
        elif action == "remark":
            plan.messages.append(
                self._msg("remark", f"{c.seq + 1}", [unit], actor=f"{ROLE_LABELS[f.role]}{f.principal}", text=p["text"])
            )
        elif action == "mark_key":
            c.key_supervision, c.supervisor = p["key"], p.get("supervisor", "")
            c.key_since = at if p["key"] else None
        elif action == "recompute_deadlines":
            # the calendar or the policy changed: every live deadline again from its own start
            p["previous"] = {k: d.display_due() for k, d in c.deadlines.items()}
            plan.deadlines += [
                DeadlineRequest(kind=k, rule=d.rule, start=d.start, base_day=d.start_day) for k, d in c.deadlines.items()
            ]
        elif action == "withdraw":
            if c.lead_unit:
                units = [Recipient(kind="unit", name=u) for u in (c.lead_unit, *c.co_handlers)]
                plan.messages.append(self._msg("withdrawn", "1", units, reason=p["reason"]))
        self._after(d.dest, at)
        return plan

    def _reply(self, p: dict[str, Any], at: datetime, plan: Plan) -> None:
        c = self.case
        due = c.handling_deadline
        c.replies += 1
        c.replies_on_time.append(due is None or at <= due.due_at)
        c.overdue = False
        first = len(c.commitments) + 1
        for i, cm in enumerate(p.get("commitments", [])):
            c.commitments.append(
                CommitmentState(number=first + i, round=c.round, text=cm["text"], promised_date=cm["promised_date"])
            )
        self._last_reply = p
        if self.machine.state == State.REPLY_REVIEW:
            gov = Recipient(kind="office", name=self.start.government_office)
            plan.messages.append(
                self._msg("reply_review_needed", f"{c.seq + 1}", [gov], unit=c.lead_unit, reply_class=f"{p['reply_class']}类")
            )
        else:
            self._to_deputies(at, plan, p)

    def _to_deputies(self, at: datetime, plan: Plan, reply: dict[str, Any] | None = None) -> None:
        """The reply reaches every co-signer; the lead deputy's evaluation window starts."""
        c = self.case
        reply = reply or self._last_reply
        plan.deadlines.append(DeadlineRequest(kind="evaluation", rule="evaluation", start=at))
        deputies = [Recipient(kind="deputy", name=n) for n in (c.submission.lead_deputy, *c.submission.co_signers)]
        plan.messages.append(
            self._msg("evaluation_request", f"round-{c.round}-{c.seq + 1}", deputies, unit=c.lead_unit, reply_class=f"{reply.get('reply_class', '')}类")
        )

    def _rehandle(self, at: datetime, plan: Plan, reason: str) -> None:
        c = self.case
        c.round += 1
        plan.deadlines.append(DeadlineRequest(kind="rehandle", rule="rehandle", start=at))
        plan.drop.append("evaluation")
        plan.messages.append(self._msg("rehandle_order", f"round-{c.round}", [Recipient(kind="unit", name=c.lead_unit)], reason=reason))

    def _after(self, dest: str, at: datetime) -> None:
        c = self.case
        c.state = dest
        c.last_effective_at = at
        if dest in OUTCOMES:
            c.outcome = OUTCOMES[State(dest)]
        if dest == State.CLOSED:
            c.outcome = c.outcome or c.last_result or "未表态"
            c.on_time = all(c.replies_on_time) if c.replies_on_time else None
        if self.machine.is_terminal:
            c.overdue = False

    def _supervision(self) -> Recipient:
        return Recipient(kind="office", name=self.start.supervision_office)

    def _msg(self, kind: str, cycle: str, to: list[Recipient], **context: Any) -> MessageRequest:
        """A message; on a key-supervision item whatever goes to the lead unit copies the supervisor."""
        c = self.case
        recipients = [r for r in to if r.name]
        names = {r.name for r in recipients}
        if c.key_supervision and c.supervisor and c.lead_unit in names and c.supervisor not in names:
            recipients.append(Recipient(kind="supervisor", name=c.supervisor))
        return MessageRequest(kind=kind, cycle=cycle, recipients=recipients, context=context)

    # -- the agenda: reminders, notices, escalations, the evaluation window --------------------------
    def _agenda(self) -> list[AgendaItem]:
        c, p, st = self.case, self.case.policy, self.machine.state
        items: list[AgendaItem] = []
        dl = c.deadlines
        if st == State.REGISTERED and "assign" in dl:
            items.append(AgendaItem("assign_overdue", dl["assign"].due_at, "assign_overdue", "assign"))
        if st in (State.ASSIGNED, State.ADJUSTMENT_REQUESTED) and "sign" in dl and not c.signed:
            items.append(AgendaItem(f"sign_overdue@{dl['sign'].last_day}", dl["sign"].due_at, "sign_overdue", "sign"))
        due = c.handling_deadline
        if st in AWAITING_REPLY and due is not None:
            tag = f"{due.rule}{c.round}@{due.last_day}"
            for at in due.reminders:
                days = (due.last_day - china_day(at)).days
                items.append(AgendaItem(f"remind:{tag}:{days}", at, "deadline_reminder", "handling", {"days_left": days}))
            items.append(AgendaItem(f"overdue:{tag}", due.due_at, "overdue", "handling"))
            for week, at in enumerate(overdue_repeats(due, p, workflow.now()), start=1):
                items.append(AgendaItem(f"overdue:{tag}:w{week}", at, "overdue_repeat", "handling", {"week": week}))
            nxt = len(overdue_repeats(due, p, workflow.now())) + 1
            items.append(
                AgendaItem(f"overdue:{tag}:w{nxt}", due.due_at + timedelta(days=p.overdue_repeat_days * nxt), "overdue_repeat", "handling", {"week": nxt})
            )
            if due.escalate_at:
                items.append(AgendaItem(f"escalate:{tag}", due.escalate_at, "overdue_escalation", "escalation"))
        if st in (State.ASSIGNED, State.HANDLING, State.REHANDLING) and "co_opinion" in dl:
            for unit in c.co_handlers:
                if unit not in c.co_opinions:
                    items.append(AgendaItem(f"co_opinion:{unit}@{dl['co_opinion'].last_day}", dl["co_opinion"].due_at, "co_opinion_overdue", f"co:{unit}", {"unit": unit}))
        if st == State.REPLIED and "evaluation" in dl:
            ev = dl["evaluation"]
            for at in ev.reminders:
                items.append(AgendaItem(f"eval_remind:{c.round}@{ev.last_day}", at, "evaluation_reminder", "evaluation"))
            items.append(AgendaItem(f"eval_expire:{c.round}@{ev.last_day}", ev.due_at, "expire_evaluation", "evaluation_end"))
        if st == State.FOLLOW_UP:
            for cm in c.commitments:
                if not cm.fulfilled:
                    items.append(AgendaItem(f"commitment_due:{cm.number}", at_hour(cm.promised_date, p.reminder_hour), "commitment_due", f"c{cm.number}", {"number": cm.number}))
                    items.append(AgendaItem(f"commitment_missed:{cm.number}", end_of_day(cm.promised_date), "commitment_missed", f"cm{cm.number}", {"number": cm.number}))
        if c.key_supervision and c.key_since and st in (*HANDLING_STATES, State.ESCALATED, State.FOLLOW_UP):
            step = timedelta(days=p.key_supervision_repeat_days)
            k = 1
            while c.key_since + step * k <= workflow.now():
                k += 1
            for n in range(1, k + 1):
                items.append(AgendaItem(f"key:{n}", c.key_since + step * n, "key_reminder", "key"))
        return [i for i in items if i.key not in c.fired]

    def _next_time(self) -> datetime | None:
        nxt = min((i.at for i in self._agenda()), default=None)
        hold = self.case.agenda_hold_until
        if nxt is not None and hold is not None and nxt < hold:
            return hold
        return nxt

    async def _fire_due(self) -> None:
        """Fire what is due; of several due in one group only the latest (stale ones are skipped)."""
        now = workflow.now()
        if self.case.agenda_hold_until and now < self.case.agenda_hold_until:
            return
        due = [i for i in self._agenda() if i.at <= now]
        latest: dict[str, AgendaItem] = {}
        for item in sorted(due, key=lambda i: i.at):
            latest[item.group] = item
        fire = sorted(latest.values(), key=lambda i: i.at)
        stale = [i for i in due if i not in fire]
        self.case.fired.extend(i.key for i in stale)
        for item in fire:
            if self.machine.is_terminal:
                break
            self.case.fired.append(item.key)
            await self._fire(item, [i for i in stale if i.group == item.group])

    async def _fire(self, item: AgendaItem, stale: list[AgendaItem]) -> None:
        """Fire ``item``; ``stale`` are the older items of its group, recorded as skipped with it."""
        skipped = [i.key for i in stale]
        c = self.case
        unit = Recipient(kind="unit", name=c.lead_unit)
        office = Recipient(kind="office", name=self.start.congress_office)
        plan = Plan()
        kind, cycle = item.kind, item.key
        due = c.handling_deadline
        over_days = (workflow.now() - due.due_at).days if due else 0
        to: list[Recipient]
        ctx: dict[str, Any] = dict(item.extra)
        if kind == "expire_evaluation":
            decision = self.machine.apply("expire_evaluation", Facts(principal=SYSTEM_ACTOR, role=Role.SYSTEM))
            c.last_result = "未表态"
            self._after(decision.dest, workflow.now())
            plan.messages.append(self._msg("closed", cycle, [unit], outcome="代表在评价期限内未表态（按未表态统计）"))
            await self._commit(SYSTEM_ACTOR, Role.SYSTEM, "expire_evaluation", State.REPLIED, decision.dest, {"skipped": skipped}, workflow.now(), plan, item, stale)
            return
        if kind == "deadline_reminder":
            to = [unit]
        elif kind == "overdue":
            c.overdue = True
            to = [unit, office]
        elif kind == "overdue_repeat":
            c.overdue = True
            ctx["days_over"] = over_days
            to = [unit]
        elif kind == "overdue_escalation":
            c.overdue = True
            c.escalation_count += 1
            to = [self._supervision(), unit]
        elif kind == "sign_overdue":
            to = [unit, office]
        elif kind == "co_opinion_overdue":
            to = [Recipient(kind="unit", name=item.extra["unit"])]
        elif kind == "assign_overdue":
            to = [office]
        elif kind == "evaluation_reminder":
            to = [Recipient(kind="deputy", name=c.submission.lead_deputy)]
        elif kind in ("commitment_due", "commitment_missed"):
            cm = next(x for x in c.commitments if x.number == item.extra["number"])
            ctx |= {"text": cm.text, "promised_date": cm.promised_date.isoformat()}
            to = [unit]
            if kind == "commitment_missed":
                cm.missed = True
                c.escalation_count += 1
                to = [self._supervision(), unit]
        else:  # key_reminder
            to = [unit]
        plan.messages.append(self._msg(kind, cycle, to, **ctx))
        payload = {"kind": kind, "due_at": item.at.isoformat(), "skipped": skipped, **item.extra}
        await self._commit(SYSTEM_ACTOR, Role.SYSTEM, "agenda", self.machine.state, self.machine.state, payload, workflow.now(), plan, item, stale)

    # -- writing: one local activity per transition, then delivery and search attributes -------------
    async def _commit(
        self,
        actor: str,
        role: str,
        action: str,
        source: str,
        dest: str,
        payload: dict[str, Any],
        effective: datetime,
        plan: Plan,
        item: AgendaItem | None = None,
        stale: Sequence[AgendaItem] = (),
    ) -> None:
        c = self.case
        c.seq += 1
        for kind in plan.drop:
            c.deadlines.pop(kind, None)
        transition = Transition(
            suggestion_id=c.id,
            seq=c.seq,
            actor=actor,
            role=str(role),
            action=action,
            from_state=str(source),
            to_state=str(dest),
            payload=payload,
            at=workflow.now(),
            effective_at=effective,
            case=c,
            deadlines=plan.deadlines,
            drop_deadlines=plan.drop,
            messages=plan.messages,
            reminder={
                "kind": item.kind, "cycle": item.key, "due_at": item.at.isoformat(), **item.extra,
                "stale": [{"kind": i.kind, "cycle": i.key, "due_at": i.at.isoformat()} for i in stale],
            } if item else None,
        )
        result = await workflow.execute_local_activity(
            "record_transition",
            transition,
            result_type=Recorded,
            start_to_close_timeout=RECORD_TIMEOUT,
        )
        c.deadlines.update(result.deadlines)
        if result.outbox_ids:
            self.deliveries.append(asyncio.create_task(self._deliver(result.outbox_ids, result.deliver_at)))
        self._upsert_search_attributes()

    async def _deliver(self, ids: list[int], not_before: datetime | None) -> None:
        async def audit_failure(error: str) -> None:
            async with self.lock:
                await self._commit(
                    SYSTEM_ACTOR, Role.SYSTEM, "delivery_failed", self.machine.state, self.machine.state,
                    {"outbox_ids": ids, "error": error}, workflow.now(), Plan(),
                )

        await deliver(self.case.id, ids, not_before, audit_failure)

    def _upsert_search_attributes(self) -> None:
        c = self.case
        due = c.handling_deadline
        wanted: list[SearchAttributeUpdate[Any]] = [
            search.STATE.value_set(c.state),
            search.STAGE.value_set(c.stage),
            search.LEAD_UNIT.value_set(c.lead_unit or "—"),
            search.OVERDUE.value_set(c.overdue),
            search.KEY_SUPERVISION.value_set(c.key_supervision),
            search.SESSION.value_set(c.submission.session),
            search.PERIOD.value_set(c.submission.period),
        ]
        if due is not None:
            wanted.append(search.REPLY_DUE.value_set(due.due_at))
        current = workflow.info().typed_search_attributes
        changed = [pair for pair in wanted if current.get(pair.key) != pair.value]
        if changed:
            workflow.upsert_search_attributes(changed)
