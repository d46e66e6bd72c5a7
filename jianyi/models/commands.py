"""What people send (action payloads) and what the engine returns, with Chinese validation.

Payloads are checked here, once, for the CLI, the API and the workflow's update validators
alike: a bad payload is refused before it reaches workflow history.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jianyi.models.bounds import NAME_MAX, check_dates, check_texts

Judgement = Literal["满意", "基本满意", "不满意"]
ContactMethod = Literal["座谈", "上门", "电话", "书面"]
ReplyClass = Literal["A", "B", "C", "D"]
Period = Literal["大会期间", "闭会期间"]


class InputError(ValueError):
    """Bad input; ``message`` is for people (Chinese), ``detail`` for developers."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or message


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _readable(cls, data: Any) -> Any:
        check_texts(data)  # no control characters, bidi overrides or invisible-only text
        return data

    @model_validator(mode="after")
    def _in_range(self) -> Payload:
        check_dates(self, None)  # before 2000 or beyond computing; "ahead of now" is checked with a clock
        return self


P = TypeVar("P", bound=BaseModel)


def _text(title: str, *, required: bool = True, max_length: int = 2000) -> Any:
    return Field(... if required else "", title=title, min_length=1 if required else 0, max_length=max_length)


class SubmitInput(Payload):
    session: str = Field(title="会次", pattern=r"^[0-9A-Za-z]+(-[0-9A-Za-z]+)*$")
    number: str = Field(title="建议编号")
    title: str = _text("标题", max_length=200)
    text: str = _text("建议内容", required=False, max_length=20000)
    category: str = _text("类别", required=False, max_length=50)
    period: Period = Field("大会期间", title="提出时段")
    lead_deputy: str = _text("领衔代表", max_length=NAME_MAX)
    co_signers: list[str] = Field(default_factory=list, title="附议代表", max_length=200)

    @field_validator("co_signers")
    @classmethod
    def _co_signers(cls, v: list[str]) -> list[str]:
        v = [n.strip() for n in v]
        if any(not n or len(n) > NAME_MAX for n in v):
            raise ValueError(f"附议代表的姓名不能为空，也不能超过{NAME_MAX}字")
        if len(set(v)) != len(v):
            raise ValueError("附议代表有重复")
        return v

    @field_validator("number")
    @classmethod
    def _number(cls, v: str) -> str:
        if not parse_number(v):
            raise ValueError("建议编号应形如「第40号」「40」或「闭会第33号」")
        return v

    @property
    def workflow_id(self) -> str:
        return suggestion_workflow_id(self.session, self.number)

    @property
    def display_number(self) -> str:
        kind, n = parse_number(self.number)  # type: ignore[misc]
        return f"闭会第{n}号" if kind == "闭会" else f"第{n}号"

    @model_validator(mode="after")
    def _lead_not_co_signer(self) -> SubmitInput:
        if self.lead_deputy in self.co_signers:
            raise ValueError("领衔代表不能同时是附议代表")
        return self

    @model_validator(mode="after")
    def _period_matches_number(self) -> SubmitInput:
        kind, n = parse_number(self.number)  # type: ignore[misc]
        if kind == "闭会":
            self.period = "闭会期间"
        elif self.period == "闭会期间":
            # A bare number given with the period: it is 闭会第n号, not 第n号 (whose workflow id it
            # would otherwise take).
            self.number = f"闭会第{n}号"
        return self


def parse_number(text: str) -> tuple[str, int] | None:
    """``第40号`` → ("大会", 40); ``闭会第33号`` → ("闭会", 33); ``40`` → ("大会", 40)."""
    m = re.fullmatch(r"\s*(闭会|bh)?\s*第?\s*(\d{1,6})\s*号?\s*", text)
    if not m or int(m.group(2)) == 0:
        return None
    return ("闭会" if m.group(1) else "大会", int(m.group(2)))


