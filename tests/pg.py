"""A real PostgreSQL server for the tests, started from Debian's package into a temporary directory
on a free loopback port, and removed afterwards. Each test gets a database of its own."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def available() -> bool:
    return bool(BIN) and Path(BIN[-1], "initdb").exists()


def _as_postgres(args: list[str]) -> list[str]:
    """initdb refuses root: run the server as the package's own user when we are root."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PostgresServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="jianyi-pg-"))
        self.port = _free_port()
        self.bin = Path(BIN[-1])

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        subprocess.run(_as_postgres([str(self.bin / "initdb"), "-D", str(data), "-U", "jianyi", "--auth=trust", "-E", "UTF8",
                                     "--locale=C.UTF-8"]), check=True, capture_output=True)
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.dir / "log"), "-w",
                                     "start"]), check=True, capture_output=True)
        deadline = time.monotonic() + 30
        while subprocess.run(_as_postgres([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)]),
                             capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, (self.dir / "log").read_text()
            time.sleep(0.1)
        return self

    def new_database(self) -> str:
        name = f"t{uuid.uuid4().hex[:12]}"
        subprocess.run(_as_postgres([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "jianyi", name]),
                       check=True, capture_output=True)
        return f"postgresql+psycopg://jianyi@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
