"""`jianyi up`: the embedded stack in one foreground process, stopped cleanly by Ctrl-C.

Temporal dev server (SQLite under var/), a local mail catcher, the worker, and the demo data.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import uvicorn

from jianyi.devserver import DevServer, check_ports_free, port_free
from jianyi.mailcatcher import MailCatcher
from jianyi.models.db import migrate_database, owner_only
from jianyi.models.states import ROLE_LABELS
from jianyi.settings import Settings
from jianyi.temporal import connect
from jianyi.worker import build_worker


async def start_web(settings: Settings, client) -> tuple[uvicorn.Server, asyncio.Task[None]]:  # noqa: ANN001
    """The pages and the API (uvicorn) on the host and port of ``base_url``, in this event loop."""

    from jianyi.api.app import create_app

    where = urlsplit(settings.base_url)
    config = uvicorn.Config(create_app(settings, client), host=where.hostname or "127.0.0.1", port=where.port or 8000,
                            log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  (the stack handles Ctrl-C)
    return server, asyncio.get_running_loop().create_task(server.serve())


def say(text: str) -> None:
    print(text, flush=True)


async def run_stack(settings: Settings, demo: bool = True) -> None:
    from jianyi.activities.channels import validate_channels
    from jianyi.scheduler import validate_schedule

    validate_schedule(settings)  # a bad cron, time zone or working hour stops start-up, naming the setting
    validate_channels(settings)  # so does a bad channel setting or templates file, before anything starts
    host, _, port = settings.temporal_address.rpartition(":")
    web = urlsplit(settings.base_url)
    check_ports_free(host or "127.0.0.1", [(int(port), "Temporal", "JIANYI_TEMPORAL_ADDRESS"),
                                           (settings.temporal_ui_port, "Temporal 网页界面", "JIANYI_TEMPORAL_UI_PORT")])
    check_ports_free(web.hostname or "127.0.0.1", [(web.port or 8000, "jianyi 网页", "JIANYI_BASE_URL")])
    var = settings.var_dir.resolve()
    owner_only(var)
    before, after = migrate_database(settings.db_url)
    if before != after:
        say(f"· 记录数据库已{'创建' if before is None else f'从 {before} 升级'}（结构 {after}）")
    mail: MailCatcher | None = None
    if settings.smtp_host in ("127.0.0.1", "localhost") and port_free("127.0.0.1", settings.smtp_port):
        mail = MailCatcher(settings.smtp_port, maildir=var / "mail").start()
        say(f"· 本地邮件接收器：smtp://127.0.0.1:{settings.smtp_port}（邮件存于 {var / 'mail'}）")
    server = DevServer(var / "temporal.db", port=int(port), ui_port=settings.temporal_ui_port, host=host or "127.0.0.1")
    say("· 正在启动 Temporal 开发服务 …")
    await server.start()
    say(f"· Temporal：{server.address}    Web 界面：http://{server.host}:{settings.temporal_ui_port}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        client = await connect(settings)
        with ThreadPoolExecutor(max_workers=16) as executor:
            async with build_worker(client, settings, executor):
                say(f"· 工作进程已启动（任务队列 {settings.task_queue}）")
                from jianyi.scheduler import start_scheduler

                scheduler = await start_scheduler(client, settings)
                for job in scheduler.get_jobs(jobstore="default"):  # the digests (not the hourly calendar upkeep)
                    say(f"· 定时任务：{job.name}，下次 {job.next_run_time:%Y-%m-%d %H:%M}")
                made: list[tuple[str, str, str]] = []
                if demo:
                    from jianyi.demo import load_accounts, load_demo

                    loaded = await load_demo(client, settings)
                    say(f"· 演示数据：{loaded}")
                    made = load_accounts(settings)
                web, serving = await start_web(settings, client)
                say(f"· 网页：{settings.base_url}/login")
                if made:
                    say("· 演示账号（密码只显示这一次，另存于 var/demo-accounts.txt）：")
                    for login, role, password in made:
                        say(f"    {login:<14} {ROLE_LABELS.get(role, role):<6} 密码 {password}")
                say(
                    f"\n就绪。用浏览器打开 {settings.base_url}/login ，用上面的演示账号登录（如代表 杨永兵、承办单位 区城管局、代表工委 dgw）。\n"
                    "或另开一个终端试试：\n"
                    "  .venv/bin/jianyi stuck\n"
                    "  .venv/bin/jianyi timeline 16-3-40\n"
                    "  .venv/bin/jianyi --as deputy:杨永兵 status 16-3-40\n"
                    "  .venv/bin/jianyi audit verify\n"
                    "  .venv/bin/jianyi scheduler jobs\n"
                    "按 Ctrl-C 停止。"
                )
                await stop.wait()
                say("\n· 正在停止 …")
                web.should_exit = True
                scheduler.shutdown(wait=False)
                await asyncio.wait_for(serving, timeout=10)  # the pages close their connections and end cleanly
    finally:
        server.stop()
        if mail:
            with contextlib.suppress(Exception):
                mail.stop()
        say("· 已停止。")
