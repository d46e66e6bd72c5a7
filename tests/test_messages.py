"""Message templates: one editable TOML file, every kind renders, digests, the override file."""

from __future__ import annotations

import os
import string
from importlib import resources
from pathlib import Path

import pytest

from jianyi.activities.messages import (
    DEFAULT,
    TEMPLATES,
    TemplateError,
    load_templates,
    render,
    templates_for,
)
from jianyi.settings import Settings, get_settings

LINK = "http://127.0.0.1:8000/suggestions/suggestion-16-3-40"
CASE = {
    "number": "第40号",
    "title": "关于做好武昌区科技金融、绿色金融、普惠金融、养老金融、数字金融的建议",
    "lead_deputy": "杨永兵等9位代表",
    "lead_unit": "区地方金融工作局",
    "state_label": "办理中",
    "deadline": "2025年10月9日",
    "explanation": "自2025年7月1日交办起3个月，末日国庆节假期顺延至2025年10月9日",
    "link": LINK,
}
DIGESTS = {"monthly_digest", "ledger_request", "daily_digest", "daily_digest_unit", "admin_notice"}
# What the issue asks for, by the name each kind has here.
REQUIRED = {
    "deadline_reminder",  # deadline approaching
    "overdue",
    "overdue_repeat",  # weekly overdue repeat
    "overdue_escalation",  # escalation to 督查室
    "escalated",
    "evaluation_request",
    "evaluation_reminder",
    "rehandle_order",
    "commitment_due",
    "monthly_digest",
    "ledger_request",
    "daily_digest",
    "admin_notice",
}


def fields(kind: str) -> set[str]:
    spec = DEFAULT.kinds[kind]
    texts = [spec.subject, spec.what, spec.next, spec.items]
    return {f for text in texts for _, f, _, _ in string.Formatter().parse(text) if f}


def context_for(kind: str) -> dict[str, object]:
    """The case context plus a value for every name the kind's own texts use."""
    ctx: dict[str, object] = {} if kind in DIGESTS else dict(CASE)
    ctx["link"] = LINK
    for name in fields(kind) - set(ctx):
        ctx[name] = f"«{name}»"
    if kind in ("monthly_digest", "ledger_request", "daily_digest", "daily_digest_unit"):
        ctx["items"] = "1. 第40号《关于做好科技金融的建议》 办理中\n2. 闭会第33号《关于加强停车管理的建议》 待签收"
    if kind == "admin_notice":
        ctx.update(recipient="区水务局", channel="wecom", subject="【建议办理·交办通知】第40号", error="errcode=93000", attempts=12)
    return ctx


def test_every_required_kind_exists_and_templates_keep_their_tuple_shape():
    assert REQUIRED <= set(TEMPLATES)
    for kind, (subject, what, next_step) in TEMPLATES.items():
        assert subject and what and next_step, kind
    assert TEMPLATES["overdue_repeat"][0] == "逾期催办（第{week}周）"  # what queries.py labels timelines with


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_every_kind_renders_with_its_context(kind):
    subject, body = render(kind, "区地方金融工作局", context_for(kind), DEFAULT)
    assert "—" not in subject + body, "a placeholder had no value"
    assert body.startswith("区地方金融工作局：\n"), "addressed to the unit"
    assert body.rstrip().endswith("（本通知由建议办理系统自动发送，请勿直接回复。）")
    assert subject.startswith("【建议办理·")
    next_line = next(line for line in body.splitlines() if line.startswith("下一步："))
    assert len(next_line) > len("下一步：")
    if kind in DIGESTS:
        assert f"查看详情：{LINK}\n" in body
        return
    assert f"查看案件：{LINK}\n" in body
    assert "第40号" in subject and CASE["title"] in subject
    assert f"建议编号：第40号\n标题：《{CASE['title']}》\n" in body
    assert f"办理期限：2025年10月9日\n期限说明：{CASE['explanation']}\n" in body