def display_number_of(workflow_id: str) -> str:
    """``suggestion-16-3-bh33`` → 闭会第33号; ``suggestion-16-3-40`` → 第40号."""
    tail = workflow_id.rsplit("-", 1)[-1]
    return f"闭会第{tail[2:]}号" if tail.startswith("bh") else f"第{tail}号"


def suggestion_id_of(text: str) -> str:
    """A suggestion's id from what a person types: ``suggestion-16-3-40``, ``16-3-40``, or the session with
    the number as the pages show it: ``16-3 第40号``, ``16-3 闭会第33号``, ``16-3-闭会33``."""
    text = text.strip()
    if text.startswith("suggestion-"):
        return text
    m = re.fullmatch(r"(.+?)[\s-]+((?:闭会|bh)?\s*第?\s*\d{1,6}\s*号?)", text)
    if m and parse_number(m.group(2)):
        return suggestion_workflow_id(m.group(1), m.group(2))
    return f"suggestion-{text}"


def unknown_suggestion(text: str) -> str:
    """What a person is told when no suggestion has the id they typed."""
    return f"找不到建议「{text}」：编号应含会次，如 16-3-40 或「16-3 闭会第33号」（jianyi stuck 和网页上可查到每件的编号）"


def suggestion_workflow_id(session: str, number: str) -> str:
    parsed = parse_number(number)
    if not parsed:
        raise InputError(f"建议编号「{number}」无效，应形如「第40号」或「闭会第33号」")
    kind, n = parsed
    return f"suggestion-{session}-{'bh' if kind == '闭会' else ''}{n}"


# -- action payloads ------------------------------------------------------------------------
class Empty(Payload):
    pass


class ReviewIn(Payload):
    decision: Literal["register", "merge", "not_register", "return"] = Field(title="阅看意见")
    reason: str = _text("理由", required=False)
    merge_into: str = Field("", title="并入的建议")

    @model_validator(mode="after")
    def _merge_target(self) -> ReviewIn:
        if self.decision == "merge" and not self.merge_into:
            raise ValueError("并案时须填写「并入的建议」（如 第12号）")
        if self.decision in ("return", "not_register") and not self.reason:
            raise ValueError("退回修改或不予立案时须写明理由")
        return self


class ResubmitIn(Payload):
    title: str = Field("", title="标题", max_length=200)
    text: str = _text("建议内容", required=False, max_length=20000)


class AssignIn(Payload):
    lead_unit: str = _text("主办单位", max_length=100)
    co_handlers: list[str] = Field(default_factory=list, title="协办单位", max_length=30)
    note: str = _text("交办意见", required=False)

    @model_validator(mode="after")
    def _distinct(self) -> AssignIn:
        if self.lead_unit in self.co_handlers:
            raise ValueError("主办单位不能同时是协办单位")
        if len(set(self.co_handlers)) != len(self.co_handlers):
            raise ValueError("协办单位有重复")
        return self


class AdjustmentRequestIn(Payload):
    reason: str = _text("申请调整理由")
    suggested_unit: str = Field("", title="建议改由的单位")


class DecisionIn(Payload):
    decision: Literal["approve", "refuse"] = Field(title="审批意见")
    comment: str = _text("意见", required=False)


class AdjustmentDecisionIn(DecisionIn):
    lead_unit: str = Field("", title="新的主办单位")
    co_handlers: list[str] | None = Field(None, title="新的协办单位")

    @model_validator(mode="after")
    def _new_unit(self) -> AdjustmentDecisionIn:
        if self.decision == "approve" and not self.lead_unit:
            raise ValueError("同意调整时须指定新的主办单位（lead_unit）")
        if self.co_handlers is not None:
            if self.lead_unit and self.lead_unit in self.co_handlers:
                raise ValueError("主办单位不能同时是协办单位")
            if len(set(self.co_handlers)) != len(self.co_handlers):
                raise ValueError("协办单位有重复")
        return self


class ExtensionRequestIn(Payload):
    reason: str = _text("延期理由")


