"""Chinese message templates, one place for every kind of notice (addressed to the unit).

Each template is ``(subject, what happened, what to do next)``; the layout around them adds
the number, title, deadline with its explanation and the link to the case.
"""

from __future__ import annotations

from typing import Any

TEMPLATES: dict[str, tuple[str, str, str]] = {
    "assigned": ("交办通知", "现将本建议交由你单位{role}。", "请于{sign_due}前签收；如认为不属于你单位职责，可在此期限内申请调整。"),
    "sign_overdue": ("签收超期提醒", "本建议交办后已超过签收期限（{sign_due}），你单位尚未签收。", "请立即签收或说明情况。"),
    "adjustment_requested": ("调整申请待审批", "{unit}申请调整本建议的承办单位，理由：{reason}", "请审批该调整申请。"),
    "adjustment_decided": ("调整申请审批结果", "关于本建议承办单位的调整申请，审批结果：{decision}。{comment}", "请按审批结果办理。"),
    "extension_requested": ("延期申请待审批", "{unit}申请延期答复，理由：{reason}", "请审批该延期申请。"),
    "extension_decided": ("延期申请审批结果", "你单位的延期申请审批结果：{decision}。{comment}", "请在答复期限内答复代表。"),
    "co_opinion": ("协办意见", "协办单位{unit}已提交协办意见：{text}", "请在答复中统筹考虑协办意见。"),
    "co_opinion_overdue": ("协办意见超期提醒", "你单位作为协办单位，应于{co_opinion_due}前向主办单位{lead_unit}提交协办意见，目前尚未提交。", "请尽快提交协办意见。"),
    "reply_review_needed": ("答复待审核", "{unit}已对本建议作出{reply_class}答复，待审核。", "请审核答复，通过后送达代表。"),
    "reply_sent_back": ("答复被退回", "你单位的答复未通过审核，意见：{comment}", "请修改后重新答复。"),
    "evaluation_request": ("答复及评价通知", "{unit}已对本建议作出答复（{reply_class}）。", "请于{evaluation_due}前对办理工作和办理结果作出评价（满意/基本满意/不满意）；逾期未评价按「未表态」处理。"),
    "evaluation_reminder": ("评价提醒", "本建议的答复尚待你评价。", "请于{evaluation_due}前作出评价。"),
    "rehandle_order": ("重新办理通知", "{reason}", "请于{rehandle_due}前重新办理并答复代表。"),
    "escalated": ("移交督查室", "本建议{reason}，现移交督查室督办。", "请督查室决定责令重新办理或按未解决办结。"),
    "deadline_reminder": ("办理期限临近", "本建议距答复期限还有{days_left}天。", "请在期限内与代表沟通并答复。"),
    "overdue": ("逾期通知", "本建议已超过答复期限，你单位尚未答复。", "请立即答复代表并说明逾期原因；逾期超过{grace}个工作日将移交督查室。"),
    "overdue_repeat": ("逾期催办（第{week}周）", "本建议已逾期{days_over}天，仍未答复。", "请立即答复代表。"),
    "overdue_escalation": ("逾期移交督查室", "本建议逾期超过{grace}个工作日仍未答复，已移交督查室督办。", "请督查室督促承办单位限期答复，承办单位请立即答复。"),
    "commitment_due": ("承诺事项到期", "你单位在答复中承诺的事项「{text}」承诺于{promised_date}完成。", "请兑现承诺并提交补充答复。"),
    "commitment_missed": ("承诺事项逾期", "承诺事项「{text}」已超过承诺完成日期{promised_date}，仍未兑现，已移交督查室。", "请立即兑现承诺并提交补充答复。"),
    "key_reminder": ("重点督办提醒", "本建议为重点督办件，当前状态：{state_label}。", "请抓紧办理，并及时报告进展。"),
    "remark": ("督办意见", "{actor}对本建议提出督办意见：{text}", "请按督办意见抓紧办理。"),
    "returned": ("建议退回修改", "你提出的建议经阅看退回修改，理由：{reason}", "请修改后重新提交。"),
    "withdrawn": ("建议已撤回", "领衔代表已撤回本建议，理由：{reason}", "本建议无需继续办理。"),
    "assign_overdue": ("闭会期间建议待交办", "本闭会期间建议应于{assign_due}前交办，目前尚未交办。", "请尽快交办。"),
    "closed": ("建议办结", "本建议已办结，结果：{outcome}。", "无需进一步操作。"),
}

LAYOUT = """{recipient}：

{what}

建议编号：{number}
标题：《{title}》
领衔代表：{lead_deputy}
{deadline_line}下一步：{next}
查看案件：{link}

（本通知由建议办理系统自动发送，请勿直接回复。）
"""


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "—"


def render(kind: str, recipient: str, context: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of a ``kind`` message to ``recipient``."""
    subject_tail, what, next_step = TEMPLATES[kind]
    ctx = _Blank(context)
    ctx["recipient"] = recipient
    deadline = context.get("deadline")
    ctx["deadline_line"] = (
        f"办理期限：{deadline}\n期限说明：{context.get('explanation', '')}\n" if deadline else ""
    )
    ctx["what"] = what.format_map(ctx)
    ctx["next"] = next_step.format_map(ctx)
    subject = f"【建议办理·{subject_tail.format_map(ctx)}】{context.get('number', '')}《{context.get('title', '')}》"
    return subject, LAYOUT.format_map(ctx)
