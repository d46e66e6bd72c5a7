"""The application for a production server: ``uvicorn --factory jianyi.api.main:app`` (settings from
the environment; the Temporal client is connected at start-up)."""

from __future__ import annotations

from fastapi import FastAPI

from jianyi.api.app import create_app
from jianyi.settings import get_settings


def app() -> FastAPI:
    return create_app(get_settings())