class ContactIn(Payload):
    method: ContactMethod = Field(title="沟通方式")
    on: date = Field(title="沟通日期")
    note: str = _text("沟通情况", required=False)


class OpinionIn(Payload):
    text: str = _text("协办意见")


class CommitmentIn(Payload):
    text: str = _text("内容", max_length=1000)
    promised_date: date = Field(title="承诺完成日期")


class ReplyIn(Payload):
    reply_class: ReplyClass = Field(title="答复类别")
    text: str = _text("答复内容", max_length=20000)
    signed_by: str = _text("签发人", max_length=50)
    commitments: list[CommitmentIn] = Field(default_factory=list, title="承诺事项", max_length=20)
    attachment_name: str = Field("", title="答复函文件名", max_length=200)
    attachment_sha256: str = Field("", title="答复函 SHA-256", pattern=r"^([0-9a-f]{64})?$")

    @model_validator(mode="after")
    def _commitments_only_for_b_c(self) -> ReplyIn:
        if self.commitments and self.reply_class not in ("B", "C"):
            raise ValueError("只有B类、C类答复可以列承诺事项")
        return self


class ReplyReviewIn(Payload):
    decision: Literal["approve", "refuse"] = Field(title="审核意见")
    comment: str = _text("审核意见说明", required=False)

    @model_validator(mode="after")
    def _reason(self) -> ReplyReviewIn:
        if self.decision == "refuse" and not self.comment:
            raise ValueError("退回答复时须写明理由")
        return self


class EvaluateIn(Payload):
    work: Judgement = Field(title="对办理工作的评价")
    result: Judgement = Field(title="对办理结果的评价")
    comment: str = _text("评价意见", required=False)

    @model_validator(mode="after")
    def _comment_when_unsatisfied(self) -> EvaluateIn:
        if self.result == "不满意" and not self.comment:
            raise ValueError("对办理结果不满意时须写明意见，以便重新办理")
        return self


class RemarkIn(Payload):
    text: str = _text("督办意见")


class KeyIn(Payload):
    key: bool = Field(True, title="是否重点督办")
    supervisor: str = Field("", title="督办人", max_length=50)


class ResolveEscalationIn(Payload):
    decision: Literal["rehandle", "close"] = Field(title="处理意见")
    comment: str = _text("处理意见说明")


class FulfilIn(Payload):
    number: int = Field(title="承诺事项编号", ge=1)
    text: str = _text("兑现情况（补充答复）", max_length=20000)


class ProgressIn(Payload):
    number: int = Field(title="承诺事项编号", ge=1)
    text: str = _text("进展情况")
    period: str = Field("", title="台账期次", max_length=20)


class RecomputeIn(Payload):
    reason: str = _text("重新计算的原因")


class WithdrawIn(Payload):
    reason: str = _text("撤回理由")


class ExpireIn(Payload):
    pass


class ActionRequest(BaseModel):
    """One human action sent to a suggestion's workflow as an update."""

    actor: str = Field(min_length=1, max_length=100, title="操作人")
    role: str = Field(max_length=40, title="角色")
    payload: dict[str, Any] = Field(default_factory=dict, title="操作内容")
    on_behalf_of: str = Field("", max_length=150, title="代为登记")  # admin 补录: whose paper-recorded act this is
    via: str = Field("cli", max_length=10)  # where the action came from: cli / web / api (recorded in the audit)
    effective_at: datetime | None = Field(None, title="实际发生时间")  # admin 补录: when it happened on paper

    @model_validator(mode="after")
    def _readable(self) -> ActionRequest:
        check_texts({"操作人": self.actor, "代为登记": self.on_behalf_of})
        if self.effective_at is not None:
            check_dates(self, None)
        return self


