"""The Chinese paragraph the annual report carries, in the seed reports' own wording."""

from __future__ import annotations

from jianyi.reports.figures import CaseRow, Distribution, Figures, figures

# how the reports name each period: 承办…会议期间代表建议167件 / 承办闭会期间代表建议83件
PERIOD_WORDS = {"大会期间": "会议期间", "闭会期间": "闭会期间"}


def evaluation_sentence(d: Distribution, dimension: str = "") -> str:
    """代表对办理工作满意的155件，占92.81%；基本满意12件，占7.19%。(不满意 only when there is one)"""
    n = d.counts
    if not d.evaluated:  # no percentage of nothing: "满意的0件，占0.00%" would read as a verdict
        return f"另有{d.no_view}件代表未表态（不计入满意），尚无满意度可计。" if d.no_view else "代表尚未作出评价。"
    parts = [f"代表{'对' + dimension if dimension else ''}满意的{n['满意']}件，占{d.pct('满意')}%", f"基本满意{n['基本满意']}件，占{d.pct('基本满意')}%"]
    if n["不满意"]:
        parts.append(f"不满意{n['不满意']}件，占{d.pct('不满意')}%")
    text = "；".join(parts) + "。"
    if d.no_view:
        text += f"另有{d.no_view}件代表未表态（不计入满意）。"
    return text


def rehandled_sentence(f: Figures) -> str:
    """1件不满意建议通过重新办理，代表表示满意。"""
    out = []
    for word, count in f.rehandled.items():
        if count:
            said = "代表仍不满意" if word == "仍不满意" else f"代表表示{word}"
            out.append(f"{count}件不满意建议通过重新办理，{said}。")
    return "".join(out)


def paragraph(f: Figures, who: str = "承办", period: str = "会议期间") -> str:
    """承办会议期间代表建议167件，全部办复完毕。代表对办理工作满意的155件，占92.81%；……"""
    done = "全部办复完毕" if f.replied == f.assigned else f"已办复{f.replied}件，办复率{f.reply_rate}%"
    head = f"{who}{period}代表建议{f.assigned}件，{done}。"
    return head + evaluation_sentence(f.first_work, "办理工作") + rehandled_sentence(f)


def report_text(rows: list[CaseRow], period: str | None = None) -> str:
    """The report's paragraphs for one period, or for both: one for each period that has suggestions,
    会议期间 first, as the seed reports write them (never both periods' count called 会议期间)."""
    periods = [period] if period else list(PERIOD_WORDS)
    parts = [[r for r in rows if r.period == p] for p in periods]
    return "".join(paragraph(figures(part), period=PERIOD_WORDS.get(p, p)) for p, part in zip(periods, parts, strict=True) if part)
