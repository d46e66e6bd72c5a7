"""Connecting to Temporal: the local dev server in plain TCP, a cluster with TLS/mTLS, Temporal Cloud with an API key."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from jianyi.settings import SettingError, Settings
from jianyi.temporal import client_options


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
