"""The figures of a session, computed from the records (never kept by hand). Pure: case rows in,
figures out. Percentages have two decimals, rounded half up, over the evaluated cases; 未表态 is
shown apart and never counted as satisfied."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

WORDS = ("满意", "基本满意", "不满意")
NO_VIEW = "未表态"
REGISTERED_OR_LATER = {"registered", "assigned", "adjustment_requested", "handling", "reply_review", "replied", "rehandling",
                       "escalated", "follow_up", "closed"}


def percent(part: int, whole: int) -> Decimal:
    """``part`` of ``whole`` in percent, two decimals, rounded half up (0 when there is no whole)."""
    if not whole:
        return Decimal("0.00")
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class Evaluation:
    round: int
    work: str
    result: str


@dataclass
class CaseRow:
    """One suggestion as the reports see it."""

    id: str
    number: str
    title: str
    period: str
    category: str
    lead_deputy: str
    co_signers: list[str]
    state: str
    outcome: str
    lead_unit: str
    co_handlers: list[str]
    key_supervision: bool
    assigned_at: datetime | None = None
    signed_at: datetime | None = None
    replied_at: datetime | None = None
    on_time_reply: bool | None = None
    reply_class: str = ""
    evaluations: list[Evaluation] = field(default_factory=list)
    commitments: list[str] = field(default_factory=list)  # statuses: 未兑现 / 已兑现 / 逾期
    escalations: list[tuple[str, bool]] = field(default_factory=list)  # (reason, resolved)

    @property
    def first(self) -> Evaluation | None:
        return min(self.evaluations, key=lambda e: e.round) if self.evaluations else None

    @property
    def final(self) -> Evaluation | None:
        return max(self.evaluations, key=lambda e: e.round) if self.evaluations else None


@dataclass
class Distribution:
    """满意 / 基本满意 / 不满意 over the evaluated cases, 未表态 apart."""

    counts: dict[str, int]
    no_view: int

    @property
    def evaluated(self) -> int:
        return sum(self.counts.values())

    def pct(self, word: str) -> Decimal:
        return percent(self.counts.get(word, 0), self.evaluated)

    @property
    def satisfied_rate(self) -> Decimal:  # 满意率
        return self.pct("满意")

    @property
    def satisfied_or_basic_rate(self) -> Decimal:  # 满意和基本满意率
        return percent(self.counts.get("满意", 0) + self.counts.get("基本满意", 0), self.evaluated)


def distribution(words: list[str]) -> Distribution:
    counted = Counter(w for w in words if w in WORDS)
    return Distribution({w: counted.get(w, 0) for w in WORDS}, sum(1 for w in words if w == NO_VIEW))


@dataclass
class Figures:
    received: int
    registered: int
    merged: int
    not_registered: int
    assigned: int
    replied: int
    closed: int
    withdrawn: int
    on_time: int
    first_work: Distribution
    first_result: Distribution
    final_work: Distribution
    final_result: Distribution
    rehandled: dict[str, int]  # final word of the cases first 不满意 and evaluated again: 满意 / 基本满意 / 仍不满意
    classes: dict[str, int]
    commitments: dict[str, int]  # 承诺 / 已兑现 / 逾期
    escalations: dict[str, int]  # 移交 / 已处理 / 待处理

    @property
    def reply_rate(self) -> Decimal:  # 办复率
        return percent(self.replied, self.assigned)

    @property
    def on_time_rate(self) -> Decimal:  # 按期办复率
        return percent(self.on_time, self.replied)


def figures(rows: list[CaseRow]) -> Figures:
    assigned = [r for r in rows if r.assigned_at is not None]
    replied = [r for r in rows if r.replied_at is not None]
    firsts = [r.first for r in rows if r.first]
    finals = [r.final for r in rows if r.final]
    statuses = [s for r in rows for s in r.commitments]
    escalations = [e for r in rows for e in r.escalations]
    return Figures(
        received=len(rows),
        registered=sum(1 for r in rows if r.state in REGISTERED_OR_LATER or r.assigned_at is not None),
        merged=sum(1 for r in rows if r.state == "merged"),
        not_registered=sum(1 for r in rows if r.state == "not_registered"),
        assigned=len(assigned), replied=len(replied),
        closed=sum(1 for r in rows if r.state == "closed"), withdrawn=sum(1 for r in rows if r.state == "withdrawn"),
        on_time=sum(1 for r in replied if r.on_time_reply),
        first_work=distribution([e.work for e in firsts]), first_result=distribution([e.result for e in firsts]),
        final_work=distribution([e.work for e in finals]), final_result=distribution([e.result for e in finals]),
        rehandled=_rehandled(rows),
        classes={c: sum(1 for r in replied if r.reply_class == c) for c in "ABCD"},
        commitments={"承诺": len(statuses), "已兑现": statuses.count("已兑现"), "逾期": statuses.count("逾期")},
        escalations={"移交": len(escalations), "已处理": sum(1 for _, done in escalations if done),
                     "待处理": sum(1 for _, done in escalations if not done)},
    )


def _rehandled(rows: list[CaseRow]) -> dict[str, int]:
    out = {"满意": 0, "基本满意": 0, "仍不满意": 0}
    for r in rows:
        first, final = r.first, r.final
        if first and final and first.result == "不满意" and final.round > first.round and final.result in WORDS:
            out["仍不满意" if final.result == "不满意" else final.result] += 1
    return out


def breakdown(rows: list[CaseRow], key: str) -> dict[str, Figures]:
    """Figures per period / lead unit / co-handler / category / key supervision."""
    groups: dict[str, list[CaseRow]] = {}
    for r in rows:
        for name in _keys(r, key):
            groups.setdefault(name, []).append(r)
    return {name: figures(group) for name, group in sorted(groups.items())}


def _keys(r: CaseRow, key: str) -> list[str]:
    if key == "co_handler":
        return r.co_handlers
    if key == "key_supervision":
        return ["重点督办" if r.key_supervision else "一般"]
    value = {"period": r.period, "lead_unit": r.lead_unit, "category": r.category}[key]
    return [value or "（未填）"]


BREAKDOWNS = {"period": "按期间", "lead_unit": "按主办单位", "co_handler": "按协办单位", "category": "按类别", "key_supervision": "按重点督办"}
