"""Connecting to Temporal: one data converter (pydantic) for client and worker alike.

Locally the embedded dev server (plain TCP); in production a cluster with TLS / mTLS, or
Temporal Cloud with an API key, from settings.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import CompositePayloadConverter, DataConverter, EncodingPayloadConverter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import TLSConfig

from jianyi.settings import ServiceUnreachable, SettingError, Settings


class SharedPydanticPayloadConverter(PydanticPayloadConverter):
    """temporalio's pydantic payload converter, its parts made once per process. The worker builds a
    data converter for every workflow activation, and each would otherwise make new parts with an empty
    TypeAdapter cache: in the national year that was 6 % of the worker's CPU, rebuilding schemas."""

    _parts: ClassVar[list[EncodingPayloadConverter]] = []

    def __init__(self) -> None:
        if not SharedPydanticPayloadConverter._parts:
            SharedPydanticPayloadConverter._parts.extend(PydanticPayloadConverter().converters.values())
        CompositePayloadConverter.__init__(self, *self._parts)


# client and worker alike: the same JSON payloads as temporalio.contrib.pydantic.pydantic_data_converter
DATA_CONVERTER = DataConverter(payload_converter_class=SharedPydanticPayloadConverter)


def client_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``Client.connect`` for these settings (TLS files are read here)."""

    def pem(setting: str) -> bytes | None:
        path = getattr(settings, setting)
        if not path:
            return None
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise SettingError(setting, f"无法读取文件「{path}」：{exc.strerror}") from None

    ca, cert, key = pem("temporal_tls_ca_file"), pem("temporal_tls_cert_file"), pem("temporal_tls_key_file")
    if bool(cert) != bool(key):
        raise SettingError("temporal_tls_key_file", "客户端证书和私钥须同时给出")
    api_key = settings.temporal_api_key.get_secret_value() or None
    tls: bool | TLSConfig = False
    if ca or cert:
        tls = TLSConfig(server_root_ca_cert=ca, client_cert=cert, client_private_key=key)
    elif settings.temporal_tls or api_key:
        tls = True
    return {
        "namespace": settings.temporal_namespace,
        "data_converter": DATA_CONVERTER,
        "tls": tls,
        "api_key": api_key,
    }


CORE_LOGGER = "jianyi.temporal.core"


@lru_cache(maxsize=1)
def quiet_runtime() -> Runtime:
    """A Temporal runtime whose Rust core logs go to a Python logger, never to the terminal.

    For short-lived commands (the CLI): a server that is down or dies mid-call is answered in
    Chinese by the caller; the core's own lines go to the ``jianyi.temporal.core`` logger (no
    handler unless one is configured, e.g. by JIANYI_DEBUG in the CLI).
    """
    logger = logging.getLogger(CORE_LOGGER)
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    forwarding = LogForwardingConfig(logger=logger)
    telemetry = TelemetryConfig(logging=LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="ERROR"), forwarding=forwarding), metrics=None)
    return Runtime(telemetry=telemetry)


async def connect(settings: Settings, *, quiet: bool = False) -> Client:
    """A client; ``quiet`` keeps the Rust core's log lines off the terminal (for the CLI)."""
    check_address(settings.temporal_address)
    options = client_options(settings)
    if quiet:
        options["runtime"] = quiet_runtime()
    try:
        return await Client.connect(settings.temporal_address, **options)
    except (RuntimeError, ValueError, OSError) as exc:  # the core's connect error, an address it cannot parse
        raise ServiceUnreachable(
            f"无法连接 Temporal 服务（{settings.temporal_address}）：请确认该服务正在运行，并检查 JIANYI_TEMPORAL_ADDRESS"
            f"（主机:端口）及 TLS、API key 设置。详情：{exc}"
        ) from None


_ADDRESS = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})")


def check_address(address: str) -> None:
    """Temporal's frontend as host:port (no scheme), so a typo is named instead of tried."""
    form = _ADDRESS.fullmatch(address)
    if form is None or not 0 < int(form.group(2)) < 65536:
        raise SettingError("temporal_address", f"「{address}」应为 主机:端口，如 127.0.0.1:7233 或 命名空间.帐号.tmprl.cloud:7233（不带 http:// 等前缀）")


async def check_namespace(client: Client, settings: Settings) -> None:
    """A worker or scheduler started against a namespace the service does not have stops at once, saying so."""
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.service import RPCError, RPCStatusCode

    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=settings.temporal_namespace))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise SettingError(
                "temporal_namespace",
                f"Temporal 服务 {settings.temporal_address} 上没有命名空间「{settings.temporal_namespace}」；"
                f"请改正该设置，或请运维创建它（temporal operator namespace create {settings.temporal_namespace}）",
            ) from None
        raise


async def time_skipping_environment() -> Any:
    """Temporal's time-skipping test server (the bundled binary, nothing downloaded) with jianyi's
    payload converter and search attributes: for the tests and the simulated years."""
    from temporalio.testing import WorkflowEnvironment

    from jianyi.binaries import temporal_test_server

    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=temporal_test_server(), data_converter=DATA_CONVERTER)
    await register_search_attributes(env.client, "default")
    return env


async def register_search_attributes(client: Client, namespace: str) -> None:
    """Register the project's search attributes (idempotent: existing ones are left alone).

    The time-skipping test server implements AddSearchAttributes but not ListSearchAttributes.
    """
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )
    from temporalio.service import RPCError, RPCStatusCode

    from jianyi.workflows import search

    wanted = {key.name: key.indexed_value_type.value for key in search.ALL}
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        wanted = {k: v for k, v in wanted.items() if k not in existing.custom_attributes}
    except RPCError as exc:
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
    if wanted:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=wanted)
        )