def test_case_layout_in_full():
    subject, body = render("assigned", "区地方金融工作局", {**CASE, "role": "主办", "sign_due": "2025年7月8日"}, DEFAULT)
    assert subject == f"【建议办理·交办通知】第40号《{CASE['title']}》"
    assert body == (
        "区地方金融工作局：\n\n"
        "现将本建议交由你单位主办。\n\n"
        "建议编号：第40号\n"
        f"标题：《{CASE['title']}》\n"
        "领衔代表：杨永兵等9位代表\n"
        "办理期限：2025年10月9日\n"
        f"期限说明：{CASE['explanation']}\n"
        "下一步：请于2025年7月8日前签收；如认为不属于你单位职责，可在此期限内申请调整。\n"
        f"查看案件：{LINK}\n\n"
        "（本通知由建议办理系统自动发送，请勿直接回复。）\n"
    )


def test_without_a_deadline_the_deadline_lines_are_left_out():
    _, body = render("returned", "杨永兵", {**CASE, "deadline": None, "reason": "请补充具体措施"}, DEFAULT)
    assert "办理期限" not in body and "期限说明" not in body
    assert "理由：请补充具体措施" in body


def test_monthly_digest_layout_in_full():
    items = "1. 第40号《关于做好科技金融的建议》 办理中，交办后65天，期限2025年10月9日\n2. 闭会第33号《关于加强停车管理的建议》 待签收"
    subject, body = render("monthly_digest", "区城管局", {"period": "2025年3月", "items": items, "link": "http://x/units/区城管局"}, DEFAULT)
    assert subject == "【建议办理·月度督办（2025年3月）】区城管局"
    assert body == (
        "区城管局：\n\n"
        "你单位承办的下列闭会期间建议尚未办结，现予2025年3月月度督办（各件列明编号、标题、当前阶段、交办以来的天数、办理期限和下一步）：\n\n"
        f"{items}\n\n"
        "下一步：请对照各件的办理期限抓紧办理，按时与代表沟通并答复；如有困难，请及时向区人大常委会代表工作委员会报告。\n"
        "查看详情：http://x/units/区城管局\n\n"
        "（本通知由建议办理系统自动发送，请勿直接回复。）\n"
    )


def test_ledger_and_daily_digests():
    subject, body = render("ledger_request", "区水务局", {"period": "2025年5月", "items": "1. 承诺事项「改造管网」", "link": LINK}, DEFAULT)
    assert subject == "【建议办理·承诺事项进展报告（2025年5月）】区水务局"
    assert "请报告2025年5月的办理进展" in body and "1. 承诺事项「改造管网」" in body
    subject, body = render("daily_digest", "区政府督查室", {"date": "2025-03-04", "items": "", "link": LINK}, DEFAULT)
    assert subject == "【建议办理·每日督办清单（2025-03-04）】区政府督查室"
    assert "\n（无）\n" in body


def test_admin_notice_names_the_failed_recipient_and_is_addressed_to_the_admin():
    ctx = {"recipient": "区水务局", "channel": "dingtalk", "subject": "【建议办理·逾期通知】第40号", "error": "errcode=310000，errmsg=keywords not in content", "attempts": 12, "link": "http://x/outbox?failed=1"}
    subject, body = render("admin_notice", "系统管理员", ctx, DEFAULT)
    assert subject == "【建议办理·通知发送失败（区水务局）】系统管理员"
    assert body.startswith("系统管理员：\n\n发给「区水务局」的通知经12次尝试仍未能通过钉钉机器人送达")
    assert "通知标题：【建议办理·逾期通知】第40号\n发送通道：钉钉机器人（dingtalk）\n最后一次错误：errcode=310000，errmsg=keywords not in content\n" in body
    assert body.rstrip().splitlines()[-3] == "查看详情：http://x/outbox?failed=1"


def test_an_unknown_kind_is_an_error():
    with pytest.raises(TemplateError, match="没有「nonsense」这种通知的模板"):
        render("nonsense", "区城管局", CASE, DEFAULT)


