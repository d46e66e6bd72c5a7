"""The ``jianyi`` command: start the stack, act on suggestions, read their state and history.

Every action names its actor with ``--as ROLE:NAME`` (recorded in the audit). Bad input is
answered in Chinese with a non-zero exit code, never a traceback (set JIANYI_DEBUG=1 for one).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from jianyi import directory
from jianyi.cli_words import ChineseTyper
from jianyi.models.bounds import CALENDAR_MAX_BYTES, IMPORT_MAX_BYTES
from jianyi.models.commands import InputError, suggestion_id_of, unknown_suggestion
from jianyi.models.db import DatabaseProblem
from jianyi.models.lifecycle import ROLE_LABELS, STATE_LABELS, Role
from jianyi.models.policy import CST, Policy, china_day, compute, rules
from jianyi.models.stuck import KIND_NAMES, KINDS
from jianyi.settings import ServiceUnreachable, SettingError, Settings, get_settings

app = ChineseTyper(
    help="人大代表建议办理引擎：提 → 交 → 办 → 督 → 评。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
admin_app = ChineseTyper(help="管理员：承办单位、代表、会次、节假日日历。", no_args_is_help=True)
scheduler_app = ChineseTyper(help="定时任务：月度督办、承诺事项台账、每日卡滞件汇总。不带子命令时单独运行调度器。", invoke_without_command=True)
audit_app = ChineseTyper(help="审计：核验审计链。", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(audit_app, name="audit")
app.add_typer(scheduler_app, name="scheduler")

T = TypeVar("T")
_CLIENT_USED = False


class Fail(Exception):
    """An error for the user (Chinese), with the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message, self.code = message, code


class _Ctx:
    update_id: str = ""
    actor: str = ""
    role: str = ""
    on_behalf_of: str = ""
    effective_at: datetime | None = None


CTX = _Ctx()

AsOpt = Annotated[str | None, typer.Option("--as", help="操作人，格式 角色:名称，如 unit:区城管局；角色：" + "、".join(f"{r.value}（{ROLE_LABELS[r]}）" for r in Role if r is not Role.SYSTEM))]
IdArg = Annotated[str, typer.Argument(help="建议编号，如 suggestion-16-3-40 或 16-3-40")]
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]


@app.callback()
def _root(
    as_: AsOpt = None,
    for_: Annotated[str, typer.Option("--for", help="（仅管理员补录）代谁登记，格式 角色:名称")] = "",
    at: Annotated[str, typer.Option("--at", help="（仅管理员补录）实际发生时间，YYYY-MM-DD 或 YYYY-MM-DDTHH:MM（北京时间）")] = "",
    update_id: Annotated[str, typer.Option("--update-id", help="操作编号：超时后重试时带上上次给出的编号，同一操作不会办理两次")] = "",
) -> None:
    spec = as_ or os.environ.get("JIANYI_AS", "")
    if spec:
        role, _, name = spec.partition(":")
        if role not in {r.value for r in Role} or role == Role.SYSTEM or not name:
            raise Fail(f"--as 格式错误：「{spec}」，应为 角色:名称，角色为 " + "/".join(r.value for r in Role if r is not Role.SYSTEM))
        CTX.actor, CTX.role = name, role
    CTX.on_behalf_of = for_
    CTX.update_id = update_id.strip()
    CTX.effective_at = parse_moment(at, "--at") if at else None


def need_actor() -> tuple[str, str]:
    """Who acts: ``--as ROLE:NAME`` must name an existing, active account of that role (bound to NAME)."""
    if not CTX.actor:
        raise Fail("请用 --as 角色:名称 指明操作人，如 --as unit:区城管局")
    from jianyi.accounts import account_for

    if account_for(settings().db_url, CTX.role, CTX.actor) is None:
        raise Fail(f"没有角色为「{ROLE_LABELS[CTX.role]}」、名为「{CTX.actor}」的有效账号：请管理员先用 jianyi admin account add 创建", 2)
    return CTX.actor, CTX.role


def read_at_most(path: Path, limit: int) -> bytes:
    """A file's first ``limit`` bytes (a reader past its bound says so, without holding the rest)."""
    try:
        with path.open("rb") as f:
            return f.read(limit)
    except OSError as exc:
        raise Fail(f"无法读取文件「{path}」：{exc.strerror}") from None


