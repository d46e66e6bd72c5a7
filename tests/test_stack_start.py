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


def test_the_whole_stack_starts_with_the_demo_serves_the_pages_and_stops_cleanly_on_ctrl_c(tmp_path):
    """What `make run` starts: Temporal, worker, scheduler, mail catcher, the pages and the demo; Ctrl-C ends all."""
    import signal
    import time
    import urllib.request

    web = free_port()
    env = {**os.environ, "JIANYI_VAR_DIR": str(tmp_path / "var"), "JIANYI_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
           "JIANYI_TEMPORAL_UI_PORT": str(free_port()), "JIANYI_BASE_URL": f"http://127.0.0.1:{web}", "JIANYI_SMTP_PORT": str(free_port())}
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen([JIANYI, "up"], env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        try:
            for _ in range(240):  # the demo is entered through the real engine: up to a minute or two on 2 cores
                if "就绪" in log.read_text(encoding="utf-8") or up.poll() is not None:
                    break
                time.sleep(0.5)  # waiting for a process started here, not standing in for workflow time
            assert "就绪" in log.read_text(encoding="utf-8"), log.read_text(encoding="utf-8")[-2000:]
            with urllib.request.urlopen(f"http://127.0.0.1:{web}/login", timeout=10) as page:
                assert page.status == 200 and "登录" in page.read().decode()
        finally:
            up.send_signal(signal.SIGINT)
            up.wait(timeout=60)
    said = log.read_text(encoding="utf-8")
    assert up.returncode == 0 and "· 已停止。" in said and "Traceback" not in said and "ERROR" not in said, said[-2000:]
