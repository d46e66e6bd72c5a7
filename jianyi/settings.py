"""Settings from the environment (prefix ``JIANYI_``); every value has a working local default."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JIANYI_", env_file=".env", extra="ignore")

    var_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file under var/
    timezone: str = "Asia/Shanghai"

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "jianyi"
    temporal_ui_port: int = 8233

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_sender: str = "jianyi@localhost"
    smtp_timeout_seconds: float = 10.0

    base_url: str = "http://127.0.0.1:8000"
    congress_office: str = "区人大常委会代表工作委员会"
    government_office: str = "区政府办公室"
    supervision_office: str = "区政府督查室"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.var_dir / 'jianyi.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
