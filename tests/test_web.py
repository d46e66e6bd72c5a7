"""The web application over HTTP (issue 8): logins, sessions, CSRF, lock-out, access by role and
binding, one lifecycle through the pages by five accounts, the JSON API."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio
from helpers import do, outbox, seed_directory, skip_past, stop_all, submit_and_assign, suggestion
from web_helpers import ready_accounts

from jianyi import accounts, directory
from jianyi.api.app import create_app
from jianyi.models.commands import InputError
from jianyi.models.policy import china_day

PASSWORD = "correct-horse-9"
PEOPLE = [  # login, name, role, binding
    ("yyb", "杨永兵", "deputy", "杨永兵"),
    ("liu", "刘正心", "deputy", "刘正心"),
    ("dgw", "代表工委", "congress_office", ""),
    ("zfb", "区政府办公室", "government_office", "区政府办公室"),
    ("dcs", "区政府督查室", "supervision_office", "区政府督查室"),
    ("jr", "区地方金融工作局", "unit", "区地方金融工作局"),
    ("kj", "区科技局", "unit", "区科技局"),
    ("cg", "区城管局", "unit", "区城管局"),
    ("wk", "王琨", "supervisor", "王琨"),
    ("sj", "审计人员", "auditor", ""),
    ("root", "系统管理员", "admin", ""),
]


@pytest_asyncio.fixture
async def site(env, settings, worker, engine) -> AsyncIterator[httpx.AsyncClient]:
    ready_accounts(settings.db_url, PEOPLE, PASSWORD)
    app = create_app(settings, env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jianyi.test") as client:
        yield client
    await stop_all(env, settings)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


async def login(client: httpx.AsyncClient, who: str, password: str = PASSWORD) -> httpx.Response:
    client.cookies.clear()
    page = await client.get("/login")
    return await client.post("/login", data={"login": who, "password": password, "csrf": csrf_of(page.text), "next": "/"})


async def post_form(client: httpx.AsyncClient, path: str, data: dict, files: dict | None = None) -> httpx.Response:
    page = await client.get(path)
    return await client.post(path, data={**data, "csrf": csrf_of(page.text)}, files=files)


async def test_each_role_logs_in_and_sees_its_workbench(site, engine):
    sid = await submit_and_assign(engine)
    for login_name, name, _role, _ in PEOPLE:
        assert (await login(site, login_name)).status_code == 303
        page = await site.get("/")
        assert page.status_code == 200 and "工作台" in page.text and name in page.text, login_name
    await login(site, "jr")
    assert sid in (await site.get("/")).text and "签收" in (await site.get("/")).text  # the lead unit's to-do


async def test_a_wrong_password_fails_and_repeated_failures_lock_the_account(site):
    for _ in range(accounts.MAX_FAILURES):
        failed = await login(site, "jr", "wrong-password")
        assert failed.status_code == 401 and "登录名或密码错误" in failed.text
    locked = await login(site, "jr")
    assert locked.status_code == 401 and "账号已锁定" in locked.text


async def test_the_first_login_forces_a_password_change(site, settings):
    password = accounts.add_account(settings.db_url, "new", "新同志", "congress_office", "")
    assert (await login(site, "new", password)).headers["location"] == "/password"
    assert (await site.get("/")).headers["location"].startswith("/login")  # nothing else until it is changed
    changed = await post_form(site, "/password", {"old": password, "new": "a-new-password", "again": "a-new-password"})
    assert changed.status_code == 303 and (await site.get("/")).status_code == 200


async def test_a_form_without_its_csrf_token_is_refused(site, engine):
    sid = await submit_and_assign(engine)
    await login(site, "jr")
    refused = await site.post(f"/suggestions/{sid}/act/sign", data={})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert (await engine.view(sid)).state == "assigned"  # nothing was written


async def test_a_unit_cannot_open_or_act_on_another_units_case_by_url(site, engine):
    sid = await submit_and_assign(engine)
    await login(site, "cg")
    page = await site.get(f"/suggestions/{sid}")
    assert page.status_code == 403 and "无权查看" in page.text
    acted = await site.post(f"/suggestions/{sid}/act/sign", data={"csrf": csrf_of((await site.get('/')).text)})
    assert acted.status_code == 403 and (await engine.view(sid)).state == "assigned"
    api = await site.get(f"/api/suggestions/{sid}")
    assert api.status_code == 403 and api.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    ("login_name", "allowed"),
    [("yyb", {"/", "/case", "/submit"}), ("jr", {"/", "/case", "/stuck"}), ("cg", {"/", "/stuck"}), ("dgw", {"/", "/case", "/stuck"}),
     ("wk", {"/", "/stuck"}), ("sj", {"/", "/case", "/stuck"}), ("root", {"/", "/case", "/stuck", "/admin", "/outbox"})],
)
async def test_every_page_answers_200_or_403_as_the_roles_allow(site, engine, login_name, allowed):
    sid = await submit_and_assign(engine)
    await login(site, login_name)
    for path in ("/", "/case", "/stuck", "/admin", "/submit", "/outbox"):
        real = f"/suggestions/{sid}" if path == "/case" else path
        status = (await site.get(real)).status_code
        assert status == (200 if path in allowed else 403), (login_name, path, status)


async def test_a_notice_link_opens_the_login_page_for_someone_not_logged_in(site, engine):
    sid = await submit_and_assign(engine)
    site.cookies.clear()
    page = await site.get(f"/suggestions/{sid}")
    assert page.status_code == 303 and page.headers["location"].startswith(f"/login?next=/suggestions/{sid}")


async def test_one_lifecycle_through_the_pages_by_five_accounts(site, engine, settings):
    await login(site, "yyb")
    made = await post_form(site, "/submit", {"session": settings.task_queue, "number": "第41号", "title": "关于增设社区充电桩的建议",
                                             "text": "小区充电难。", "category": "城市建设", "period": "大会期间", "co_signers": "刘正心"})
    assert made.status_code == 303
    sid = made.headers["location"].rsplit("/", 1)[1]
    await login(site, "dgw")
    assert (await post_form(site, f"/suggestions/{sid}/act/review", {"decision": "register"})).status_code == 303
    assert (await post_form(site, f"/suggestions/{sid}/act/assign", {"lead_unit": "区地方金融工作局"})).status_code == 303
    await login(site, "jr")
    assert (await post_form(site, f"/suggestions/{sid}/act/sign", {})).status_code == 303
    day = china_day((await engine.view(sid)).assigned_at).isoformat()
    assert (await post_form(site, f"/suggestions/{sid}/act/record_contact", {"method": "座谈", "on": day})).status_code == 303
    not_pdf = await post_form(site, f"/suggestions/{sid}/act/reply", {"reply_class": "A", "text": "已增设。", "signed_by": "局长"},
                              files={"attachment_file": ("答复函.pdf", b"hello", "application/pdf")})
    assert not_pdf.status_code == 400 and "须为 PDF 文件" in not_pdf.text and "已增设。" in not_pdf.text  # the form keeps what was typed
    letter = b"%PDF-1.4\n% reply letter\n"
    replied = await post_form(site, f"/suggestions/{sid}/act/reply", {"reply_class": "A", "text": "已增设。", "signed_by": "局长"},
                              files={"attachment_file": ("答复函.pdf", letter, "application/pdf")})
    assert replied.status_code == 303
    await login(site, "zfb")
    assert (await post_form(site, f"/suggestions/{sid}/act/review_reply", {"decision": "approve"})).status_code == 303
    await login(site, "liu")  # a co-signer sees the reply but is not offered the evaluation
    page = await site.get(f"/suggestions/{sid}")
    assert "已增设。" in page.text and "/act/evaluate" not in page.text
    await login(site, "yyb")
    assert (await post_form(site, f"/suggestions/{sid}/act/evaluate", {"work": "满意", "result": "满意"})).status_code == 303
    page = await site.get(f"/suggestions/{sid}")
    assert "已办结" in page.text
    from helpers import audit

    events = audit(settings, sid)
    assert {e.payload.get("via") for e in events if e.action != "agenda"} >= {"web"}
    [reply] = [e for e in events if e.action == "reply"]
    import hashlib

    assert reply.payload["attachment_sha256"] == hashlib.sha256(letter).hexdigest()


async def test_the_json_api_answers_with_a_token_and_stable_chinese_errors(site, engine, settings):
    sid = await submit_and_assign(engine)
    token = accounts.create_token(settings.db_url, "jr")
    site.cookies.clear()
    headers = {"Authorization": f"Bearer {token}"}
    assert (await site.get("/api/me", headers=headers)).json()["acts_as"] == "区地方金融工作局"
    case = (await site.get(f"/api/suggestions/{sid}", headers=headers)).json()
    assert case["state"] == "assigned" and "sign" in case["allowed_actions"]
    wrong = await site.post(f"/api/suggestions/{sid}/actions/reply", json={"reply_class": "Z"}, headers=headers)
    assert wrong.status_code == 403 and wrong.json()["code"] == "forbidden"
    signed = await site.post(f"/api/suggestions/{sid}/actions/sign", json={}, headers=headers)
    assert signed.status_code == 200 and signed.json()["state"] == "handling"
    bad = await site.post(f"/api/suggestions/{sid}/actions/record_contact", json={"method": "微信", "on": "x"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_input" and "沟通方式" in bad.json()["message"]
    assert (await site.get("/api/me")).status_code == 401
    assert (await site.get("/openapi.json")).json()["info"]["title"].startswith("jianyi")



def test_seed_directory_is_the_one_the_accounts_bind_to(settings):
    seed_directory(settings)
    with pytest.raises(InputError, match="尚未登记"):
        accounts.add_account(settings.db_url, "ghost", "幽灵", "unit", "不存在的局")


async def test_the_statistics_page_shows_figures_charts_and_downloads_for_the_offices_only(site, engine, settings):
    from helpers import reply_and_approve

    sid = await submit_and_assign(engine)
    await engine.act(sid, "sign", "区地方金融工作局", "unit", {})
    await reply_and_approve(engine, sid)
    await engine.act(sid, "evaluate", "杨永兵", "deputy", {"work": "满意", "result": "满意"})
    await login(site, "dgw")
    page = await site.get(f"/reports?session={settings.task_queue}")
    assert page.status_code == 200 and "<svg" in page.text and "满意的1件，占100.00%" in page.text
    assert "满意（1件）" in page.text and "另有未表态0件（不计入百分比）" in page.text and "未表态(件)" not in page.text
    waiting = (await site.get(f"/reports?session={settings.task_queue}&period=闭会期间")).text  # nothing there yet
    assert f"会次 {settings.task_queue}闭会期间尚无建议。" in waiting  # not a blank page
    odd = await site.get(f"/reports?session={settings.task_queue}&period=xx")
    assert "没有期间「xx」" in odd.text and "满意的1件" in odd.text  # said, and both periods shown
    book = await site.get(f"/reports/{settings.task_queue}/statistics.xlsx")
    assert book.status_code == 200 and book.content[:2] == b"PK"
    assert quote(f"{settings.task_queue}-统计工作簿.xlsx") in book.headers["content-disposition"]  # the page's own name
    await login(site, "jr")
    assert (await site.get("/reports")).status_code == 403


async def test_an_import_with_bad_rows_shows_every_row_error_on_the_page(site, settings):
    from test_reports import year_file

    from jianyi.reports.excel import ASSIGN_COLUMNS

    await login(site, "root")
    data = year_file(settings.task_queue, [{"会次": settings.task_queue, "编号": "第1号", "标题": "x", "领衔代表": "无名氏", "主办单位": "区火星局"}],
                     ASSIGN_COLUMNS)
    page = await site.get("/reports")
    done = await site.post("/reports/import", data={"kind": "assign", "csrf": csrf_of(page.text)},
                           files={"file": ("交办清单.xlsx", data, "application/octet-stream")})
    assert done.status_code == 200 and "第2行：未登记的代表：无名氏" in done.text and "第2行：未知的承办单位：区火星局" in done.text


async def test_the_congress_office_assigns_several_cases_at_once(site, engine, settings):
    sids = []
    for n in (50, 51, 52):
        sid = await engine.submit(suggestion(settings, number=f"第{n}号", title=f"建议{n}"), "杨永兵")
        await engine.act(sid, "review", "代表工委", "congress_office", {"decision": "register"})
        sids.append(sid)
    await login(site, "dgw")
    page = await site.get("/assign")
    done = await site.post("/assign", data={"csrf": csrf_of(page.text), "ids": sids[:2], "lead_unit": "区城管局", "co_handlers": "区科技局"})
    assert done.status_code == 200 and done.text.count("已交办区城管局") == 2
    states = [(await engine.view(s)).state for s in sids]
    assert states == ["assigned", "assigned", "registered"]
    await login(site, "jr")
    assert (await site.get("/assign")).status_code == 403


async def test_the_auditor_verifies_the_chains_and_exports_a_whole_session(site, engine, settings):
    await submit_and_assign(engine)
    await login(site, "sj")
    page = await site.get("/audit")
    assert page.status_code == 200 and "审计链完整" in page.text
    exported = (await site.get(f"/audit/export.json?session={settings.task_queue}")).json()
    assert [e["action"] for e in exported] == ["submit", "review", "assign"] and all(len(e["hash"]) == 64 for e in exported)
    assert (await site.get(f"/audit/export.csv?session={settings.task_queue}")).text.startswith("\ufeffsuggestion_id")
    unknown = await site.get("/audit/export.json?session=16-9")
    assert unknown.status_code == 404 and "没有会次「16-9」" in unknown.text


async def test_the_admin_pages_name_each_role_and_channel_in_chinese(site):
    await login(site, "root")
    page = (await site.get("/admin")).text
    assert '<option value="congress_office">代表工委</option>' in page and '<option value="unit">承办单位</option>' in page
    assert "<td>代表工委</td>" in page and "<td>congress_office</td>" not in page
    directory = (await site.get("/admin/directory")).text
    assert "区地方金融工作局（电子邮件）" in directory and "（email）" not in directory


async def test_the_admin_keeps_the_directory_and_loads_a_calendar_year_in_the_pages(site, settings):
    await login(site, "root")
    page = await site.get("/admin/directory")
    added = await site.post("/admin/directory", data={"csrf": csrf_of(page.text), "kind": "supervisor", "name": "陈遥", "title": "专工委主任"})
    assert "已登记：陈遥" in added.text
    partial = io.BytesIO("2031-01-01 休 元旦\n".encode())
    refused = await site.post("/admin/calendar", data={"csrf": csrf_of(page.text)}, files={"file": ("2031.txt", partial, "text/plain")})
    assert "缺少春节、清明、劳动节、端午、中秋、国庆" in refused.text
    await login(site, "dgw")
    assert (await site.get("/admin/directory")).status_code == 403


async def test_the_stuck_list_answers_any_page_number_with_the_nearest_page(site, engine):
    await submit_and_assign(engine)
    await login(site, "dgw")
    for page in ("0", "-3", "2", str(10**30)):
        html = await site.get("/stuck", params={"page": page})
        assert html.status_code == 200 and "内部错误" not in html.text, page
        data = await site.get("/api/stuck", params={"page": page})
        assert data.status_code == 200 and data.json()["page"] == 1, page


async def test_a_stuck_filter_naming_an_unregistered_unit_says_so_on_the_page_and_in_the_api(site, engine):
    await submit_and_assign(engine)
    await login(site, "dgw")
    page = await site.get("/stuck", params={"unit": "区地方金融工作处"})
    assert page.status_code == 200 and "未登记的承办单位「区地方金融工作处」" in page.text and 'value="区地方金融工作处"' in page.text
    data = await site.get("/api/stuck", params={"unit": "区地方金融工作处"})
    assert data.status_code == 400 and data.json()["code"] == "invalid_input" and "未登记" in data.json()["message"]
    assert (await site.get("/api/stuck", params={"unit": "区地方金融工作局"})).json()["total"] >= 0  # the registered name is answered


def todo_of(html: str, number: str) -> str:
    """The「待办：…」line of one case on a 工作台 page ("" when the case is not on it)."""
    found = re.search(re.escape(number) + r"《.*?待办：([^<]*)", html, flags=re.S)
    return found.group(1) if found else ""


async def test_the_todo_list_shows_only_what_each_account_may_do_now_as_the_case_page_does(site, engine):
    sid = await submit_and_assign(engine, co=["区科技局"])
    number = (await engine.view(sid)).submission.display_number
    await do(engine, sid, "sign", "unit:区地方金融工作局")
    await login(site, "dgw")
    assert todo_of((await site.get("/")).text, number) == ""  # no request pending: nothing waits on the office
    await login(site, "jr")
    # no 提交协办意见 (the lead unit gives none) and no 答复 before the deputy was contacted
    assert todo_of((await site.get("/")).text, number) == "申请延期、记录与代表沟通"
    await do(engine, sid, "request_extension", "unit:区地方金融工作局", reason="需协调市级部门")
    assert todo_of((await site.get("/")).text, number) == "记录与代表沟通"  # one extension request, and at most one
    await login(site, "kj")
    assert todo_of((await site.get("/")).text, number) == "提交协办意见"
    await login(site, "dgw")
    assert todo_of((await site.get("/")).text, number) == "审批延期申请"
    await login(site, "yyb")  # the deputy may withdraw at any time, but nobody waits for that
    assert todo_of((await site.get("/")).text, number) == ""


async def test_the_pages_stay_up_while_temporal_is_down_and_a_step_answers_503(site, env, settings, engine):
    """The records pages serve while Temporal cannot be reached; what needs the workflow says so, in Chinese."""
    from jianyi.devserver import free_port

    sid = await submit_and_assign(engine)
    away = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})  # nothing listens there
    app = create_app(away)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jianyi.test") as offline:
        assert (await login(offline, "dgw")).status_code == 303
        assert (await offline.get("/stuck")).status_code == 200
        case = await offline.get(f"/suggestions/{sid}")
        assert case.status_code == 503 and "处理服务暂时不可用" in case.text and "127.0.0.1" not in case.text
        api = await offline.get(f"/api/suggestions/{sid}", headers={"Accept": "application/json"})
        assert api.status_code == 503 and api.json()["code"] == "unavailable"
    assert app.state.client is None  # nothing half-made was kept: the next request tries again


@pytest.mark.parametrize("elsewhere", ["//evil.example/x", "/\\evil.example", "https://evil.example/", "evil.example"])
async def test_a_login_never_sends_the_browser_to_another_site(site, elsewhere):
    ready = await site.get("/login", params={"next": elsewhere})
    assert f'value="{elsewhere}"' not in ready.text
    page = await site.get("/login")
    done = await site.post("/login", data={"login": "dgw", "password": PASSWORD, "csrf": csrf_of(page.text), "next": elsewhere})
    assert done.status_code == 303 and done.headers["location"] == "/"


async def test_a_login_goes_on_to_the_page_of_this_site_it_was_asked_for(site, engine):
    sid = await submit_and_assign(engine)
    page = await site.get("/login")
    done = await site.post("/login", data={"login": "dgw", "password": PASSWORD, "csrf": csrf_of(page.text), "next": f"/suggestions/{sid}"})
    assert done.status_code == 303 and done.headers["location"] == f"/suggestions/{sid}"


@pytest.mark.parametrize("session", ["十六届三次", 'a"b\r\nSet-Cookie: x=1'])
async def test_a_download_named_by_a_session_keeps_its_name_and_its_header_intact(site, settings, session):
    directory.add_session(settings.db_url, session, "一个会次")  # as a careless import could have named it
    await login(site, "dgw")
    for path, params in ((f"/reports/{quote(session, safe='')}/statistics.xlsx", {}), ("/audit/export.csv", {"session": session})):
        got = await site.get(path, params=params)
        assert got.status_code == 200, (path, got.status_code)
        disposition = got.headers["content-disposition"]
        assert "\r" not in disposition and "\n" not in disposition and "x=1" not in got.headers.get("set-cookie", "")
        assert quote(session, safe="") in disposition  # the real name, as RFC 6266 filename*


async def test_a_workbook_of_a_session_never_registered_is_not_found_and_never_an_empty_file(site):
    await login(site, "dgw")
    for kind in ("statistics", "replies", "commitments"):
        got = await site.get(f"/reports/十六届九次/{kind}.xlsx")
        assert got.status_code == 404 and "没有会次「十六届九次」" in got.text and not got.content.startswith(b"PK")
    page = await site.get("/reports", params={"session": "十六届九次"})
    assert page.status_code == 200 and "没有会次「十六届九次」：请从列表选择已登记的会次" in page.text


async def test_a_monthly_digest_link_opens_that_units_own_letter_and_no_other_units(site, engine, settings, env):
    from jianyi.scheduler import JOBS, start_digest, workflow_id

    await submit_and_assign(engine, suggestion(settings, number="闭会第33号", title="关于建设华中商业新地标的建议", lead_deputy="饶满琳"), lead="区城管局")
    await submit_and_assign(engine, suggestion(settings, number="闭会第3号", title="关于解决锦绣家园9号楼下水网管堵塞问题的建议", lead_deputy="胡家胜"), lead="区地方金融工作局")
    wid = workflow_id(JOBS["monthly"], "2025-03", settings.instance)
    assert await start_digest(env.client, settings, "monthly", "2025-03") is True
    await env.client.get_workflow_handle(wid).result()
    link = re.search(r"查看详情：(\S+)", next(r.body for r in outbox(settings, wid) if r.recipient == "区城管局")).group(1)  # type: ignore[union-attr]
    path = link.removeprefix(settings.base_url.rstrip("/"))
    assert path == f"/digests/{wid}"

    await login(site, "cg")
    own = await site.get(path)
    assert own.status_code == 200 and "闭会第33号" in own.text and "闭会第3号" not in own.text and "已发送" in own.text
    assert re.search(r'<a href="/suggestions/[^"]+-bh33">闭会第33号《', own.text)  # each case it lists opens from it
    await login(site, "kj")  # 区科技局 was sent nothing this month
    assert (await site.get(path)).status_code == 404
    await login(site, "dgw")
    both = (await site.get(path)).text
    assert "致区城管局" in both and "致区地方金融工作局" in both


async def test_the_admin_follows_the_failure_notice_link_to_the_notices_that_were_not_delivered(site, engine, settings):
    directory.add_unit(settings.db_url, "区统计局")  # registered without any address
    sid = await submit_and_assign(engine, lead="区统计局")
    await login(site, "jr")
    assert (await site.get("/outbox?failed=1")).status_code == 403
    await login(site, "root")
    page = await site.get("/outbox?failed=1")  # the link the admin notice carries
    assert page.status_code == 200 and "发件箱：发送失败或无地址" in page.text
    rows = re.findall(r"<tr class=\"flag\">(.*?)</tr>", page.text, re.S)
    assert rows and all("区统计局" in r and "无地址" in r for r in rows) and "no_address" not in page.text
    one = await site.get(f"/outbox?suggestion={sid.removeprefix('suggestion-')}")
    assert "区统计局" in one.text and "交办通知" in one.text
    unknown = await site.get("/outbox?suggestion=16-3-99999")
    assert unknown.status_code == 200 and "找不到" in unknown.text


async def test_an_overdue_case_sent_to_the_supervision_office_is_on_its_todo_list_until_it_acts(site, engine, settings, env):
    t0 = await env.get_current_time() - timedelta(days=130)  # a paper case assigned 130 days ago, never answered
    office = {"on_behalf_of": "congress_office:区人大常委会代表工作委员会"}
    sid = await engine.submit(suggestion(settings), "管理员", role="admin", effective_at=t0)
    await engine.act(sid, "review", "管理员", "admin", {"decision": "register"}, effective_at=t0 + timedelta(days=1), **office)
    case = await engine.act(sid, "assign", "管理员", "admin", {"lead_unit": "区地方金融工作局"}, effective_at=t0 + timedelta(days=2), **office)
    await skip_past(env, case.agenda_hold_until)
    assert (await engine.view(sid)).open_escalation is not None
    number = case.submission.display_number
    await login(site, "dcs")
    assert todo_of((await site.get("/")).text, number) == "督查处理（通报、限期整改或结束督办）"
    await do(engine, sid, "act_on_escalation", "supervision_office:区政府督查室", decision="notice", comment="予以通报")
    assert todo_of((await site.get("/")).text, number) == ""  # acted on: the unit is the one to move now
    ordered = await do(engine, sid, "act_on_escalation", "supervision_office:区政府督查室", decision="rectify", comment="限期答复")
    await login(site, "jr")  # the unit now works to the rectification's deadline, not the long-passed reply deadline
    block = (await site.get("/")).text.split(number, 1)[1].split("与我相关的建议", 1)[0]
    assert ordered.deadlines["rectify"].display_due() in block and "剩余" in block
    assert "督办中（待承办单位整改或督查室结束督办）" in (await site.get(f"/suggestions/{sid}")).text


def test_a_unit_name_with_markup_is_drawn_as_text_in_a_chart():
    from jianyi.api.report_pages import bars

    drawn = bars({"区<script>alert(1)</script>局": 1.0}, unit="件")
    assert "<script>" not in drawn and "&lt;script&gt;" in drawn


async def test_the_case_page_marks_the_deadline_the_case_waits_on_now(site, engine):
    sid = await submit_and_assign(engine)
    await login(site, "jr")

    def marked(html: str) -> str:
        found = re.search(r"<b>([^<]+)</b>：[^<]*\s*<span[^>]*id=\"waiting\">当前：([^<]+)</span>", html)
        return f"{found.group(1)} {found.group(2)}" if found else ""

    assert re.fullmatch(r"签收（申请调整）期限 剩余\d+个工作日", marked((await site.get(f"/suggestions/{sid}")).text))
    await do(engine, sid, "sign", "unit:区地方金融工作局")
    assert re.fullmatch(r"答复期限 剩余\d+个工作日", marked((await site.get(f"/suggestions/{sid}")).text))


async def test_a_parameter_of_the_wrong_kind_is_answered_in_chinese_on_a_page_and_in_the_api(site, settings):
    await login(site, "root")
    page = await site.get("/stuck", params={"page": "abc"})
    assert page.status_code == 400 and "「page」应为整数" in page.text and "int_parsing" not in page.text
    listing = await site.get("/outbox", params={"failed": "perhaps"})
    assert listing.status_code == 400 and "「failed」应为是或否" in listing.text
    token = accounts.create_token(settings.db_url, "jr")
    api = await site.get("/api/stuck", params={"page": "abc"}, headers={"Authorization": f"Bearer {token}"})
    body = api.json()
    assert api.status_code == 422 and body["code"] == "invalid_input" and "「page」应为整数" in body["message"]
    assert body["detail"][0]["type"] == "int_parsing"  # pydantic's exact error, for developers


async def test_the_admin_resets_a_forgotten_password_and_disables_an_account_on_the_page(site):
    await login(site, "root")
    page = await site.get("/admin")
    reset = await site.post("/admin/accounts/manage", data={"login": "jr", "op": "reset", "csrf": csrf_of(page.text)})
    password = re.search(r"已重置账号 jr，初始密码：<b>([^<]+)</b>", reset.text).group(1)  # type: ignore[union-attr]
    self_off = await site.post("/admin/accounts/manage", data={"login": "root", "op": "disable", "csrf": csrf_of(page.text)})
    assert self_off.status_code == 400 and "不能停用或启用自己正在使用的账号" in self_off.text

    assert (await login(site, "jr", password)).headers["location"] == "/password"  # the new one must be changed first
    assert (await login(site, "jr", PASSWORD)).status_code == 401  # the forgotten one no longer works
    await login(site, "root")
    page = await site.get("/admin")
    off = await site.post("/admin/accounts/manage", data={"login": "jr", "op": "disable", "csrf": csrf_of(page.text)})
    assert off.status_code == 200 and "已停用账号 jr" in off.text
    assert (await login(site, "jr", password)).status_code == 401
    await login(site, "cg")  # a unit cannot manage accounts
    refused = await site.post("/admin/accounts/manage", data={"login": "jr", "op": "enable", "csrf": csrf_of((await site.get("/")).text)})
    assert refused.status_code == 403 and "只有系统管理员可以管理账号" in refused.text


@pytest.mark.parametrize("login_name", [p[0] for p in PEOPLE])
async def test_every_menu_link_opens_for_the_account_it_is_shown_to(site, login_name):
    await login(site, login_name)
    links = re.findall(r'<nav>.*?</nav>', (await site.get("/")).text, re.S)[0]
    hrefs = re.findall(r'<a href="([^"]+)">', links)
    assert hrefs[0] == "/" and len(hrefs) == len(set(hrefs))
    for href in hrefs:
        assert (await site.get(href)).status_code == 200, (login_name, href)


async def test_an_office_is_never_offered_or_accepted_as_the_unit_that_handles_a_case(site, engine, settings):
    for office in settings.offices:
        directory.add_unit(settings.db_url, office, f"{len(office)}@office.example", kind="办公室")
    sid = await engine.submit(suggestion(settings, number="第60号", title="建议60"), "杨永兵")
    await engine.act(sid, "review", "代表工委", "congress_office", {"decision": "register"})
    await login(site, "dgw")
    page = await site.get("/assign")
    offered = re.findall(r"<option>([^<]+)</option>", page.text)
    assert "区城管局" in offered and not set(offered) & set(settings.offices)
    done = await site.post("/assign", data={"csrf": csrf_of(page.text), "ids": [sid], "lead_unit": settings.congress_office})
    assert "是办公室，不承办建议" in done.text and (await engine.view(sid)).state == "registered"
    with pytest.raises(InputError, match="是办公室，不承办建议"):
        await do(engine, sid, "assign", "congress_office:代表工委", lead_unit="区城管局", co_handlers=[settings.government_office])


async def test_the_form_of_a_step_this_account_may_not_take_now_is_refused_before_it_is_filled_in(site, engine):
    sid = await submit_and_assign(engine)
    await login(site, "jr")
    assert (await site.get(f"/suggestions/{sid}/act/sign")).status_code == 200  # the lead unit signs now
    refused = await site.get(f"/suggestions/{sid}/act/evaluate")  # only the deputy evaluates, and only after the reply
    assert refused.status_code == 403 and "现在不能评价这件建议" in refused.text
    await login(site, "sj")
    assert (await site.get(f"/suggestions/{sid}/act/remark")).status_code == 403  # the auditor only reads


async def test_no_page_loads_a_script_from_outside_the_server(site):
    assert (await site.get("/openapi.json")).status_code == 200
    assert (await site.get("/api/docs")).status_code == 404  # FastAPI's Swagger page would fetch cdn.jsdelivr.net
    await login(site, "root")
    for path in ("/", "/admin", "/reports", "/stuck", "/outbox", "/login"):
        assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', (await site.get(path)).text), path


async def test_the_statistics_of_a_session_without_replies_show_no_rates_of_nothing(site, engine, settings):
    await submit_and_assign(engine)
    await login(site, "dgw")
    page = (await site.get(f"/reports?session={settings.task_queue}")).text
    assert "<td>0.00%</td><td>—</td>" in page  # 办复率 0 of 1; 按期办复率 of no reply at all: —
    assert "尚无代表评价，无满意率可计" in page and "满意率 0.00%" not in page