def validate_payload(model: type[P], data: Any) -> P:
    """Validate ``data`` as ``model``; InputError with a Chinese message otherwise (once per action)."""
    if not isinstance(data, dict):
        raise InputError("请求内容应为字段及其取值", f"expected an object for {model.__name__}, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(chinese_errors(model, exc), str(exc)) from None


def parse_submit(data: dict[str, Any]) -> SubmitInput:
    try:
        return SubmitInput.model_validate(data)
    except ValidationError as exc:
        raise InputError(chinese_errors(SubmitInput, exc), str(exc)) from None


_TYPE_TEXT = {
    "missing": "缺少「{f}」",
    "string_too_short": "「{f}」不能为空",
    "string_too_long": "「{f}」太长（最多{max_length}字）",
    "greater_than_equal": "「{f}」应不小于{ge}",
    "less_than_equal": "「{f}」应不大于{le}",
    "greater_than": "「{f}」应大于{gt}",
    "less_than": "「{f}」应小于{lt}",
    "too_long": "「{f}」项数太多（最多{max_length}项）",
    "date_from_datetime_parsing": "「{f}」日期格式错误，应为 YYYY-MM-DD",
    "date_parsing": "「{f}」日期格式错误，应为 YYYY-MM-DD",
    "date_type": "「{f}」日期格式错误，应为 YYYY-MM-DD",
    "datetime_parsing": "「{f}」时间格式错误，应为 YYYY-MM-DDTHH:MM",
    "datetime_from_date_parsing": "「{f}」时间格式错误，应为 YYYY-MM-DDTHH:MM",
    "extra_forbidden": "不认识的字段「{f}」",
    "int_parsing": "「{f}」应为整数",
    "bool_parsing": "「{f}」应为是或否",
    "string_pattern_mismatch": "「{f}」格式不正确",
}


_EMPTY_IS_MISSING = {"date_parsing", "date_from_datetime_parsing", "datetime_parsing", "datetime_from_date_parsing",
                     "int_parsing", "float_parsing", "bool_parsing"}


def chinese_errors(model: type[BaseModel], exc: ValidationError) -> str:
    return errors_text(exc.errors(), lambda loc: _field_title(model, loc))


def errors_text(errors: Sequence[Any], title_of: Callable[[tuple[Any, ...]], str]) -> str:
    """pydantic's errors in Chinese, each field named by ``title_of(loc)`` (also for FastAPI's request errors)."""
    out = []
    for err in errors:
        title = title_of(tuple(err["loc"]))
        kind = err["type"]
        if err.get("input") == "" and kind in _EMPTY_IS_MISSING:  # an empty box is a missing value, not a bad format
            kind = "string_too_short"
        if kind == "literal_error":
            expected = str(err.get("ctx", {}).get("expected", "")).replace("'", "").replace(" or ", ", ")
            out.append(f"「{title}」应为 {expected.replace(', ', ' / ')}")
        elif kind == "value_error":
            out.append(str(err.get("ctx", {}).get("error", err["msg"])))
        elif kind in _TYPE_TEXT:
            out.append(_TYPE_TEXT[kind].format(f=title, **err.get("ctx", {})))
        else:
            out.append(f"「{title}」无效（{err['msg']}）")
    return "；".join(out)


def _field_title(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """The Chinese title of the field at ``loc``, walking into nested lists of models."""
    title, current = "", model
    for part in loc:
        if isinstance(part, int):
            title += f"第{part + 1}项"
            continue
        field = current.model_fields.get(part) if current else None
        if field is None:
            return title + str(part)
        title = (title + "的" if title else "") + (field.title or part)
        inner = getattr(field.annotation, "__args__", (field.annotation,))[0]
        current = inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
    return title


class EscalationActIn(Payload):
    """督查室 on an escalation opened without a state change (overdue reply, missed commitment)."""

    decision: Literal["notice", "rectify", "close"] = Field(title="督查处理")
    comment: str = _text("处理意见说明")
    workdays: int = Field(0, title="整改期限（工作日，填0按默认）", ge=0, le=120)  # 0: the policy's default


class MergeInInput(Payload):
    """A suggestion merged into this one (sent by the merged suggestion's workflow)."""

    source_id: str = Field(max_length=200)
    number: str = Field(max_length=50)
    deputies: list[str] = Field(default_factory=list)