def parse_moment(text: str, what: str) -> datetime:
    """``YYYY-MM-DD`` (09:00 China time) or ``YYYY-MM-DDTHH:MM`` (China time unless an offset is given)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(9), CST)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Fail(f"{what} 日期格式错误：「{text}」，应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CST)


def settings() -> Settings:
    return get_settings()


def run(coro_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    return asyncio.run(coro_fn(*args))


async def _engine():  # noqa: ANN202
    from jianyi.service import Engine
    from jianyi.temporal import connect

    global _CLIENT_USED
    s = settings()
    _CLIENT_USED = True  # the SDK's runtime exists from the first attempt, failed or not (its threads abort a normal exit)
    try:
        client = await connect(s, quiet=True)
    except SettingError:
        raise
    except Exception as exc:  # noqa: BLE001  (any connection failure reads the same to a user)
        detail = f"详情：{exc}" if os.environ.get("JIANYI_DEBUG") else "（设置 JIANYI_DEBUG=1 可查看详情）"
        raise Fail(f"无法连接 Temporal 服务（{s.temporal_address}）：请先在另一个终端运行 make run。{detail}", 3) from None
    return Engine(client, s)


def records_url() -> str:
    """The records database of a reading command: one that is missing or empty is said so (exit 1),
    never read as "nothing wrong"."""
    from jianyi.queries import records_state

    url = settings().db_url
    problem = records_state(url)
    if problem:
        raise Fail(f"{problem}（{url}）：请先运行 make run 载入演示数据，或用 JIANYI_DATABASE_URL / JIANYI_VAR_DIR 指向正确的数据库")
    return url


def out_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# -- 提 ------------------------------------------------------------------------------------------
@app.command()
def submit(
    session: Annotated[str, typer.Option(help="会次代码，如 16-3（区十六届人大三次会议）")],
    number: Annotated[str, typer.Option(help="建议编号，如 第40号 或 闭会第33号")],
    title: Annotated[str, typer.Option(help="标题")],
    text: Annotated[str, typer.Option(help="建议内容")] = "",
    category: Annotated[str, typer.Option(help="类别")] = "",
    deputy: Annotated[str, typer.Option(help="领衔代表（默认为 --as 的代表）")] = "",
    cosigner: Annotated[list[str] | None, typer.Option(help="附议代表，可多次给出")] = None,
    json_: JsonOpt = False,
) -> None:
    """提出建议（代表），开始一件建议的办理流程。"""
    actor, role = need_actor()
    data = {"session": session, "number": number, "title": title, "text": text, "category": category,
            "lead_deputy": deputy or actor, "co_signers": cosigner or []}

    async def go() -> str:
        engine = await _engine()
        return await engine.submit(data, actor, role, CTX.effective_at)

    sid = run(go)
    if json_:
        out_json({"id": sid})
    else:
        typer.echo(f"已提出：{sid}")


def _act(suggestion_id: str, action: str, payload: dict[str, Any], json_: bool = False) -> None:
    actor, role = need_actor()

    async def go():  # noqa: ANN202
        engine = await _engine()
        return await engine.act(
            suggestion_id, action, actor, role, payload, CTX.on_behalf_of, CTX.effective_at, update_id=CTX.update_id or None
        )

    case = run(go)
    if json_:
        out_json(case.model_dump(mode="json"))
    else:
        typer.echo(f"{case.id}：{case.state_label}（第{case.round}轮）")


class ReviewDecision(StrEnum):
    register = "register"
    merge = "merge"
    not_register = "not_register"
    return_ = "return"


class Approval(StrEnum):
    approve = "approve"
    refuse = "refuse"


@app.command()
def review(
    suggestion_id: IdArg,
    decision: Annotated[ReviewDecision, typer.Option(help="register 立案 / merge 并案 / not_register 不予立案 / return 退回修改")],
    reason: Annotated[str, typer.Option(help="理由")] = "",
    merge_into: Annotated[str, typer.Option(help="并入的建议编号")] = "",
) -> None:
    """阅看（代表工委）：立案、并案、不予立案或退回修改。"""
    _act(suggestion_id, "review", {"decision": decision.value, "reason": reason, "merge_into": merge_into})


@app.command()
def resubmit(suggestion_id: IdArg, title: str = "", text: str = "") -> None:
    """重新提交退回修改的建议（领衔代表）。"""
    _act(suggestion_id, "resubmit", {"title": title, "text": text})


@app.command()
def assign(
    suggestion_id: IdArg,
    lead: Annotated[str, typer.Option(help="主办单位")],
    co: Annotated[list[str] | None, typer.Option(help="协办单位，可多次给出")] = None,
    note: str = "",
) -> None:
    """交办（代表工委 / 政府办）：指定主办和协办单位，答复期限开始计算。"""
    _act(suggestion_id, "assign", {"lead_unit": lead, "co_handlers": co or [], "note": note})


@app.command()
def sign(suggestion_id: IdArg) -> None:
    """签收（主办单位）。"""
    _act(suggestion_id, "sign", {})


@app.command()
def adjust(suggestion_id: IdArg, reason: Annotated[str, typer.Option(help="申请调整的理由")], suggest: str = "") -> None:
    """申请调整承办单位（承办单位，须在签收期限内）。"""
    _act(suggestion_id, "request_adjustment", {"reason": reason, "suggested_unit": suggest})


@app.command("decide-adjustment")
def decide_adjustment(
    suggestion_id: IdArg,
    decision: Annotated[Approval, typer.Option(help="approve 同意 / refuse 不同意")],
    lead: Annotated[str, typer.Option(help="同意时：新的主办单位")] = "",
    co: Annotated[list[str] | None, typer.Option(help="同意时：新的协办单位")] = None,
    comment: str = "",
) -> None:
    """审批调整申请（代表工委）；同意则重新交办，期限重新计算。"""
    payload: dict[str, Any] = {"decision": decision.value, "comment": comment, "lead_unit": lead}
    if co is not None:
        payload["co_handlers"] = co
    _act(suggestion_id, "decide_adjustment", payload)


@app.command()
def extend(suggestion_id: IdArg, reason: Annotated[str, typer.Option(help="延期理由")]) -> None:
    """申请延期答复（主办单位，最多一次）。"""
    _act(suggestion_id, "request_extension", {"reason": reason})


@app.command("decide-extension")
def decide_extension(suggestion_id: IdArg, decision: Annotated[Approval, typer.Option(help="approve / refuse")], comment: str = "") -> None:
    """审批延期申请（代表工委）。"""
    _act(suggestion_id, "decide_extension", {"decision": decision.value, "comment": comment})


@app.command()
def contact(
    suggestion_id: IdArg,
    method: Annotated[str, typer.Option(help="座谈 / 上门 / 电话 / 书面")],
    on: Annotated[str, typer.Option(help="沟通日期 YYYY-MM-DD")],
    note: str = "",
) -> None:
    """记录与代表的沟通（承办单位）；答复前必须有沟通记录。"""
    _act(suggestion_id, "record_contact", {"method": method, "on": on, "note": note})


@app.command()
def opinion(suggestion_id: IdArg, text: Annotated[str, typer.Option(help="协办意见")]) -> None:
    """提交协办意见（协办单位）。"""
    _act(suggestion_id, "co_opinion", {"text": text})


@app.command()
def reply(
    suggestion_id: IdArg,
    class_: Annotated[str, typer.Option("--class", help="答复类别 A/B/C/D")],
    text: Annotated[str, typer.Option(help="答复内容")],
    signed_by: Annotated[str, typer.Option(help="签发人")],
    commitment: Annotated[list[str] | None, typer.Option(help="承诺事项（B/C类），格式 内容@YYYY-MM-DD，可多次给出")] = None,
) -> None:
    """答复代表（主办单位）。"""
    commitments = []
    for item in commitment or []:
        text_part, sep, day = item.rpartition("@")
        if not sep:
            raise Fail(f"承诺事项格式错误：「{item}」，应为 内容@YYYY-MM-DD")
        commitments.append({"text": text_part, "promised_date": day})
    _act(suggestion_id, "reply", {"reply_class": class_, "text": text, "signed_by": signed_by, "commitments": commitments})


@app.command("review-reply")
def review_reply(suggestion_id: IdArg, decision: Annotated[Approval, typer.Option(help="approve 通过 / refuse 退回")], comment: str = "") -> None:
    """审核答复（政府办）：通过后送达代表，退回则重新答复。"""
    _act(suggestion_id, "review_reply", {"decision": decision.value, "comment": comment})


@app.command()
def evaluate(
    suggestion_id: IdArg,
    work: Annotated[str, typer.Option(help="对办理工作：满意 / 基本满意 / 不满意")],
    result: Annotated[str, typer.Option(help="对办理结果：满意 / 基本满意 / 不满意")],
    comment: str = "",
) -> None:
    """评价（领衔代表）：不满意则重新办理，最后一轮仍不满意则移交督查室。"""
    _act(suggestion_id, "evaluate", {"work": work, "result": result, "comment": comment})


@app.command()
def remark(suggestion_id: IdArg, text: Annotated[str, typer.Option(help="督办意见")]) -> None:
    """督办批注（督办人、代表工委、督查室）。"""
    _act(suggestion_id, "remark", {"text": text})


@app.command()
def key(
    suggestion_id: IdArg,
    supervisor: Annotated[str, typer.Option(help="督办人（须已由管理员登记：jianyi admin supervisor）")] = "",
    off: Annotated[bool, typer.Option("--off", help="取消重点督办")] = False,
) -> None:
    """设定重点督办并指定督办人，或用 --off 取消重点督办（代表工委）。再次设定即更换督办人。"""
    _act(suggestion_id, "mark_key", {"key": not off, "supervisor": "" if off else supervisor})


@app.command("escalation")
def escalation(
    suggestion_id: IdArg,
    decision: Annotated[str, typer.Option(help="notice 通报 / rectify 限期整改 / close 结束督办")],
    comment: Annotated[str, typer.Option(help="处理意见")],
    workdays: Annotated[int, typer.Option(help="限期整改的工作日数（0 为政策默认）")] = 0,
) -> None:
    """处理逾期或承诺逾期移交的督查事项（督查室）：通报、限期整改或结束督办。"""
    _act(suggestion_id, "act_on_escalation", {"decision": decision, "comment": comment, "workdays": workdays})


@app.command("resolve-escalation")
def resolve_escalation(
    suggestion_id: IdArg,
    decision: Annotated[str, typer.Option(help="rehandle 责令重新办理 / close 按未解决办结")],
    comment: Annotated[str, typer.Option(help="处理意见")],
) -> None:
    """处理移交的建议（督查室）。"""
    _act(suggestion_id, "resolve_escalation", {"decision": decision, "comment": comment})


@app.command()
def fulfil(suggestion_id: IdArg, number: Annotated[int, typer.Option(help="承诺事项编号")], text: Annotated[str, typer.Option(help="兑现情况")]) -> None:
    """兑现承诺事项并补充答复（主办单位）。"""
    _act(suggestion_id, "fulfil_commitment", {"number": number, "text": text})


@app.command("commitment-progress")
def commitment_progress(
    suggestion_id: IdArg,
    number: Annotated[int, typer.Option(help="承诺事项编号")],
    text: Annotated[str, typer.Option(help="进展情况")],
    period: Annotated[str, typer.Option(help="台账期次，如 2025-03")] = "",
) -> None:
    """报告承诺事项进展（主办单位），记入承诺事项台账。"""
    _act(suggestion_id, "report_progress", {"number": number, "text": text, "period": period})


@app.command()
def withdraw(suggestion_id: IdArg, reason: Annotated[str, typer.Option(help="撤回理由")]) -> None:
    """撤回建议（领衔代表，答复之前）。"""
    _act(suggestion_id, "withdraw", {"reason": reason})


# -- reading ---------------------------------------------------------------------------------------
@app.command()
def status(suggestion_id: IdArg, json_: JsonOpt = False) -> None:
    """一件建议的实时状态与全部期限（来自工作流）。"""
    from jianyi.models.actions import label as action_label
    from jianyi.models.lifecycle import allowed_actions
    from jianyi.queries import waiting_on

    if CTX.role:
        need_actor()  # "what may I do now" is answered only for an account that exists (a typo is said, not ignored)

    async def go():  # noqa: ANN202
        engine = await _engine()
        return await engine.view(suggestion_id)

    case = run(go)
    if json_:
        out_json(case.model_dump(mode="json") | {"state_label": case.state_label, "stage": case.stage})
        return
    s = case.submission
    lines = [
        f"{s.display_number}《{s.title}》",
        f"  编号：{case.id}    会次：{s.session}    {s.period}",
        f"  领衔代表：{s.lead_deputy}" + (f"（附议：{'、'.join(s.co_signers)}）" if s.co_signers else ""),
        f"  状态：{case.state_label}    阶段：{case.stage}    轮次：{case.round}",
    ]
    if case.lead_unit:
        lines.append(f"  主办：{case.lead_unit}" + (f"    协办：{'、'.join(case.co_handlers)}" if case.co_handlers else ""))
    flags = [t for t, on in (("逾期", case.overdue), (f"重点督办（督办人：{case.supervisor}）", case.key_supervision)) if on]
    if case.escalation_count:
        flags.append(f"移交督查室{case.escalation_count}次")
    if case.error:
        flags.append(f"处理异常：{case.error}")
    if flags:
        lines.append(f"  标记：{'、'.join(flags)}")
    if case.outcome:
        lines.append(f"  结果：{case.outcome}" + ("" if case.on_time is None else ("（按期）" if case.on_time else "（逾期）")))
    waiting, left, _ = waiting_on(records_url(), case.state, case.deadlines, datetime.now(UTC))
    for kind, d in case.deadlines.items():
        mark = ("（暂定）" if d.provisional else "") + (f"    当前：{left}" if kind == waiting else "")
        lines.append(f"  {d.label}：{d.display_due()}{mark}")
        lines.append(f"      {d.explanation}")
    for c in case.commitments:
        lines.append(f"  承诺事项{c.number}：{c.text}（{c.promised_date}）{'已兑现' if c.fulfilled else '未兑现'}")
    for e in case.escalations:
        state = e.standing
        lines.append(f"  督查事项{e.number}：{e.reason}（{china_day(e.escalated_at)}）{'；'.join(e.steps)} {state}")
    if CTX.role:
        acts = allowed_actions(case, CTX.actor, Role(CTX.role), datetime.now(UTC))
        if acts:
            lines.append(f"  {ROLE_LABELS[CTX.role]}「{CTX.actor}」现在可办：{'、'.join(action_label(a) for a in acts)}")
    typer.echo("\n".join(lines))


@app.command()
def timeline(suggestion_id: IdArg, json_: JsonOpt = False) -> None:
    """一件建议的全部审计事件，附交办后经过的工作日数。"""
    from jianyi.queries import describe_event
    from jianyi.queries import timeline as read_timeline

    sug, entries = read_timeline(records_url(), suggestion_id_of(suggestion_id))
    if sug is None and not entries:
        raise Fail(unknown_suggestion(suggestion_id))
    if json_:
        out_json([e.__dict__ for e in entries])
        return
    if sug:
        typer.echo(f"{sug.number}《{sug.title}》  当前：{STATE_LABELS.get(sug.state, sug.state)}")
    for e in entries:
        when = datetime.fromisoformat(e.effective_at).astimezone(CST).strftime("%Y-%m-%d %H:%M")
        since = "" if e.workdays_since_assignment is None else f"[交办后第{e.workdays_since_assignment}个工作日]"
        typer.echo(f"{e.seq:>3}. {when} {since:<14} {describe_event(e)}")


@app.command()
def stuck(
    unit: Annotated[str, typer.Option(help="只看某个单位主办或协办的")] = "",
    kind: Annotated[str, typer.Option(help="只看一类：" + "、".join(f"{k.name}（{k.label}）" for k in KINDS))] = "",
    session: Annotated[str, typer.Option(help="只看某个会次")] = "",
    page: Annotated[int, typer.Option(help="第几页（每页50件）", min=1)] = 1,
    json_: JsonOpt = False,
) -> None:
    """卡住的建议，最紧急的在前：处理异常、督查室督办中、逾期、承诺逾期、超期未签收、未交办、未阅看、协办意见逾期、待评价。"""
    from jianyi.queries import stuck_cases

    if kind and kind not in KIND_NAMES:
        raise Fail(f"未知的类别「{kind}」，可选：{'、'.join(KIND_NAMES)}")
    found = stuck_cases(records_url(), datetime.now(UTC), unit or None, kind=kind or None, session=session or None, page=page)
    if json_:
        out_json({"total": found.total, "page": found.page, "counts": found.counts, "cases": [c.to_json() for c in found.cases]})
        return
    if not found.total:
        typer.echo("没有卡住的建议。")
        return
    for c in found.cases:
        key_mark = f"【重点督办·{c.supervisor}】" if c.key_supervision else ""
        typer.echo(f"{c.id}  {c.number}《{c.title}》{key_mark}")
        typer.echo(f"    {c.state}｜主办：{c.lead_unit or '—'}｜{c.due_label}：{c.reply_due or '—'}｜{'；'.join(c.reasons)}")
    counts = "、".join(f"{KIND_NAMES[k].label}{n}件" for k, n in found.counts.items() if n)
    shown = f"第{found.page}/{found.pages}页，" if found.pages > 1 else ""
    typer.echo(f"共 {found.total} 件（{shown}{counts}）。")


@app.command()
def deadline(
    rule: Annotated[str, typer.Option(help="期限规则：" + "、".join(f"{k}（{r.label}）" for k, r in rules(Policy()).items()))],
    start: Annotated[str, typer.Option(help="起算时间 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM（北京时间）")],
    json_: JsonOpt = False,
) -> None:
    """按政策计算一个期限并说明理由（含节假日与调休）。"""
    from jianyi.models.db import load_calendar, session_for

    known = rules(Policy())
    if rule not in known:
        raise Fail(f"未知的期限规则「{rule}」，可选：{'、'.join(known)}")
    from jianyi.models.bounds import date_problem

    moment = parse_moment(start, "--start")
    if problem := date_problem(moment, datetime.now(UTC)):
        raise Fail(f"--start {problem}")
    with session_for(settings().db_url) as db:
        calendar = load_calendar(db)
    d = compute(rule, moment, Policy(), calendar)
    if json_:
        out_json(d.model_dump(mode="json"))
        return
    typer.echo(f"截止：{d.display_due()}（北京时间）{'（暂定）' if d.provisional else ''}")
    typer.echo(d.explanation)


@app.command()
def outbox(
    failed: Annotated[bool, typer.Option("--failed", help="只看发送失败或无地址的")] = False,
    suggestion: Annotated[str, typer.Option(help="只看某件建议的（建议编号）")] = "",
    show_address: Annotated[bool, typer.Option("--show-address", help="（仅管理员，记入审计）显示完整地址，含机器人密钥和手机号")] = False,
    json_: JsonOpt = False,
) -> None:
    """通知发件箱：每条提醒、通知的收件单位和发送状态（地址中的密钥和手机号已遮盖）。"""
    from jianyi.models.notices import status_text
    from jianyi.queries import outbox_rows

    url = records_url()
    if show_address:
        _audit_full_addresses(url)
    rows = outbox_rows(url, failed, suggestion_id_of(suggestion) if suggestion else None, masked=not show_address)
    if json_:
        out_json([r.model_dump(mode="json") for r in rows])
        return
    for r in rows:
        status = status_text(r.status, f"{r.hold_until.astimezone(CST):%m-%d %H:%M}" if r.hold_until else "")
        typer.echo(f"{r.id:>5} {status} {r.recipient} <{r.address or '—'}> {r.subject}")
        if r.last_error:
            typer.echo(f"      {'原因' if r.status == 'skipped' else '错误'}：{r.last_error}")
    typer.echo(f"共 {len(rows)} 条。")


def _audit_full_addresses(url: str) -> None:
    """Only an admin sees full addresses, and the admin log says so."""
    from jianyi.adminlog import record_admin_event
    from jianyi.models.db import session_for

    if CTX.role != Role.ADMIN:
        raise Fail("只有系统管理员（--as admin:姓名）可以查看完整地址")
    need_actor()
    with session_for(url) as db:
        record_admin_event(db, CTX.actor, CTX.role, "show_full_addresses", {"command": "outbox"})
        db.commit()


@audit_app.command("verify")
def audit_verify(
    json_: JsonOpt = False,
    deep: Annotated[bool, typer.Option("--deep", help="再与 Temporal 中各工作流的历史逐一比对（需 Temporal 服务）")] = False,
    anchor: Annotated[Path | None, typer.Option("--anchor", help="审计锚定文件（jianyi audit anchor 生成）：同时核验锚定之前的事件未被改写")] = None,
) -> None:
    """核验每件建议的审计哈希链，指出第一个被改动的事件；--deep 再与工作流历史比对。"""
    from jianyi.queries import verify_audit

    count, events, breaks = verify_audit(records_url())
    if deep:
        breaks += run(_deep_check)
    if anchor is not None:
        breaks += _anchor_breaks(anchor)
    if json_:
        out_json({"suggestions": count, "events": events, "ok": not breaks, "breaks": [b.__dict__ for b in breaks]})
    elif not breaks:
        typer.echo(f"审计链完整：{count} 件建议，{events} 个事件。")
    else:
        for b in breaks:
            typer.echo(f"审计链断裂：{b.suggestion_id} 第{b.seq}个事件（id={b.event_id}）：{b.problem}")
    if breaks:
        raise typer.Exit(4)


async def _deep_check() -> list[Any]:
    from jianyi.crosscheck import cross_check

    engine = await _engine()
    _, problems = await cross_check(engine.client, settings().db_url)
    return problems


# -- the audit anchor: chain heads signed with a key kept outside the records database ---------------
def audit_key() -> bytes:
    """The anchor's HMAC key, from the file named by setting audit_key_file (outside the database)."""
    from jianyi.models.audit import AnchorError, check_key

    path = settings().audit_key_file
    if not path:
        raise SettingError("audit_key_file", "未设置审计密钥文件；生成方法：python -c \"import secrets; print(secrets.token_hex(32))\" > 密钥文件，并设为仅本人可读（chmod 600）")
    try:
        return check_key(Path(path).read_bytes())
    except OSError as exc:
        raise SettingError("audit_key_file", f"无法读取审计密钥文件「{path}」：{exc.strerror}") from None
    except AnchorError as exc:
        raise SettingError("audit_key_file", exc.message) from None


