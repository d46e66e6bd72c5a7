"""Payloads are checked once, with Chinese messages (jianyi.models.commands)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from jianyi.models.actions import SPECS
from jianyi.models.actions import decode as parse_payload
from jianyi.models.commands import (
    ContactIn,
    InputError,
    ReplyIn,
    SubmitInput,
    parse_number,
    parse_submit,
    suggestion_id_of,
    suggestion_workflow_id,
)
from jianyi.models.lifecycle import ROLE_RULES


def submission(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "session": "16-3",
        "number": "第40号",
        "title": "关于解决锦绣家园9号楼下水管网堵塞问题的建议",
        "lead_deputy": "胡家胜",
    }
    base.update(kw)
    return base


def payload_error(action: str, data: dict[str, Any]) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_payload(action, data)
    return caught.value


def submit_error(data: dict[str, Any]) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_submit(data)
    return caught.value


# -- submissions -----------------------------------------------------------------------------
def test_a_good_submission() -> None:
    sub = parse_submit(submission(co_signers=["饶满琳"]))
    assert isinstance(sub, SubmitInput)
    assert sub.period == "大会期间"
    assert sub.display_number == "第40号"
    assert sub.workflow_id == "suggestion-16-3-40"


@pytest.mark.parametrize("title", ["", "   ", "\t\n"])
def test_empty_title(title: str) -> None:
    err = submit_error(submission(title=title))
    assert err.message == "「标题」不能为空"
    assert "title" in err.detail  # the developer's detail keeps pydantic's own words
    assert str(err) == err.message


def test_missing_fields_are_named_in_chinese() -> None:
    err = submit_error({"session": "16-3", "number": "第1号"})
    assert err.message == "缺少「标题」；缺少「领衔代表」"


def test_title_too_long() -> None:
    assert submit_error(submission(title="建" * 201)).message == "「标题」太长（最多200字）"


def test_bad_number_and_session() -> None:
    err = submit_error(submission(number="四十号", session="十六届三次"))
    assert "「会次」格式不正确" in err.message
    assert "建议编号应形如「第40号」「40」或「闭会第33号」" in err.message


def test_unknown_field() -> None:
    assert submit_error(submission(author="某人")).message == "不认识的字段「author」"


def test_inter_session_number_sets_the_period() -> None:
    sub = parse_submit(submission(number="闭会第33号"))
    assert sub.period == "闭会期间"
    assert sub.display_number == "闭会第33号"
    assert sub.workflow_id == "suggestion-16-3-bh33"


def test_a_bare_number_in_the_inter_session_period_is_not_a_session_number() -> None:
    # "33" entered with 闭会期间 is 闭会第33号; it must not take 第33号's workflow id.
    sub = parse_submit(submission(number="33", period="闭会期间"))
    assert sub.display_number == "闭会第33号"
    assert sub.workflow_id == "suggestion-16-3-bh33"
    assert sub.workflow_id != parse_submit(submission(number="第33号")).workflow_id


# -- workflow ids ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("number", "workflow_id"),
    [
        ("第40号", "suggestion-16-3-40"),
        ("40", "suggestion-16-3-40"),
        (" 第 40 号 ", "suggestion-16-3-40"),
        ("闭会第33号", "suggestion-16-3-bh33"),
        ("bh33", "suggestion-16-3-bh33"),
        ("闭会第3号", "suggestion-16-3-bh3"),
    ],
)
def test_suggestion_workflow_id(number: str, workflow_id: str) -> None:
    assert suggestion_workflow_id("16-3", number) == workflow_id


@pytest.mark.parametrize(
    ("typed", "workflow_id"),
    [
        ("suggestion-16-3-40", "suggestion-16-3-40"),
        ("16-3-40", "suggestion-16-3-40"),
        ("16-3-bh33", "suggestion-16-3-bh33"),
        ("16-3 闭会第33号", "suggestion-16-3-bh33"),  # as the pages and the mail show the number
        ("16-3-闭会33", "suggestion-16-3-bh33"),
        (" 16-3 第40号 ", "suggestion-16-3-40"),
        ("十六届三次 第7号", "suggestion-十六届三次-7"),
        ("闭会第33号", "suggestion-闭会第33号"),  # no session: matches nothing, and the answer says to add it
    ],
)
def test_a_suggestion_is_found_by_its_id_or_by_its_session_and_number_as_shown(typed: str, workflow_id: str) -> None:
    assert suggestion_id_of(typed) == workflow_id


def test_suggestion_workflow_id_refuses_a_bad_number() -> None:
    with pytest.raises(InputError) as caught:
        suggestion_workflow_id("16-3", "第四十号")
    assert caught.value.message == "建议编号「第四十号」无效，应形如「第40号」或「闭会第33号」"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("第40号", ("大会", 40)), ("闭会第33号", ("闭会", 33)), ("7", ("大会", 7)), ("第号", None), ("40-1", None)],
)
def test_parse_number(text: str, parsed: tuple[str, int] | None) -> None:
    assert parse_number(text) == parsed


# -- action payloads -------------------------------------------------------------------------
def test_every_action_has_a_payload_model() -> None:
    assert {a.value for a in SPECS} - {"submit"} == set(ROLE_RULES)


def test_unknown_action() -> None:
    err = payload_error("approve_everything", {})
    assert err.message == "未知的操作「approve_everything」"


@pytest.mark.parametrize("on", ["2025/03/01", "2025-13-01", "三月一日", "2025-02-30"])
def test_bad_date_format(on: str) -> None:
    err = payload_error("record_contact", {"method": "电话", "on": on})
    assert err.message == "「沟通日期」日期格式错误，应为 YYYY-MM-DD"


def test_good_contact() -> None:
    contact = parse_payload("record_contact", {"method": "上门", "on": "2025-03-01", "note": "现场查看"})
    assert isinstance(contact, ContactIn)
    assert contact.on == date(2025, 3, 1)


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("record_contact", {"method": "微信", "on": "2025-03-01"}, "「沟通方式」应为 座谈 / 上门 / 电话 / 书面"),
        ("evaluate", {"work": "满意", "result": "很好"}, "「对办理结果的评价」应为 满意 / 基本满意 / 不满意"),
        ("reply", {"reply_class": "E", "text": "已办", "signed_by": "局长"}, "「答复类别」应为 A / B / C / D"),
        ("review", {"decision": "accept"}, "「阅看意见」应为 register / merge / not_register / return"),
        ("review_reply", {"decision": "ok"}, "「审核意见」应为 approve / refuse"),
    ],
)
def test_bad_literal_choice(action: str, data: dict[str, Any], message: str) -> None:
    assert payload_error(action, data).message == message


def test_commitments_on_an_a_class_reply() -> None:
    commitment = {"text": "年底前完成管网改造", "promised_date": "2025-12-31"}
    err = payload_error(
        "reply", {"reply_class": "A", "text": "已解决", "signed_by": "局长", "commitments": [commitment]}
    )
    assert err.message == "只有B类、C类答复可以列承诺事项"
    err = payload_error(
        "reply", {"reply_class": "D", "text": "留作参考", "signed_by": "局长", "commitments": [commitment]}
    )
    assert err.message == "只有B类、C类答复可以列承诺事项"
    # A B-class reply may list them.
    reply = parse_payload(
        "reply", {"reply_class": "B", "text": "列入计划", "signed_by": "局长", "commitments": [commitment]}
    )
    assert isinstance(reply, ReplyIn)
    assert reply.commitments[0].promised_date == date(2025, 12, 31)


def test_errors_inside_a_commitment_name_the_item() -> None:
    err = payload_error(
        "reply",
        {
            "reply_class": "C",
            "text": "条件不具备",
            "signed_by": "局长",
            "commitments": [
                {"text": "修路", "promised_date": "2026-06-30"},
                {"text": "", "promised_date": "明年"},
            ],
        },
    )
    assert "承诺事项第2项" in err.message
    assert "不能为空" in err.message
    assert "日期格式错误" in err.message
    assert "第1项" not in err.message


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("review", {"decision": "merge"}, "并案时须填写「并入的建议」（如 第12号）"),
        ("review", {"decision": "return"}, "退回修改或不予立案时须写明理由"),
        ("assign", {"lead_unit": "区城管局", "co_handlers": ["区城管局"]}, "主办单位不能同时是协办单位"),
        ("assign", {"lead_unit": "区城管局", "co_handlers": ["区水务局", "区水务局"]}, "协办单位有重复"),
        ("decide_adjustment", {"decision": "approve"}, "同意调整时须指定新的主办单位（lead_unit）"),
        ("review_reply", {"decision": "refuse"}, "退回答复时须写明理由"),
        ("evaluate", {"work": "满意", "result": "不满意"}, "对办理结果不满意时须写明意见，以便重新办理"),
        ("fulfil_commitment", {"number": "一", "text": "已完成"}, "「承诺事项编号」应为整数"),
        ("withdraw", {}, "缺少「撤回理由」"),
        ("sign", {"note": "收到"}, "不认识的字段「note」"),
    ],
)
def test_rules_across_fields(action: str, data: dict[str, Any], message: str) -> None:
    assert payload_error(action, data).message == message


def test_several_errors_are_joined() -> None:
    err = payload_error("record_contact", {"method": "微信", "on": "昨天"})
    assert err.message == "「沟通方式」应为 座谈 / 上门 / 电话 / 书面；「沟通日期」日期格式错误，应为 YYYY-MM-DD"


def test_whitespace_is_stripped() -> None:
    reply = parse_payload("withdraw", {"reason": "  问题已自行解决  "})
    assert reply.model_dump() == {"reason": "问题已自行解决"}


def test_a_steps_working_copy_of_a_whole_case_equals_it_and_shares_nothing_it_may_change() -> None:
    """The workflow changes a copy and keeps it only once recorded: the copy must be the case, whole."""
    import base64
    import json
    from pathlib import Path

    from jianyi.models.case import CaseState

    history = json.loads((Path(__file__).parent / "histories" / "suggestion-t7e69e9cf-40.json").read_text())
    results = [base64.b64decode(p["data"]) for e in history["events"]
               if (done := e.get("workflowExecutionUpdateCompletedEventAttributes"))
               for p in done["outcome"]["success"]["payloads"]]
    case = CaseState.model_validate_json(max(results, key=len))  # the case at its fullest
    assert case.deadlines and case.replies and case.evaluations
    copy = case.working_copy()
    assert copy == case and copy.model_dump_json() == case.model_dump_json()
    copy.deadlines.clear()
    copy.fired.append("x")
    copy.submission.co_signers.append("附议人")
    copy.replies[0].text = "改过"
    assert case.deadlines and "x" not in case.fired and "附议人" not in case.submission.co_signers
    assert case.replies[0].text != "改过"


def test_a_number_out_of_its_range_is_said_in_chinese_with_the_bound():
    from jianyi.models.commands import EscalationActIn, validate_payload

    for workdays, said in ((-1, "「整改期限（工作日，填0按默认）」应不小于0"), (121, "「整改期限（工作日，填0按默认）」应不大于120")):
        with pytest.raises(InputError) as refused:
            validate_payload(EscalationActIn, {"decision": "rectify", "comment": "限期整改", "workdays": workdays})
        assert refused.value.message == said and "Input should" not in refused.value.message


def test_a_commitment_line_with_only_a_date_is_said_to_lack_its_content_not_its_date():
    from jianyi.api.forms import parse_form
    from jianyi.models.commands import ReplyIn, validate_payload

    form = {"reply_class": "B", "text": "已列入计划", "signed_by": "局长", "commitments": "@2027-03-30"}
    with pytest.raises(InputError) as refused:
        validate_payload(ReplyIn, parse_form(ReplyIn, form))
    assert refused.value.message == "「承诺事项第1项的内容」不能为空"


def test_an_empty_date_box_is_said_to_be_empty_and_a_malformed_one_to_be_malformed():
    from jianyi.models.commands import ContactIn, validate_payload

    for typed, said in (("", "「沟通日期」不能为空"), ("2026/12/01", "「沟通日期」日期格式错误，应为 YYYY-MM-DD")):
        with pytest.raises(InputError) as refused:
            validate_payload(ContactIn, {"method": "座谈", "on": typed})
        assert refused.value.message == said
