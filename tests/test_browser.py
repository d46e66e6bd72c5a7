"""A real browser (Debian's chromium, driven by Playwright) through the pages: each role logs in and
sees its 工作台, and one lifecycle is driven by five accounts to 已办结. Screenshots go to var/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from helpers import stop_all
from playwright.async_api import Page, async_playwright
from web_helpers import ready_accounts, served

from jianyi.models.policy import china_day

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).parents[1] / "var" / "screenshots"
PASSWORD = "browser-pass-1"
PEOPLE = [("yyb", "杨永兵", "deputy", "杨永兵"), ("dgw", "代表工委", "congress_office", ""),
          ("jr", "区地方金融工作局", "unit", "区地方金融工作局"), ("zfb", "区政府办公室", "government_office", "区政府办公室"),
          ("dcs", "区政府督查室", "supervision_office", "区政府督查室"), ("wk", "王琨", "supervisor", "王琨"),
          ("sj", "审计人员", "auditor", ""), ("root", "系统管理员", "admin", "")]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")


@pytest_asyncio.fixture
async def site(env, settings, worker, engine) -> AsyncIterator[str]:
    ready_accounts(settings.db_url, PEOPLE, PASSWORD)
    async with served(settings, env.client) as base:
        yield base
    await stop_all(env, settings)


@pytest_asyncio.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                          args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"])
        yield await browser.new_page(viewport={"width": 1000, "height": 1200})
        await browser.close()


async def log_in(page: Page, site: str, login: str) -> None:
    await page.context.clear_cookies()
    await page.goto(f"{site}/login")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{site}/")


async def do(page: Page, site: str, sid: str, button: str, fields: dict[str, str] | None = None) -> None:
    """Press one of the case page's buttons and submit its form."""
    await page.goto(f"{site}/suggestions/{sid}")
    await page.click(f"#actions >> text={button}")
    for name, value in (fields or {}).items():
        element = page.locator(f"[name={name}]")
        if await element.evaluate("e => e.tagName") == "SELECT":
            await element.select_option(value)
        else:
            await element.fill(value)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{site}/suggestions/{sid}")


async def test_each_role_logs_in_and_sees_its_workbench_in_a_browser(site, page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for login, name, _, _ in PEOPLE:
        await log_in(page, site, login)
        assert "工作台" in await page.inner_text("h1") and name in await page.inner_text("header")
    await page.screenshot(path=str(SHOTS / "workbench.png"))


async def test_one_lifecycle_driven_through_the_pages_by_five_accounts_ends_closed(site, page, engine, settings, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    await log_in(page, site, "yyb")
    await page.goto(f"{site}/submit")
    for name, value in {"session": settings.task_queue, "number": "第42号", "title": "关于优化公交线路的建议", "text": "线路绕行。"}.items():
        await page.fill(f"[name={name}]", value)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    assert "/suggestions/" in page.url, await page.inner_text("main")
    sid = page.url.rsplit("/", 1)[1]
    await log_in(page, site, "dgw")
    await do(page, site, sid, "阅看", {"decision": "register"})
    await do(page, site, sid, "交办", {"lead_unit": "区地方金融工作局"})
    await log_in(page, site, "jr")
    await do(page, site, sid, "签收")
    day = china_day((await engine.view(sid)).assigned_at).isoformat()
    await do(page, site, sid, "记录与代表沟通", {"method": "座谈", "on": day})
    letter = tmp_path / "答复函.pdf"
    letter.write_bytes(b"%PDF-1.4\n% reply letter\n")
    await page.goto(f"{site}/suggestions/{sid}")
    await page.click("#actions >> text=答复")
    await page.select_option("[name=reply_class]", "A")
    await page.fill("[name=text]", "已优化线路。")
    await page.fill("[name=signed_by]", "局长")
    await page.set_input_files("[name=attachment_file]", str(letter))
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{site}/suggestions/{sid}")
    await log_in(page, site, "zfb")
    await do(page, site, sid, "审核答复", {"decision": "approve"})
    await log_in(page, site, "yyb")
    await do(page, site, sid, "评价", {"work": "满意", "result": "满意"})
    assert await page.inner_text("#state") == "已办结"
    await page.screenshot(path=str(SHOTS / "case.png"), full_page=True)