@audit_app.command("anchor")
def audit_anchor(out: Annotated[Path, typer.Option("--out", help="锚定文件的保存位置（由审计人保管，不要放在数据库旁）")], json_: JsonOpt = False) -> None:
    """锚定审计链：把今天每件建议的链头（最后序号与哈希）用数据库之外的密钥签名，写入文件。"""
    from jianyi.models.audit import sign_anchor
    from jianyi.queries import chain_heads

    records_url()
    key = audit_key()
    heads = chain_heads(settings().db_url)
    document = sign_anchor(heads, key, datetime.now(UTC).isoformat(timespec="seconds"))
    try:
        out.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    except OSError as exc:
        raise Fail(f"无法写入锚定文件「{out}」：{exc.strerror}") from None
    if json_:
        out_json({"file": str(out), "heads": len(heads), "made_at": document["made_at"]})
    else:
        typer.echo(f"已锚定 {len(heads)} 条审计链，写入 {out}。请由审计人另行保管此文件；核验：jianyi audit verify --anchor {out}")


def _anchor_breaks(path: Path) -> list[Any]:
    from jianyi.models.audit import AnchorError, open_anchor
    from jianyi.queries import verify_against_anchor

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise Fail(f"无法读取锚定文件「{path}」：{exc.strerror}") from None
    except ValueError:
        raise Fail(f"锚定文件「{path}」不是有效的 JSON") from None
    try:
        heads = open_anchor(document, audit_key())
    except AnchorError as exc:
        raise Fail(exc.message, 4) from None
    return verify_against_anchor(settings().db_url, heads)


