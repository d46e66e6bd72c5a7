"""End to end: the `jianyi` CLI against a real Temporal dev server, a worker killed mid-case."""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import pytest_asyncio

from jianyi.devserver import DevServer, free_port
from jianyi.mailcatcher import MailCatcher
from jianyi.models.policy import CST

JIANYI = str(Path(sys.executable).parent / "jianyi")
UNIT = "区地方金融工作局"


@pytest_asyncio.fixture
async def dev_server(tmp_path: Path):
    server = DevServer(tmp_path / "temporal.db", port=free_port(), ui_port=None)
    await server.start()
    yield server
    server.stop()


@pytest.fixture
def cli_env(tmp_path: Path, dev_server: DevServer, mail: MailCatcher) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIANYI_")}
    env.update(
        JIANYI_VAR_DIR=str(tmp_path / "var"),
        JIANYI_TEMPORAL_ADDRESS=dev_server.address,
        JIANYI_TASK_QUEUE="e2e",
        JIANYI_SMTP_PORT=str(mail.port),
        JIANYI_QUIET_HOURS="false",  # the test may run at night or on a weekend
    )
    return env


def jianyi(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([JIANYI, *args], env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert done.returncode == 0, f"{args}: {done.stderr}"
    return done


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([JIANYI, "worker"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def wait_for(predicate, timeout: float = 60.0, explain=lambda: "") -> None:  # noqa: ANN001
    """Poll a real external condition (another process's effect), not a stand-in for time."""
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting: {explain()}"
        time.sleep(0.5)


def test_cli_drives_a_case_to_closed_across_a_worker_crash(cli_env, mail, tmp_path):
    env = cli_env
    jianyi(env, "admin", "account", "add", "--login", "root", "--role", "admin", "--name", "系统管理员")
    admin = ("--as", "admin:root", "admin")
    jianyi(env, *admin, "session", "16-3", "武昌区第十六届人民代表大会第三次会议")
    jianyi(env, *admin, "unit", UNIT, "--email", "jinrong@wuchang.example")
    jianyi(env, *admin, "unit", "区政府办公室", "--email", "zfb@wuchang.example")
    jianyi(env, *admin, "unit", "区人大常委会代表工作委员会", "--email", "dgw@wuchang.example")
    jianyi(env, *admin, "deputy", "杨永兵", "--email", "yangyongbing@deputy.example")
    for login, role, binding, name in [("yyb", "deputy", "杨永兵", "杨永兵"), ("dgw", "congress_office", "", "代表工委"),
                                       ("jr", "unit", UNIT, "金融局办公室"), ("zfb", "government_office", "区政府办公室", "区政府办公室")]:
        jianyi(env, *admin, "account", "add", "--login", login, "--role", role, "--binding", binding, "--name", name)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        sid = "suggestion-16-3-40"
        jianyi(env, "--as", "deputy:杨永兵", "submit", "--session", "16-3", "--number", "第40号",
               "--title", "关于做好武昌区科技金融、绿色金融、普惠金融、养老金融、数字金融的建议")
        again = jianyi(env, "--as", "deputy:杨永兵", "submit", "--session", "16-3", "--number", "第40号", "--title", "重复", ok=False)
        assert again.returncode == 1 and "已经提出过" in again.stderr
        jianyi(env, "--as", "congress_office:代表工委", "review", sid, "--decision", "register")
        jianyi(env, "--as", "congress_office:代表工委", "assign", sid, "--lead", UNIT)
        jianyi(env, "--as", f"unit:{UNIT}", "sign", sid)
        shown = jianyi(env, "--as", f"unit:{UNIT}", "status", sid).stdout  # the deadline it waits on, counted down
        assert re.search(r"答复期限：\S+ 24:00(（暂定）)?    当前：剩余\d+个工作日", shown), shown
        typo = jianyi(env, "--as", "unit:区地方金融", "status", sid, ok=False)  # a unit name mistyped
        assert typo.returncode == 2 and "没有角色为「承办单位」、名为「区地方金融」的有效账号" in typo.stderr
        refused = jianyi(env, "--as", f"unit:{UNIT}", "reply", sid, "--class", "A", "--text", "答复", "--signed-by", "局长", ok=False)
        assert refused.returncode == 1 and "沟通" in refused.stderr and "Traceback" not in refused.stderr
        jianyi(env, "--as", f"unit:{UNIT}", "contact", sid, "--method", "座谈", "--on", datetime.now(CST).date().isoformat())
        jianyi(env, "--as", f"unit:{UNIT}", "reply", sid, "--class", "A", "--text", "已开展融资对接活动。", "--signed-by", "局长")

        # The worker dies (no clean shutdown) between two steps; an action sent meanwhile waits,
        # nothing is lost. (Killing it inside an SMTP conversation is the one window in which a
        # message can go twice; the stable Message-ID lets a mail system drop the repeat.)
        all_sent = lambda: all(r["status"] == "sent" for r in json.loads(jianyi(env, "outbox", "--json").stdout))  # noqa: E731
        wait_for(all_sent, 60, lambda: jianyi(env, "outbox").stdout)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        pending = subprocess.Popen(
            [JIANYI, "--as", "government_office:区政府办公室", "review-reply", sid, "--decision", "approve"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        worker = start_worker(env, log)
        out, err = pending.communicate(timeout=120)
        assert pending.returncode == 0, err
        assert "已答复" in out

        jianyi(env, "--as", "deputy:杨永兵", "evaluate", sid, "--work", "满意", "--result", "满意")
        status = json.loads(jianyi(env, "status", sid, "--json").stdout)
        assert status["state"] == "closed" and status["outcome"] == "满意" and status["on_time"] is True

        timeline = json.loads(jianyi(env, "timeline", sid, "--json").stdout)
        assert [e["action"] for e in timeline] == [
            "submit", "review", "assign", "sign", "record_contact", "reply", "review_reply", "evaluate",
        ]
        assert "审计链完整" in jianyi(env, "audit", "verify").stdout

        outbox = json.loads(jianyi(env, "outbox", "--json").stdout)
        wait_for(all_sent, 90, lambda: jianyi(env, "outbox").stdout)
        mine = [m for m in mail.received if sid in m.key]
        counts = collections.Counter(m.message["Message-ID"] for m in mine)
        assert len(counts) == len(outbox) >= 3
        twice = [m.key for m in mine if counts[m.message["Message-ID"]] > 1]
        assert set(counts.values()) == {1}, f"sent twice: {twice}"
        kinds = {m.key.split("|")[1] for m in mine}
        assert {"assigned", "reply_review_needed", "evaluation_request"} <= kinds
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def test_cli_refuses_bad_input_in_chinese_without_a_traceback(cli_env):
    bad_date = jianyi(cli_env, "deadline", "--rule", "reply", "--start", "2025-13-01", ok=False)
    assert bad_date.returncode != 0 and "日期格式错误" in bad_date.stderr and "Traceback" not in bad_date.stderr
    unknown_rule = jianyi(cli_env, "deadline", "--rule", "nope", "--start", "2025-07-01", ok=False)
    assert "未知的期限规则" in unknown_rule.stderr
    no_actor = jianyi(cli_env, "sign", "16-3-40", ok=False)
    assert "--as" in no_actor.stderr
    jianyi(cli_env, "admin", "account", "add", "--login", "root", "--role", "admin", ok=False)  # unless the test before made it
    no_phone = jianyi(cli_env, "--as", "admin:root", "admin", "deputy", "王琨", "--channel", "sms", ok=False)
    assert no_phone.returncode == 1 and "手机号" in no_phone.stderr
    robot = jianyi(cli_env, "--as", "admin:root", "admin", "deputy", "杨永兵", "--channel", "dingtalk", "--webhook", "https://oapi.dingtalk.com/robot/send?access_token=t")
    assert "dingtalk" in robot.stdout
    good = json.loads(jianyi(cli_env, "deadline", "--rule", "reply", "--start", "2025-07-01", "--json").stdout)
    assert good["last_day"] == "2025-10-09"


def test_the_readmes_lifecycle_runs_as_written_on_the_demo_directory(cli_env, tmp_path):
    """The README's "whole lifecycle … driven by hand", each line run by bash against a real server."""
    env = cli_env
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("A whole lifecycle of a new suggestion", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    jianyi(env, "admin", "migrate")
    load = "from jianyi.demo import load_accounts, load_directory; from jianyi.settings import get_settings as g; load_directory(g()); load_accounts(g())"
    subprocess.run([sys.executable, "-c", load], env=env, check=True, capture_output=True, timeout=120)
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        done = subprocess.run(["bash", "-e", "-c", block], env=env, cwd=Path(JIANYI).parent.parent.parent, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "状态：已办结" in done.stdout  # the block's last line: `$J status 16-3-200  # → 已办结`
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
