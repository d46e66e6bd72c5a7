"""Excel, the offices' exchange format (openpyxl): the statistics workbook, the 答复台账 and the
承诺事项台账 out; a 交办 list or a finished year (补录) in, every row checked before anything is written."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from typing import Any

from openpyxl import Workbook, load_workbook

from jianyi.models.bounds import EARLIEST, IMPORT_MAX_BYTES, IMPORT_MAX_ROWS
from jianyi.models.commands import parse_number
from jianyi.models.policy import CST
from jianyi.reports.figures import BREAKDOWNS, WORDS, CaseRow, Figures, breakdown, figures

FIGURE_COLUMNS = ["分组", "收到", "立案", "并案", "不予立案", "交办", "办复", "办结", "撤回", "办复率%", "按期办复", "按期办复率%",
                  "满意", "满意%", "基本满意", "基本满意%", "不满意", "不满意%", "未表态", "满意率%", "满意和基本满意率%",
                  "重新办理后满意", "A类", "B类", "C类", "D类", "承诺事项", "已兑现", "承诺逾期", "移交督查室"]
REPLY_COLUMNS = ["编号", "标题", "领衔代表", "联名代表", "主办单位", "协办单位", "交办日期", "签收日期", "答复日期", "答复类别", "按期",
                 "办理工作评价", "办理结果评价", "办理结果"]
COMMITMENT_COLUMNS = ["建议编号", "标题", "承办单位", "承诺事项", "承诺完成日期", "进展情况", "状态"]
REQUIRED_COLUMNS = {"会次", "编号", "标题", "领衔代表", "主办单位", "交办日期", "答复日期", "答复类别"}  # the rest may be left out
ASSIGN_COLUMNS = ["会次", "编号", "标题", "正文", "领衔代表", "联名代表", "类别", "期间", "主办单位", "协办单位"]
HISTORY_COLUMNS = [*ASSIGN_COLUMNS, "交办日期", "签收日期", "答复日期", "答复类别", "办理工作评价", "办理结果评价", "评价日期",
                   "重新办理答复日期", "重新办理结果评价"]


def figure_row(name: str, f: Figures) -> list[Any]:
    d = f.first_result
    return [name, f.received, f.registered, f.merged, f.not_registered, f.assigned, f.replied, f.closed, f.withdrawn,
            float(f.reply_rate), f.on_time, float(f.on_time_rate),
            d.counts["满意"], float(d.pct("满意")), d.counts["基本满意"], float(d.pct("基本满意")), d.counts["不满意"],
            float(d.pct("不满意")), d.no_view, float(d.satisfied_rate), float(d.satisfied_or_basic_rate),
            f.rehandled["满意"], *(f.classes[c] for c in "ABCD"), f.commitments["承诺"], f.commitments["已兑现"],
            f.commitments["逾期"], f.escalations["移交"]]


def statistics_workbook(rows: list[CaseRow]) -> bytes:
    """One sheet for the whole session, one per breakdown."""
    wb = Workbook()
    sheet = wb.active
    sheet.title = "总体"
    sheet.append(FIGURE_COLUMNS)
    sheet.append(figure_row("全部", figures(rows)))
    for key, title in BREAKDOWNS.items():
        ws = wb.create_sheet(title)
        ws.append(FIGURE_COLUMNS)
        for name, f in breakdown(rows, key).items():
            ws.append(figure_row(name, f))
    return _bytes(wb)


def replies_ledger(rows: list[CaseRow]) -> bytes:
    """答复台账: one row per suggestion."""
    wb = Workbook()
    ws = wb.active
    ws.title = "答复台账"
    ws.append(REPLY_COLUMNS)
    for r in rows:
        first = r.first
        ws.append([r.number, r.title, r.lead_deputy, "、".join(r.co_signers), r.lead_unit, "、".join(r.co_handlers),
                   _day(r.assigned_at), _day(r.signed_at), _day(r.replied_at), r.reply_class,
                   "" if r.on_time_reply is None else ("是" if r.on_time_reply else "否"),
                   first.work if first else "", first.result if first else "", r.outcome])
    return _bytes(wb)


def commitments_ledger(items: list[tuple[Any, Any, list[Any]]]) -> bytes:
    """承诺事项台账: one row per commitment, with its progress reports."""
    wb = Workbook()
    ws = wb.active
    ws.title = "承诺事项台账"
    ws.append(COMMITMENT_COLUMNS)
    for s, c, progress in items:
        reports = "\n".join(f"{_day(p.reported_at)} {p.text}" for p in progress)
        ws.append([s.number, s.title, s.lead_unit, c.text, c.promised_date.isoformat(), reports, c.status])
    return _bytes(wb)


def _day(moment: datetime | None) -> str:
    return moment.astimezone(CST).date().isoformat() if moment else ""


def _bytes(wb: Workbook) -> bytes:
    for ws in wb.worksheets:  # nothing jianyi writes is a formula: a title that begins with "=" stays a title
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# -- reading a 交办 list or a finished year ----------------------------------------------------------
@dataclass
class ImportRow:
    line: int  # the row number in the sheet (the header is row 1)
    values: dict[str, str]
    dates: dict[str, date] = field(default_factory=dict)

    def names(self, column: str) -> list[str]:
        return [n.strip() for n in self.values.get(column, "").replace(",", "、").replace("，", "、").split("、") if n.strip()]


def read_rows(data: bytes, columns: list[str]) -> tuple[list[ImportRow], list[str]]:
    """The rows of the first sheet by header name; errors name the missing columns. A file or a sheet
    past the bounds (models/bounds.py) is refused whole, before its rows are held in memory."""
    if len(data) > IMPORT_MAX_BYTES:
        return [], [f"文件太大（超过 {IMPORT_MAX_BYTES // 2**20} MB）：请分批导入"]
    try:
        ws = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    except Exception as exc:  # noqa: BLE001  (any unreadable file reads the same to a user)
        return [], [f"无法读取 Excel 文件：{type(exc).__name__}"]
    lines = list(islice(ws.iter_rows(values_only=True), IMPORT_MAX_ROWS + 2))  # the header, the rows, one too many
    if len(lines) > IMPORT_MAX_ROWS + 1:
        return [], [f"超过 {IMPORT_MAX_ROWS:,} 行：请分批导入"]
    if not lines:
        return [], ["文件是空的"]
    header = [str(h or "").strip() for h in lines[0]]
    missing = [c for c in columns if c in REQUIRED_COLUMNS and c not in header]
    if missing:
        return [], [f"缺少必需的列：{'、'.join(missing)}（其余列可以没有）"]
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        values = {h: _text(v) for h, v in zip(header, line, strict=False) if h}
        if any(values.values()):
            rows.append(ImportRow(n, values))
    return rows, []


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value).strip()


def check_rows(rows: list[ImportRow], history: bool, known_units: set[str], known_deputies: set[str]) -> list[str]:
    """Every problem of every row, row-numbered, in Chinese (nothing is written when there is one)."""
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        errors += [f"第{row.line}行：{e}" for e in _row_errors(row, history, known_units, known_deputies)]
        key = (row.values.get("会次", ""), row.values.get("编号", ""))
        if key in seen:
            errors.append(f"第{row.line}行：编号「{key[1]}」与第{seen[key]}行重复")
        seen.setdefault(key, row.line)
    return errors


def _row_errors(row: ImportRow, history: bool, units: set[str], deputies: set[str]) -> list[str]:
    v, out = row.values, []
    for column in ("会次", "编号", "标题", "领衔代表", "主办单位"):
        if not v.get(column):
            out.append(f"「{column}」不能为空")
    if v.get("编号") and not parse_number(v["编号"]):
        out.append(f"编号「{v['编号']}」无效，应形如「第40号」或「闭会第33号」")
    if v.get("期间") and v["期间"] not in ("大会期间", "闭会期间"):
        out.append(f"期间「{v['期间']}」应为 大会期间 或 闭会期间")
    elif v.get("期间") and v.get("编号") and (kind := parse_number(v["编号"])) and (kind[0] == "闭会") != (v["期间"] == "闭会期间"):
        out.append(f"编号「{v['编号']}」与期间「{v['期间']}」不符：闭会期间建议的编号形如「闭会第33号」")
    out += [f"未登记的代表：{n}" for n in [*row.names("领衔代表"), *row.names("联名代表")] if n not in deputies]
    out += [f"未知的承办单位：{n}" for n in [*row.names("主办单位"), *row.names("协办单位")] if n not in units]
    if history:
        out += _history_errors(row)
    return out


def _history_errors(row: ImportRow) -> list[str]:
    v, out = row.values, []
    for column in ("交办日期", "签收日期", "答复日期", "评价日期", "重新办理答复日期"):
        if v.get(column):
            try:
                row.dates[column] = date.fromisoformat(v[column][:10])
            except ValueError:
                out.append(f"「{column}」日期「{v[column]}」无效，应为 YYYY-MM-DD")
    for column in ("交办日期", "答复日期"):
        if not v.get(column):
            out.append(f"「{column}」不能为空")
    if v.get("答复类别") not in ("A", "B", "C", "D"):
        out.append(f"答复类别「{v.get('答复类别', '')}」应为 A / B / C / D")
    for column in ("办理工作评价", "办理结果评价", "重新办理结果评价"):
        if v.get(column) and v[column] not in (*WORDS, "未表态"):
            out.append(f"「{column}」的「{v[column]}」不是评价用语（满意 / 基本满意 / 不满意 / 未表态）")
    if v.get("办理结果评价") in WORDS and not v.get("评价日期"):
        out.append("有评价时须填写评价日期")
    if v.get("办理结果评价") == "不满意" and not (v.get("重新办理答复日期") and v.get("重新办理结果评价")):
        out.append("办理结果评价为不满意时，须有重新办理答复日期和重新办理结果评价")
    ordered = [row.dates.get(c) for c in ("交办日期", "签收日期", "答复日期", "评价日期", "重新办理答复日期")]
    present = [d for d in ordered if d]
    if present != sorted(present):
        out.append("日期先后不对：应依次为交办、签收、答复、评价、重新办理答复")
    today = datetime.now(CST).date()
    out += [f"「{c}」{row.dates[c]}不能早于{EARLIEST.isoformat()}" for c in row.dates if row.dates[c] < EARLIEST]
    out += [f"「{c}」{row.dates[c]}晚于今天：办完的一年只含已经发生的事" for c in row.dates if row.dates[c] > today]
    return out