# -- scheduler -------------------------------------------------------------------------------------------
@scheduler_app.callback()
def scheduler_main(ctx: typer.Context) -> None:
    """不带子命令：单独运行调度器（与 jianyi up 中的相同）。"""
    if ctx.invoked_subcommand is None:
        from jianyi.scheduler import run_alone

        global _CLIENT_USED
        _CLIENT_USED = True
        asyncio.run(run_alone(settings()))


@scheduler_app.command("jobs")
def scheduler_jobs(json_: JsonOpt = False) -> None:
    """列出定时任务及其下次执行时间（按节假日日历）。"""
    from jianyi.models.db import load_calendar, session_for
    from jianyi.scheduler import next_fires, set_calendar, validate_schedule

    s = settings()
    validate_schedule(s)
    with session_for(s.db_url) as db:
        calendar = load_calendar(db)
    set_calendar(calendar)
    rows = next_fires(s, datetime.now(s.tz))
    guessed = lambda nxt: nxt is not None and calendar.is_provisional(nxt.astimezone(s.tz).date())  # noqa: E731
    if json_:
        out_json([{"job": spec.name, "label": spec.label, "cron": cron, "next_fire": nxt, "provisional": guessed(nxt)} for spec, cron, nxt in rows])
        return
    for spec, cron, nxt in rows:
        when = nxt.astimezone(s.tz).strftime("%Y-%m-%d %H:%M") if nxt else "—"
        if guessed(nxt):  # e.g. 2027-01-01 under the Monday–Friday guess: a holiday once the year's schedule is loaded
            when += f"（暂定：{nxt.astimezone(s.tz).year}年节假日安排尚未载入，按周一至周五计；载入后，运行中的调度器一小时内按日历改定）"
        typer.echo(f"{spec.name:<8} {spec.label:<16} 下次：{when}（{s.timezone}；cron「{cron}」，{'仅每月第一个工作日' if spec.only != 'workday' else '仅工作日'}）")


