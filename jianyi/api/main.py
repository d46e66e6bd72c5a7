"""The application for a production server: ``uvicorn --factory jianyi.api.main:app`` (settings from
the environment; the Temporal client is connected at start-up, or on first need while Temporal is down)."""

from __future__ import annotations

import sys

from fastapi import FastAPI

from jianyi.api.app import create_app
from jianyi.models.db import DatabaseProblem
from jianyi.settings import SettingError, get_settings


def app() -> FastAPI:
    try:
        return create_app(get_settings())
    except (SettingError, DatabaseProblem) as exc:  # said as the CLI says it, without a traceback
        print(f"错误：{exc.message}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
