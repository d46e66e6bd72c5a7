"""Demo data: the real suggestions of the seed report (武昌区, 区十六届人大三次会议), at different stages.

Earlier steps are entered as an admin's 补录 (recorded now, dated when they happened), which is
how a district that starts using the system mid-year brings in cases already under way. Dates
are relative to today, so `jianyi stuck` always has overdue, unsigned and unevaluated cases.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlmodel import select
from temporalio.client import Client

from jianyi import directory
from jianyi.models.db import session_for
from jianyi.models.policy import CST
from jianyi.models.tables import Suggestion
from jianyi.service import Engine
from jianyi.settings import Settings

SESSION = ("16-3", "武昌区第十六届人民代表大会第三次会议")
OFFICES = ("区人大常委会代表工作委员会", "区政府办公室", "区政府督查室")
UNITS = (
    "区地方金融工作局", "区科技局", "区财政局", "区商务局", "区城管局", "区水务局", "区文化和旅游局",
    "区建设局", "区教育局", "区公安分局", "杨园街道办事处", "粮道街道办事处", "黄鹤楼街道办事处",
)
DEPUTIES = ("杨永兵", "刘正心", "饶满琳", "王琨", "楚俊", "彭克军", "李明泉", "胡家胜", "汪琳", "陈遥", "韩文亮")
ADMIN = "系统管理员"
OFFICE = "congress_office:区人大常委会代表工作委员会"
# 督办人: members of the chairpersons' meeting and committee heads who follow key items
SUPERVISORS = {"王琨": "区人大常委会副主任", "楚俊": "区人大常委会财政经济工作委员会主任"}
GOV = "government_office:区政府办公室"

Step = tuple[str, str, int, dict[str, Any]]  # action, role:name, days ago, payload


def _handle(unit: str, contact_days: int, reply_days: int, reply_class: str = "A", commitments: list[dict[str, Any]] | None = None, approve_days: int | None = None, today: datetime | None = None) -> list[Step]:
    today = today or datetime.now(CST)
    contact_on = (today - timedelta(days=contact_days)).date().isoformat()
    return [
        ("record_contact", f"unit:{unit}", contact_days, {"method": "座谈", "on": contact_on, "note": "邀请代表座谈，听取意见"}),
        ("reply", f"unit:{unit}", reply_days, {"reply_class": reply_class, "text": "经研究，现答复如下：……", "signed_by": f"{unit}主要负责人", "commitments": commitments or []}),
        ("review_reply", GOV, approve_days if approve_days is not None else reply_days - 1, {"decision": "approve"}),
    ]


def cases(today: datetime) -> list[tuple[dict[str, Any], int, list[Step]]]:
    """(submission, days ago submitted, steps) for each demo suggestion."""
    reg: Step = ("review", OFFICE, 0, {"decision": "register"})

    def assign(days: int, lead: str, co: list[str] | None = None) -> list[Step]:
        return [(reg[0], reg[1], days + 1, reg[3]), ("assign", OFFICE, days, {"lead_unit": lead, "co_handlers": co or []})]

    def sign(days: int, unit: str) -> Step:
        return ("sign", f"unit:{unit}", days, {})

    promised = (today + timedelta(days=40)).date().isoformat()
    return [
        ({"number": "第40号", "title": "关于做好武昌区科技金融、绿色金融、普惠金融、养老金融、数字金融的建议", "lead_deputy": "杨永兵", "category": "经济发展"}, 200,
         [*assign(180, "区地方金融工作局"), sign(178, "区地方金融工作局"), *_handle("区地方金融工作局", 150, 120, today=today),
          ("evaluate", "deputy:杨永兵", 110, {"work": "满意", "result": "满意"})]),
        ({"number": "第65号", "title": "关于创新运用资本运营工具加快推进武昌区科技创新和现代产业体系建设的建议", "lead_deputy": "刘正心", "category": "经济发展"}, 200,
         [*assign(180, "区科技局", ["区财政局"]), sign(177, "区科技局"),
          ("co_opinion", "unit:区财政局", 160, {"text": "首义科创母基金可与区内研究机构对接。"}),
          *_handle("区科技局", 140, 110, "B", [{"text": "对接落地院士专家牵头的成果转化项目", "promised_date": promised}], today=today),
          ("evaluate", "deputy:刘正心", 100, {"work": "满意", "result": "基本满意"})]),
        ({"number": "闭会第33号", "title": "关于武昌区集合资源建设具有国际影响力的华中商业新地标的建议", "lead_deputy": "饶满琳",
          "co_signers": ["杨永兵", "刘正心", "王琨", "楚俊", "彭克军", "李明泉", "胡家胜", "汪琳"], "category": "经济发展"}, 140,
         [*assign(130, "区商务局"), sign(128, "区商务局"),
          ("record_contact", "unit:区商务局", 100, {"method": "上门", "on": (today - timedelta(days=100)).date().isoformat()})]),
        ({"number": "第56号", "title": "关于建成螃蟹岬山顶小路（暂）使其有效发挥昙华林正街交通辅助功能的建议", "lead_deputy": "王琨", "category": "城市更新"}, 120,
         [*assign(100, "区城管局", ["粮道街道办事处"]), sign(98, "区城管局"), *_handle("区城管局", 30, 6, today=today)]),
        ({"number": "第85号", "title": "关于打造黄鹤古城特色民宿街区的建议", "lead_deputy": "楚俊", "category": "城市更新"}, 120,
         [*assign(100, "区文化和旅游局"), sign(99, "区文化和旅游局"), *_handle("区文化和旅游局", 40, 20, "C", today=today),
          ("evaluate", "deputy:楚俊", 12, {"work": "基本满意", "result": "不满意", "comment": "希望明确民宿街区建设的时间表。"})]),
        ({"number": "第17号", "title": "关于畅通杨园街道融侨城外围微循环道路的建议", "lead_deputy": "彭克军", "category": "城市更新"}, 200,
         [*assign(180, "区建设局", ["杨园街道办事处"]), sign(179, "区建设局"), *_handle("区建设局", 120, 100, today=today),
          ("evaluate", "deputy:彭克军", 90, {"work": "满意", "result": "满意"})]),
        ({"number": "第180号", "title": "关于加强东湖村社区主干道交通管理的建议", "lead_deputy": "李明泉", "category": "环境提升"}, 200,
         [*assign(180, "区公安分局"), sign(178, "区公安分局"), *_handle("区公安分局", 150, 120, today=today),
          ("evaluate", "deputy:李明泉", 110, {"work": "基本满意", "result": "不满意", "comment": "车辆违停问题仍未解决。"}),
          *_handle("区公安分局", 100, 90, today=today),
          ("evaluate", "deputy:李明泉", 80, {"work": "不满意", "result": "不满意", "comment": "跨区协调仍无进展。"})]),
        ({"number": "闭会第3号", "title": "关于解决好杨园街道国棉社区锦绣家园9号楼下水网管堵塞问题的建议", "lead_deputy": "胡家胜", "category": "环境提升"}, 75,
         [*assign(70, "区水务局", ["杨园街道办事处"]), sign(69, "区水务局"),
          ("mark_key", OFFICE, 60, {"key": True, "supervisor": "王琨"})]),
        ({"number": "第169号", "title": "关于推进中小学全面实施午休‘舒心躺睡’工程全面落地实施的建议", "lead_deputy": "汪琳", "category": "民生保障"}, 30,
         [*assign(20, "区教育局")]),
        ({"number": "第94号", "title": "关于发挥汉剧国家级非遗项目力量的建议", "lead_deputy": "陈遥", "co_signers": ["韩文亮"], "category": "民生保障"}, 200,
         [*assign(180, "区文化和旅游局"), sign(179, "区文化和旅游局"), *_handle("区文化和旅游局", 130, 110, today=today),
          ("evaluate", "deputy:陈遥", 100, {"work": "满意", "result": "满意"})]),
        ({"number": "第76号", "title": "关于改善老旧小区治安环境的建议", "lead_deputy": "楚俊", "category": "民生保障"}, 15,
         [*assign(10, "区公安分局", ["黄鹤楼街道办事处"]), sign(8, "区公安分局")]),
    ]


def load_directory(settings: Settings) -> None:
    url = settings.db_url
    directory.add_session(url, *SESSION)
    for name in (*OFFICES, *UNITS):
        directory.add_unit(url, name, email=f"{name}@wuchang.example", kind="办公室" if name in OFFICES else "政府部门")
    for name in DEPUTIES:
        directory.add_deputy(url, name, email=f"{name}@deputy.wuchang.example")
    for name, title in SUPERVISORS.items():
        directory.add_supervisor(url, name, title, email=f"{name}@supervisor.wuchang.example")


# Demo accounts: (login, display name, role, binding). Passwords are made at first start and printed once.
def demo_accounts() -> list[tuple[str, str, str, str]]:
    return [
        ("admin", "系统管理员", "admin", ""),
        ("dgw", "代表工委", "congress_office", ""),
        ("zfb", "区政府办公室", "government_office", "区政府办公室"),
        ("dcs", "区政府督查室", "supervision_office", "区政府督查室"),
        ("shenji", "审计人员", "auditor", ""),
        *((name, name, "unit", name) for name in UNITS),
        *((name, name, "deputy", name) for name in DEPUTIES),
        *((f"督办{name}", name, "supervisor", name) for name in SUPERVISORS),
    ]


def load_accounts(settings: Settings) -> list[tuple[str, str, str]]:
    """Create the demo accounts that do not exist yet; returns (login, role, password) of the new ones.

    Demo passwords need no change at first login (a real account's do); they are also written,
    owner-only, to var/demo-accounts.txt.
    """
    from jianyi.accounts import add_account
    from jianyi.models.accounts import Account

    url, made = settings.db_url, []
    for login, name, role, binding in demo_accounts():
        with session_for(url) as db:
            if db.exec(select(Account).where(Account.login == login)).first():
                continue
        password = add_account(url, login, name, role, binding, actor="演示数据")
        with session_for(url) as db:
            account = db.exec(select(Account).where(Account.login == login)).one()
            account.must_change = False
            db.add(account)
            db.commit()
        made.append((login, role, password))
    if made:
        path = settings.var_dir / "demo-accounts.txt"
        with path.open("a", encoding="utf-8") as f:
            f.writelines(f"{login}\t{role}\t{password}\n" for login, role, password in made)
        path.chmod(0o600)
    return made


async def load_demo(client: Client, settings: Settings) -> str:
    """Load the demo once (skipped when the session already has suggestions)."""
    load_directory(settings)
    with session_for(settings.db_url) as db:
        if db.exec(select(Suggestion.id).where(Suggestion.session == SESSION[0]).limit(1)).first():
            return "已存在，跳过"
    engine = Engine(client, settings)
    today = datetime.combine(datetime.now(CST).date(), time(10), CST)
    count = 0
    for submission, submitted_days, steps in cases(today):
        data = {"session": SESSION[0], **submission}
        sid = await engine.submit(data, ADMIN, "admin", effective_at=today - timedelta(days=submitted_days))
        for action, spec, days, payload in steps:
            role, _, name = spec.partition(":")
            await engine.act(
                sid, action, ADMIN, "admin", payload,
                on_behalf_of=f"{role}:{name}", effective_at=today - timedelta(days=days),
            )
        count += 1
    return f"已载入 {count} 件建议（区十六届人大三次会议，见种子报告）"