@scheduler_app.command("fire")
def scheduler_fire(
    job: Annotated[str, typer.Argument(help="monthly / ledger / daily")],
    period: Annotated[str, typer.Option(help="期次：monthly/ledger 为 YYYY-MM，daily 为 YYYY-MM-DD；默认为当前期次")] = "",
) -> None:
    """手动触发一次定时任务（立即发送，不受工作时间限制）；同一期次只发送一次。"""
    from jianyi.scheduler import (
        JOBS,
        current_period,
        parse_period,
        start_digest,
        trigger_for,
        workflow_id,
    )

    s = settings()
    if job not in JOBS:
        raise Fail(f"未知的定时任务「{job}」，可选：{'、'.join(JOBS)}")
    spec = JOBS[job]
    try:
        chosen = parse_period(spec, period) if period else current_period(spec, trigger_for(spec, s), datetime.now(s.tz))
    except ValueError as exc:
        raise Fail(str(exc)) from None
    if chosen is None:
        raise Fail("找不到当前期次")

    async def go() -> bool:
        engine = await _engine()
        return await start_digest(engine.client, s, job, chosen, immediate=True)

    started = run(go)
    wid = workflow_id(spec, chosen, s.instance)
    typer.echo(f"已触发 {wid}" if started else f"{wid} 本期已触发过，不会重复发送")


# -- admin -----------------------------------------------------------------------------------------
@admin_app.callback()
def admin_only(ctx: typer.Context) -> None:
    """Every admin command needs an admin account; the very first admin account may be made without one."""
    from jianyi.accounts import has_admin

    if _reading_help(ctx):
        return  # reading how to use a command needs no account
    if ctx.invoked_subcommand == "migrate":
        return  # the schema comes first: before it is current, the accounts cannot even be read
    if ctx.invoked_subcommand == "account" and not has_admin(settings().db_url):
        return  # bootstrap: `jianyi admin account add --role admin …` on a fresh server
    if CTX.role != Role.ADMIN:
        raise Fail("管理命令只能由系统管理员账号执行：请用 --as admin:登录名", 2)
    need_actor()


def _reading_help(ctx: typer.Context) -> bool:
    """`--help` anywhere, or the `account` group named with nothing after it (which shows its help)."""
    import sys

    args = sys.argv[1:]
    return "--help" in args or (ctx.invoked_subcommand == "account" and args[-1:] == ["account"])


account_app = ChineseTyper(help="账号：创建、重置密码、停用、启用、列出，以及 API 令牌。", no_args_is_help=True)
admin_app.add_typer(account_app, name="account")


