"""Connecting to Temporal: the local dev server in plain TCP, a cluster with TLS/mTLS, Temporal Cloud with an API key."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from jianyi.settings import SettingError, Settings
from jianyi.temporal import check_address, client_options


def test_the_embedded_dev_server_is_plain_tcp():
    options = client_options(Settings())
    assert (options["tls"], options["api_key"], options["namespace"]) == (False, None, "default")


def test_temporal_cloud_with_an_api_key_uses_tls():
    options = client_options(Settings(temporal_api_key="secret-key", temporal_namespace="wuchang.a1b2c"))
    assert (options["tls"], options["api_key"], options["namespace"]) == (True, "secret-key", "wuchang.a1b2c")


def test_mutual_tls_reads_the_certificate_files(tmp_path: Path):
    for name in ("ca", "cert", "key"):
        (tmp_path / f"{name}.pem").write_bytes(f"-----{name}-----".encode())
    options = client_options(
        Settings(
            temporal_tls_ca_file=str(tmp_path / "ca.pem"),
            temporal_tls_cert_file=str(tmp_path / "cert.pem"),
            temporal_tls_key_file=str(tmp_path / "key.pem"),
        )
    )
    tls = options["tls"]
    assert isinstance(tls, TLSConfig)
    assert (tls.server_root_ca_cert, tls.client_cert, tls.client_private_key) == (b"-----ca-----", b"-----cert-----", b"-----key-----")


def test_a_missing_certificate_file_or_half_a_key_pair_names_the_setting(tmp_path: Path):
    with pytest.raises(SettingError) as missing:
        client_options(Settings(temporal_tls_ca_file=str(tmp_path / "nope.pem")))
    assert missing.value.setting == "temporal_tls_ca_file" and "无法读取" in missing.value.message
    (tmp_path / "cert.pem").write_bytes(b"cert")
    with pytest.raises(SettingError) as half:
        client_options(Settings(temporal_tls_cert_file=str(tmp_path / "cert.pem")))
    assert half.value.setting == "temporal_tls_key_file"


async def test_a_worker_started_against_a_missing_namespace_stops_naming_the_setting(tmp_path):
    import os
    import subprocess
    import sys

    from jianyi.devserver import DevServer, free_port

    server = DevServer(tmp_path / "temporal.db", port=free_port(), ui_port=None)
    await server.start()
    try:
        env = {**os.environ, "JIANYI_TEMPORAL_ADDRESS": server.address, "JIANYI_TEMPORAL_NAMESPACE": "wuchang-nope",
               "JIANYI_VAR_DIR": str(tmp_path)}
        done = subprocess.run([str(Path(sys.executable).parent / "jianyi"), "worker"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
    finally:
        server.stop()
    assert done.returncode == 5
    assert "JIANYI_TEMPORAL_NAMESPACE" in done.stderr and "「wuchang-nope」" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("JIANYI_WORKFLOW_CACHE", "5", "应不小于 10"), ("JIANYI_SMTP_PORT", "abc", "应为整数"),
    ("JIANYI_TEMPORAL_NAMESPACE", "", "不能为空"), ("JIANYI_TASK_QUEUE", "", "不能为空"), ("JIANYI_ADMIN_NAME", "", "不能为空"),
    ("JIANYI_HISTORY_BOUND", "5", "应不小于 500"), ("JIANYI_ACTION_TIMEOUT_SECONDS", "0", "应大于 0"),
    ("JIANYI_BASE_URL", "jianyi.example.gov.cn", "应为网页地址"), ("JIANYI_QUIET_HOURS", "maybe", "应为 true 或 false"),
    ("JIANYI_WORK_START", "25:00", "应为 HH:MM"), ("JIANYI_WORK_END", "08:00", "应晚于上班时间"), ("JIANYI_TIMEZONE", "Asia/Beijing", "时区"),
])
def test_a_malformed_setting_stops_a_worker_naming_its_variable(tmp_path, variable, value, said):
    import os
    import subprocess
    import sys

    env = {**os.environ, variable: value, "JIANYI_VAR_DIR": str(tmp_path)}
    done = subprocess.run([str(Path(sys.executable).parent / "jianyi"), "worker"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 5
    assert variable in done.stderr and f"「{value}」" in done.stderr and said in done.stderr
    assert "内部错误" not in done.stderr and "Traceback" not in done.stderr


async def test_the_worker_keeps_as_many_cases_as_the_workflow_cache_says(env, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from jianyi.worker import build_worker

    with ThreadPoolExecutor(max_workers=1) as pool:
        worker = build_worker(env.client, Settings(_env_file=None, var_dir=tmp_path, workflow_cache=9000), pool)
    assert worker.config()["max_cached_workflows"] == 9000


def test_the_data_converter_writes_the_payloads_of_temporalios_pydantic_converter_with_parts_made_once():
    from datetime import UTC, datetime

    from temporalio.contrib.pydantic import pydantic_data_converter

    from jianyi.models.commands import SubmitInput
    from jianyi.temporal import DATA_CONVERTER, SharedPydanticPayloadConverter

    value = [SubmitInput(session="16-3", number="第40号", title="关于下水管网的建议", lead_deputy="胡家胜"), datetime(2026, 3, 1, tzinfo=UTC)]
    ours, theirs = DATA_CONVERTER.payload_converter, pydantic_data_converter.payload_converter
    assert ours.to_payloads(value) == theirs.to_payloads(value)
    assert ours.from_payloads(theirs.to_payloads(value), [SubmitInput, datetime]) == value
    first, again = SharedPydanticPayloadConverter(), SharedPydanticPayloadConverter()  # as the worker, every activation
    assert [id(c) for c in again.converters.values()] == [id(c) for c in first.converters.values()]


@pytest.mark.parametrize("address", ["http://127.0.0.1:7233", "localhost", "127.0.0.1:99999", "127.0.0.1:", " 127.0.0.1:7233"])
def test_a_temporal_address_not_of_the_form_host_port_names_the_setting(address):
    with pytest.raises(SettingError) as bad:
        check_address(address)
    assert bad.value.setting == "temporal_address" and "主机:端口" in bad.value.message


@pytest.mark.parametrize("address", ["127.0.0.1:7233", "temporal.internal:7233", "wuchang.a1b2c.tmprl.cloud:7233", "[::1]:7233"])
def test_a_host_and_port_is_a_temporal_address(address):
    check_address(address)


@pytest.mark.parametrize("command", [["worker"], ["scheduler"]])
def test_a_worker_or_scheduler_with_no_temporal_to_reach_says_where_it_looked(tmp_path, command):
    import os
    import subprocess
    import sys

    from jianyi.devserver import free_port

    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    env = {**os.environ, "JIANYI_TEMPORAL_ADDRESS": address, "JIANYI_VAR_DIR": str(tmp_path)}
    done = subprocess.run([str(Path(sys.executable).parent / "jianyi"), *command], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert f"无法连接 Temporal 服务（{address}）" in done.stderr and "JIANYI_TEMPORAL_ADDRESS" in done.stderr
    assert "内部错误" not in done.stderr and "Traceback" not in done.stderr