def test_the_template_file_ships_with_the_package():
    assert resources.files("jianyi").joinpath("templates/messages.toml").is_file()
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"templates/*.toml"' in pyproject.split("[tool.setuptools.package-data]")[1].split("\n")[1]


# -- the override file -------------------------------------------------------------------------------
OVERRIDE = """
[kinds.overdue]
subject = "超期未答复"
what = "本建议已超过答复期限（{deadline}），请高度重视。"

[layouts.case]
body = \"\"\"致{addressee}：
{what}
{number}《{title}》 期限：{deadline}
下一步：{next}
{link}
\"\"\"

[kinds.local_notice]
layout = "digest"
subject = "本地通知"
what = "本地新增的一种通知。"
next = "请知悉。"
"""


def test_override_file_replaces_what_it_names_and_keeps_the_rest(tmp_path):
    path = tmp_path / "messages.toml"
    path.write_text(OVERRIDE, encoding="utf-8")
    templates = templates_for(Settings(var_dir=tmp_path, templates_file=str(path)))
    subject, body = render("overdue", "区城管局", {**CASE, "grace": 10}, templates)
    assert subject == f"【建议办理·超期未答复】第40号《{CASE['title']}》"
    assert body == (
        "致区城管局：\n"
        "本建议已超过答复期限（2025年10月9日），请高度重视。\n"
        f"第40号《{CASE['title']}》 期限：2025年10月9日\n"
        "下一步：请立即答复代表并说明逾期原因；逾期超过10个工作日将移交督查室。\n"  # ``next`` kept from the built-in
        f"{LINK}\n"
    )
    # untouched kinds and the digest layout stay as built in
    assert templates.kinds["closed"] == DEFAULT.kinds["closed"]
    assert templates.layouts["digest"] == DEFAULT.layouts["digest"]
    assert render("local_notice", "区城管局", {"link": LINK}, templates)[0] == "【建议办理·本地通知】区城管局"
    assert "local_notice" not in DEFAULT.kinds  # the built-in set is not changed by an override


def test_an_edited_override_file_is_read_again(tmp_path):
    path = tmp_path / "messages.toml"
    path.write_text('[kinds.closed]\nsubject = "办结（一）"\n', encoding="utf-8")
    assert load_templates(path).kinds["closed"].subject == "办结（一）"
    path.write_text('[kinds.closed]\nsubject = "办结（二）"\n', encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_templates(path).kinds["closed"].subject == "办结（二）"


def test_render_without_templates_uses_the_environments_override(tmp_path, monkeypatch):
    path = tmp_path / "messages.toml"
    path.write_text('[kinds.closed]\nsubject = "已经办结"\n', encoding="utf-8")
    monkeypatch.setenv("JIANYI_TEMPLATES_FILE", str(path))
    get_settings.cache_clear()
    try:
        assert render("closed", "区城管局", {**CASE, "outcome": "满意"})[0].startswith("【建议办理·已经办结】")
    finally:
        monkeypatch.delenv("JIANYI_TEMPLATES_FILE")
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[kinds.closed\n", "不是有效的 TOML"),
        ('[kinds.closed]\nsubject = "办结{"\n', "花括号不成对"),
        ('[kinds.closed]\nsubject = "{outcome.__class__}"\n', "不是可用的名称"),
        ('[kinds.closed]\ncolour = "red"\n', "不认识的字段「colour」"),
        ('[kinds.closed]\nlayout = "poster"\n', "不存在的版式「poster」"),
        ('[kinds.brand_new]\nsubject = "新"\n', "缺少 what"),
        ('[styles]\nx = 1\n', "不认识的段「styles」"),
    ],
)
def test_a_bad_override_file_is_refused_saying_where(tmp_path, text, says):
    path = tmp_path / "messages.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=says) as raised:
        load_templates(path)
    assert str(path) in str(raised.value)