@account_app.command("add")
def account_add(
    login: Annotated[str, typer.Option(help="登录名")],
    role: Annotated[str, typer.Option(help="角色：" + "/".join(r.value for r in Role if r is not Role.SYSTEM))],
    name: Annotated[str, typer.Option(help="显示名（如 张三）")] = "",
    binding: Annotated[str, typer.Option(help="绑定的承办单位、代表或督办人（unit/deputy/supervisor 必填）")] = "",
) -> None:
    """创建账号，打印一次初始密码（首次登录须修改）。"""
    from jianyi.accounts import add_account, has_admin

    url = settings().db_url
    if not has_admin(url) and role != Role.ADMIN:
        raise Fail("尚无管理员账号：请先创建一个 --role admin 的账号", 2)
    password = add_account(url, login, name, role, binding, actor=CTX.actor or "（初始化）")
    typer.echo(f"已创建账号：{login}（{ROLE_LABELS.get(role, role)}{f'，绑定{binding}' if binding else ''}）初始密码：{password}（只显示这一次，首次登录须修改）")


@account_app.command("reset")
def account_reset(login: str) -> None:
    """重置密码（打印一次新的初始密码，并解除锁定）。"""
    from jianyi.accounts import reset_password

    typer.echo(f"账号 {login} 的新初始密码：{reset_password(settings().db_url, login, actor=CTX.actor)}（只显示这一次）")


@account_app.command("disable")
def account_disable(login: str) -> None:
    """停用账号（不删除，审计记录保留）。"""
    from jianyi.accounts import set_active

    set_active(settings().db_url, login, False, actor=CTX.actor, acting_login=_acting_login())
    typer.echo(f"已停用账号：{login}")


def _acting_login() -> str:
    """The login of the account ``--as`` names ("" without one: the very first admin is made so)."""
    from jianyi.accounts import account_for

    me = account_for(settings().db_url, CTX.role, CTX.actor) if CTX.role else None
    return me.login if me is not None else ""


@account_app.command("enable")
def account_enable(login: str) -> None:
    """重新启用账号。"""
    from jianyi.accounts import set_active

    set_active(settings().db_url, login, True, actor=CTX.actor)
    typer.echo(f"已启用账号：{login}")


@account_app.command("list")
def account_list(json_: JsonOpt = False) -> None:
    """列出账号（不含密码）。"""
    from jianyi.accounts import list_accounts

    rows = [{"login": a.login, "name": a.display_name, "role": a.role, "binding": a.binding, "active": a.active,
             "must_change": a.must_change} for a in list_accounts(settings().db_url)]
    if json_:
        out_json(rows)
        return
    if not rows:
        typer.echo("还没有账号：用 jianyi admin account add --login 登录名 --role admin 创建第一个管理员。")
        return
    for r in rows:
        typer.echo(f"{r['login']:<16} {ROLE_LABELS.get(r['role'], r['role'])} {r['binding'] or r['name']}{'' if r['active'] else '（已停用）'}")
    typer.echo(f"共 {len(rows)} 个账号。")


@account_app.command("token")
def account_token(login: str, label: str = "") -> None:
    """为账号创建一个 API 令牌（Authorization: Bearer …），只显示一次。"""
    from jianyi.accounts import create_token

    typer.echo(create_token(settings().db_url, login, label, actor=CTX.actor))
ChannelOpt = Annotated[str | None, typer.Option(help="通知通道：email（邮件）/ wecom（企业微信机器人）/ dingtalk（钉钉机器人）/ webhook / sms（短信）；默认 email")]
WebhookOpt = Annotated[str | None, typer.Option(help="机器人或 webhook 地址（通道为 wecom / dingtalk / webhook 时必填）")]
PhoneOpt = Annotated[str | None, typer.Option(help="接收短信的手机号（通道为 sms 时必填）")]
OptText = Annotated[str | None, typer.Option(help="电子邮件地址")]


@admin_app.command("migrate")
def admin_migrate() -> None:
    """把记录数据库升级到程序所需的结构（Alembic；jianyi up 和工作进程启动时也会自动执行）。"""
    from jianyi.models.db import migrate_database, safe_url

    before, after = migrate_database(settings().db_url)
    if before == after:
        typer.echo(f"记录数据库（{safe_url(settings().db_url)}）已是最新结构（{after}）。")
    else:
        typer.echo(f"记录数据库（{safe_url(settings().db_url)}）已从 {before or '空库'} 升级到 {after}。")


@admin_app.command("unit")
def admin_unit(
    name: str,
    email: OptText = None,
    kind: Annotated[str | None, typer.Option(help="单位类别，默认 政府部门")] = None,
    channel: ChannelOpt = None,
    webhook: WebhookOpt = None,
    phone: PhoneOpt = None,
) -> None:
    """登记（或更新）承办单位及其通知通道；更新时没有给出的项保持原样。"""
    from jianyi.models.tables import HandlingUnit

    v, known = _kept(HandlingUnit, name, {"email": email, "kind": kind, "channel": channel, "webhook_url": webhook, "phone": phone},
                     {"kind": "政府部门", "channel": "email"})
    directory.add_unit(settings().db_url, name, v["email"], v["kind"], v["channel"], webhook_url=v["webhook_url"], phone=v["phone"],
                       actor=CTX.actor)
    typer.echo(f"已{'更新' if known else '登记'}承办单位：{name}（{v['kind']}；通知通道：{v['channel']}）")


@admin_app.command("deputy")
def admin_deputy(name: str, email: OptText = None, phone: PhoneOpt = None, channel: ChannelOpt = None, webhook: WebhookOpt = None) -> None:
    """登记（或更新）代表及其通知通道；更新时没有给出的项保持原样。"""
    from jianyi.models.tables import Deputy

    v, known = _kept(Deputy, name, {"email": email, "phone": phone, "channel": channel, "webhook_url": webhook}, {"channel": "email"})
    directory.add_deputy(settings().db_url, name, v["email"], v["phone"], channel=v["channel"], webhook_url=v["webhook_url"],
                         actor=CTX.actor)
    typer.echo(f"已{'更新' if known else '登记'}代表：{name}（通知通道：{v['channel']}）")


@admin_app.command("supervisor")
def admin_supervisor(
    name: str,
    title: Annotated[str | None, typer.Option(help="职务，如 区人大常委会副主任")] = None,
    email: OptText = None,
    phone: PhoneOpt = None,
    channel: ChannelOpt = None,
    webhook: WebhookOpt = None,
) -> None:
    """登记（或更新）督办人：只有登记过的督办人才能被指定为重点督办件的督办人；更新时没有给出的项保持原样。"""
    from jianyi.models.tables import Supervisor

    v, known = _kept(Supervisor, name, {"title": title, "email": email, "phone": phone, "channel": channel, "webhook_url": webhook},
                     {"channel": "email"})
    directory.add_supervisor(settings().db_url, name, v["title"], v["email"], v["phone"], channel=v["channel"],
                             webhook_url=v["webhook_url"], actor=CTX.actor)
    typer.echo(f"已{'更新' if known else '登记'}督办人：{name}{'（' + v['title'] + '）' if v['title'] else ''}")


