"""`make run` (`jianyi up`) when what it would start is already there: it says which port and what to do,
before it touches anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from jianyi.devserver import free_port

JIANYI = str(Path(sys.executable).parent / "jianyi")


@pytest.mark.parametrize(("setting", "what"), [("JIANYI_TEMPORAL_ADDRESS", "Temporal"), ("JIANYI_TEMPORAL_UI_PORT", "Temporal 网页界面"),
                                               ("JIANYI_BASE_URL", "jianyi 网页")])
def test_a_second_make_run_names_the_busy_port_and_starts_nothing(tmp_path, setting, what):
    with socket.socket() as taken:  # a first `make run` holds the port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = {name: port if name == setting else free_port() for name in ("JIANYI_TEMPORAL_ADDRESS", "JIANYI_TEMPORAL_UI_PORT", "JIANYI_BASE_URL")}
        env = {**os.environ, "JIANYI_VAR_DIR": str(tmp_path / "var"), "JIANYI_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['JIANYI_TEMPORAL_ADDRESS']}",
               "JIANYI_TEMPORAL_UI_PORT": str(ports["JIANYI_TEMPORAL_UI_PORT"]), "JIANYI_BASE_URL": f"http://127.0.0.1:{ports['JIANYI_BASE_URL']}"}
        done = subprocess.run([JIANYI, "up", "--no-demo"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert f"端口 {port}（{what}）已被占用" in done.stderr and setting in done.stderr and "内部错误" not in done.stderr
    assert not (tmp_path / "var").exists()  # nothing was started or written