def _kept(table: Any, name: str, given: dict[str, str | None], defaults: dict[str, str]) -> tuple[dict[str, str], bool]:
    """An update changes only what it names: an option not given keeps what the directory holds (or the default)."""
    from sqlmodel import select

    from jianyi.models.db import session_for

    with session_for(settings().db_url) as db:
        row = db.exec(select(table).where(table.name == name.strip())).first()
    values = {k: v if v is not None else (getattr(row, k) or "" if row is not None else defaults.get(k, "")) for k, v in given.items()}
    return values, row is not None


@admin_app.command("session")
def admin_session(
    code: str, name: str, opened: Annotated[str, typer.Option("--opened", help="开幕日 YYYY-MM-DD（补录不得早于此日）")] = ""
) -> None:
    """登记会次，如 16-3 "武昌区第十六届人民代表大会第三次会议"。"""
    try:
        opened_on = date.fromisoformat(opened) if opened else None
    except ValueError:
        raise Fail(f"--opened 日期格式错误：「{opened}」，应为 YYYY-MM-DD") from None
    before = directory.add_session(settings().db_url, code, name, opened_on, actor=CTX.actor)
    if before and before != name.strip():
        typer.echo(f"已更新会次：{code} 名称由「{before}」改为「{name.strip()}」")
    else:
        typer.echo(f"已{'更新' if before else '登记'}会次：{code} {name.strip()}")


@admin_app.command("calendar-load")
def admin_calendar_load(file: Path) -> None:
    """从文件载入一年的节假日和调休（每行：YYYY-MM-DD 休|班 说明）。"""
    if not file.exists():
        raise Fail(f"文件不存在：{file}")
    years = directory.load_calendar_file(settings().db_url, directory.calendar_text(read_at_most(file, CALENDAR_MAX_BYTES + 1)), str(file), actor=CTX.actor)
    typer.echo(f"已载入 {'、'.join(map(str, years))} 年的节假日安排。正在重新计算未办结建议的期限 …")
    _recompute(f"载入 {'、'.join(map(str, years))} 年节假日安排（{file.name}）")


@admin_app.command("recompute")
def admin_recompute(reason: Annotated[str, typer.Option(help="原因，记入审计")] = "日历或政策调整") -> None:
    """重新计算所有未办结建议的期限（日历或政策调整后），每件记一条审计事件。"""
    _recompute(reason)


def _recompute(reason: str) -> None:
    async def go():  # noqa: ANN202
        engine = await _engine()
        return await engine.recompute_open(CTX.actor or settings().admin_name, reason)

    results = run(go)
    for sid, moved in results:
        if moved:
            typer.echo(f"{sid}：{'；'.join(moved)}")
    typer.echo(f"已重新计算 {len(results)} 件未办结建议的期限，其中 {sum(1 for _, m in results if m)} 件有变化。")


# -- reports, ledgers and Excel -----------------------------------------------------------------------
import_app = ChineseTyper(help="导入 Excel：交办清单，或旧系统中办完的一年（补录）。", no_args_is_help=True)
app.add_typer(import_app, name="import")
PeriodOpt = Annotated[str, typer.Option("--period", help="大会期间 / 闭会期间（默认两者）")]


@app.command()
def report(
    session: Annotated[str, typer.Option(help="会次，如 16-3")],
    period: PeriodOpt = "",
    xlsx: Annotated[Path | None, typer.Option(help="另存统计工作簿（每种分组一个工作表）")] = None,
    json_: JsonOpt = False,
) -> None:
    """一个会次的统计：件数、办复率、按期办复率、满意度（首次评价与最终结果）、答复类别、承诺事项、督查，及可直接使用的文字。"""
    from jianyi.reports.excel import statistics_workbook
    from jianyi.reports.figures import figures
    from jianyi.reports.load import load_cases
    from jianyi.reports.text import report_text

    rows = load_cases(records_url(), session, period or None)
    if not rows:
        if not directory.session_exists(records_url(), session):
            raise Fail(f"会次「{session}」未登记：请核对会次，或先用 jianyi admin session 登记")
        raise Fail(f"会次「{session}」{period}没有任何建议")
    f = figures(rows)
    if xlsx:
        xlsx.write_bytes(statistics_workbook(rows))
    if json_:
        out_json(_figures_json(f) | {"text": report_text(rows, period or None)})
        return
    typer.echo("\n".join(_report_lines(f)))
    typer.echo(f"\n{report_text(rows, period or None)}")
    if xlsx:
        typer.echo(f"\n统计工作簿已保存：{xlsx}")


def _report_lines(f: Any) -> list[str]:
    lines = [f"收到{f.received}件，立案{f.registered}件，并案{f.merged}件，不予立案{f.not_registered}件，撤回{f.withdrawn}件",
             f"交办{f.assigned}件，办复{f.replied}件（办复率{f.reply_rate}%），按期办复{f.on_time}件（按期办复率{f.on_time_rate}%），办结{f.closed}件"]
    for title, d in (("首次评价·办理工作", f.first_work), ("首次评价·办理结果", f.first_result),
                     ("最终结果·办理工作", f.final_work), ("最终结果·办理结果", f.final_result)):
        words = "；".join(f"{w}{d.counts[w]}件（{d.pct(w)}%）" for w in ("满意", "基本满意", "不满意"))
        lines.append(f"{title}：{words}；未表态{d.no_view}件；满意率{d.satisfied_rate}%，满意和基本满意率{d.satisfied_or_basic_rate}%")
    lines.append("答复类别：" + "，".join(f"{c}类{n}件" for c, n in f.classes.items()))
    lines.append(f"承诺事项{f.commitments['承诺']}项，已兑现{f.commitments['已兑现']}项，逾期{f.commitments['逾期']}项；"
                 f"移交督查室{f.escalations['移交']}次，已处理{f.escalations['已处理']}次")
    return lines


def _figures_json(f: Any) -> dict[str, Any]:
    def dist(d: Any) -> dict[str, Any]:
        return {w: {"count": d.counts[w], "percent": str(d.pct(w))} for w in d.counts} | {"未表态": d.no_view}

    return {"received": f.received, "registered": f.registered, "assigned": f.assigned, "replied": f.replied, "closed": f.closed,
            "withdrawn": f.withdrawn, "merged": f.merged, "not_registered": f.not_registered, "reply_rate": str(f.reply_rate),
            "on_time": f.on_time, "on_time_rate": str(f.on_time_rate), "first_work": dist(f.first_work),
            "first_result": dist(f.first_result), "final_work": dist(f.final_work), "final_result": dist(f.final_result),
            "rehandled": f.rehandled, "classes": f.classes, "commitments": f.commitments, "escalations": f.escalations}


@app.command()
def ledger(
    kind: Annotated[str, typer.Argument(help="replies（答复台账）或 commitments（承诺事项台账）")],
    session: Annotated[str, typer.Option(help="会次")],
    xlsx: Annotated[Path, typer.Option(help="保存到的 Excel 文件")],
) -> None:
    """导出两本台账之一。"""
    from jianyi.reports.excel import commitments_ledger, replies_ledger
    from jianyi.reports.load import commitment_rows, load_cases

    if not directory.session_exists(records_url(), session):
        raise Fail(f"会次「{session}」未登记：请核对会次，或先用 jianyi admin session 登记")
    if kind == "replies":
        xlsx.write_bytes(replies_ledger(load_cases(records_url(), session)))
    elif kind == "commitments":
        xlsx.write_bytes(commitments_ledger(commitment_rows(records_url(), session)))
    else:
        raise Fail("台账应为 replies（答复台账）或 commitments（承诺事项台账）")
    typer.echo(f"已保存：{xlsx}")


def _import(file: Path, history: bool) -> None:
    from jianyi.imports import import_file

    if not file.exists():
        raise Fail(f"文件不存在：{file}")
    actor, role = need_actor()
    if role != Role.ADMIN:
        raise Fail("导入只能由系统管理员账号执行：请用 --as admin:登录名", 2)

    def progress(n: int, total: int, number: str) -> None:
        typer.echo(f"  [{n}/{total}] {number}", err=True)

    async def go():  # noqa: ANN202
        engine = await _engine()
        return await import_file(engine, read_at_most(file, IMPORT_MAX_BYTES + 1), actor, history, progress)

    created, skipped = run(go)
    typer.echo(f"导入完成：新建{created}件，已存在跳过{skipped}件。")


@import_app.command("assign")
def import_assign(file: Path) -> None:
    """导入交办清单（会次、编号、标题、正文、领衔代表、联名代表、类别、期间、主办单位、协办单位）：逐件立案并交办。"""
    _import(file, history=False)


@import_app.command("history")
def import_history(file: Path) -> None:
    """导入旧系统中办完的一年（交办清单各列，加交办、签收、答复日期，答复类别，评价及重新办理）：按实际日期补录。"""
    _import(file, history=True)


# -- the stack ---------------------------------------------------------------------------------------
@app.command()
def up(demo: Annotated[bool, typer.Option(help="载入演示数据（种子报告中的真实建议）")] = True) -> None:
    """启动内置的整套服务：Temporal 开发服务、工作进程、本地邮件接收器，并载入演示数据。"""
    from jianyi.stack import run_stack

    asyncio.run(run_stack(settings(), demo))


@app.command()
def worker() -> None:
    """只启动工作进程（连接已有的 Temporal 服务）；可启动多个以横向扩展。"""
    from jianyi.worker import run_worker

    asyncio.run(run_worker(settings()))


# click's usage messages (typer vendors click), in Chinese; an unknown one is kept as it is.
USAGE = [
    (r"Missing option '([^']+)'\.?(?: Choose from:\s*(.*))?", r"缺少选项 \1"),
    (r"Missing argument '([^']+)'\.?", r"缺少参数 \1"),
    (r"No such option: (\S+)(?: \(Possible options: ([^)]*)\)| Did you mean ([^?]*)\?)?", r"没有选项 \1"),
    (r"No such command '([^']+)'\. Did you mean ([^?]*)\?", r"没有命令「\1」，是不是要用：\2？"),
    (r"No such command '([^']+)'\.?", r"没有命令「\1」"),
    (r"Option '([^']+)' requires an argument\.?", r"选项 \1 需要一个值"),
    (r"Got unexpected extra arguments? \(([^)]*)\)", r"多余的参数：\1"),
    (r"Invalid value for '([^']+)': (?:Value error, )?'?([^' ]*)'? is not one of (.*)\.", r"选项 \1 的取值「\2」无效，可选：\3"),
    (r"Invalid value for '([^']+)': '?([^' ]*)'? is not a valid integer(?: range)?\.?", r"选项 \1 的取值「\2」应为整数"),
    (r"Invalid value for '([^']+)': Input should be a valid integer.*", r"选项 \1 的取值应为整数"),
    (r"Invalid value for '([^']+)': (.*)", r"选项 \1 的取值无效：\2"),
]


def chinese_usage(message: str) -> str:
    import re

    for pattern, replacement in USAGE:
        if re.fullmatch(pattern, message.strip(), flags=re.S):
            return re.sub(pattern, replacement, message.strip(), flags=re.S).replace("'", "")
    return message


def main() -> None:
    code = 0
    try:
        result = app(standalone_mode=False)
        code = result if isinstance(result, int) else 0  # click returns a typer.Exit's code here
    except Fail as exc:
        typer.echo(f"错误：{exc.message}", err=True)
        code = exc.code
    except (SettingError, DatabaseProblem, ServiceUnreachable) as exc:
        typer.echo(f"错误：{exc.message}", err=True)
        code = exc.exit_code
    except InputError as exc:
        typer.echo(f"错误：{exc.message}", err=True)
        if os.environ.get("JIANYI_DEBUG"):
            typer.echo(f"（详情：{exc.detail}）", err=True)
        code = getattr(exc, "exit_code", 1)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        code = 130
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # noqa: BLE001  (the last line of defence: no tracebacks for users)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # click's usage errors (vendored by typer)
            if exc.format_message():  # (no arguments at all: the help was shown, nothing to add)
                typer.echo(f"用法错误：{chinese_usage(exc.format_message())}（运行 jianyi --help 或 jianyi 命令 --help 查看用法）", err=True)
                if os.environ.get("JIANYI_DEBUG"):
                    typer.echo(f"（详情：{exc.format_message()}）", err=True)
            code = exc.exit_code
        else:
            if os.environ.get("JIANYI_DEBUG"):
                raise
            typer.echo(f"内部错误：{type(exc).__name__}: {exc}（设置 JIANYI_DEBUG=1 可查看详情）", err=True)
            code = 2
    sys.stdout.flush()
    sys.stderr.flush()
    if _CLIENT_USED:
        # A short-lived Temporal client can abort the interpreter at exit (a known SDK issue):
        # everything is flushed and closed; leave without running the runtime's finalisers.
        os._exit(code)
    sys.exit(code)
