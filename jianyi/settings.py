"""Settings from the environment (prefix ``JIANYI_``); every value has a working local default."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingError(ValueError):
    """A setting that stops start-up: names the setting and its environment variable (Chinese); exit 5."""

    exit_code = 5

    def __init__(self, setting: str, detail: str) -> None:
        self.setting = setting
        self.message = f"设置项 {setting}（环境变量 JIANYI_{setting.upper()}）有误：{detail}"
        super().__init__(self.message)


class ServiceUnreachable(Exception):
    """A service a process needs at start-up (Temporal) does not answer: says where, and which settings (exit 3)."""

    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JIANYI_", env_file=".env", extra="ignore")

    var_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file under var/
    timezone: str = "Asia/Shanghai"

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = Field("default", min_length=1, max_length=200)
    task_queue: str = Field("jianyi", min_length=1, max_length=200)
    temporal_ui_port: int = Field(8233, ge=1, le=65535)
    # production: a Temporal cluster or Temporal Cloud
    temporal_tls: bool = False  # TLS to the frontend (on by itself when a client cert or CA is given)
    temporal_tls_ca_file: str = ""  # PEM of the server's CA; empty: the system's
    temporal_tls_cert_file: str = ""  # mTLS client certificate (PEM)
    temporal_tls_key_file: str = ""  # its private key (PEM)
    temporal_api_key: SecretStr = SecretStr("")  # Temporal Cloud API key

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_sender: str = "jianyi@localhost"
    smtp_timeout_seconds: float = Field(10.0, gt=0, le=600)

    history_bound: int = Field(2000, ge=500, le=40_000)  # a case whose history passes this many events continues as new
    # cases a worker keeps in memory (about 0.1–0.2 MiB each, measured); a case not kept is replayed from its whole history on
    # its next step or timer, so a worker should keep every open case it serves: N workers × this ≥ the open cases
    workflow_cache: int = Field(1000, ge=10, le=100_000)
    action_timeout_seconds: float = Field(20.0, gt=0, le=600)  # an action with no answer by then: "处理服务暂时不可用" (exit 3)
    base_url: str = "http://127.0.0.1:8000"  # where notices link to; `jianyi up` serves the pages there
    audit_key_file: str = ""  # HMAC key of `jianyi audit anchor`, kept outside the records database
    session_secret: str = ""  # signs the web session cookies; empty: made once and kept in var/session.key
    congress_office: str = Field("区人大常委会代表工作委员会", min_length=1, max_length=100)
    government_office: str = Field("区政府办公室", min_length=1, max_length=100)
    supervision_office: str = Field("区政府督查室", min_length=1, max_length=100)

    # -- scheduler (cron: minute hour day month weekday, in `timezone`)
    schedule_monthly: str = "0 9 * * *"  # 月度督办: kept only on the first working day of the month
    schedule_ledger: str = "0 9 * 1,3,5,7,9,11 *"  # 承诺事项台账: first working day of every 2nd month
    schedule_daily: str = "5 9 * * *"  # daily stuck-case digest: working days only
    misfire_grace_days: int = Field(3, ge=0, le=31)
    quiet_hours: bool = True  # quiet rules: nothing is delivered outside working hours …
    work_start: str = "09:00"  # … on working days, from work_start
    work_end: str = "17:30"
    admin_name: str = Field("系统管理员", min_length=1, max_length=100)  # receives a notice when a channel keeps failing
    instance: str = ""  # when several deployments share one Temporal namespace: prefixes digest ids

    # -- channels (see jianyi/activities/channels.py; checked at start-up by validate_channels)
    smtp_security: str = "none"  # none / starttls / tls (implicit TLS, usually port 465)
    smtp_username: str = ""  # login, when the server wants one
    smtp_password: SecretStr = SecretStr("")
    smtp_ca_file: str = ""  # PEM bundle to trust for TLS (e.g. an internal CA); empty: the system's
    webhook_format: str = "generic"  # for channel "webhook": generic / wecom / dingtalk
    robot_msgtype: str = "markdown"  # WeCom and DingTalk robots: markdown / text
    dingtalk_secret: SecretStr = SecretStr("")  # the DingTalk robots' 加签 secret (SEC…), if they sign
    webhook_timeout_seconds: float = 10.0
    sms_provider: str = ""  # "package.module:factory"; factory(settings) returns an SmsProvider
    templates_file: str = ""  # a TOML file overriding some or all of jianyi/templates/messages.toml

    @field_validator("base_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or len(value) < len("http://x"):
            raise ValueError("应为网页地址，如 https://jianyi.example.gov.cn；通知中的链接都指向这里")
        return value

    @property
    def offices(self) -> tuple[str, str, str]:
        """The three offices: told of cases and acting on them, never handling one (承办)."""
        return self.congress_office, self.government_office, self.supervision_office

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def db_url(self) -> str:
        return self.database_url or _sqlite_url(self.var_dir if self.var_dir.is_absolute() else Path.cwd() / self.var_dir)


@lru_cache(maxsize=64)
def _sqlite_url(var_dir: Path) -> str:
    """The embedded records database's URL (resolving the path once: every activity asks for it)."""
    return f"sqlite:///{(var_dir / 'jianyi.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """The settings from the environment (and .env); a malformed one is a SettingError naming its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        raise SettingError(name, f"「{first.get('input')}」不可用（{_in_chinese(first)}）") from None


# pydantic's error types, as a setting's reader says them (the exact English is kept for any other)
_SAID = {
    "string_too_short": "不能为空", "string_too_long": "太长（最多 {max_length} 个字符）",
    "greater_than_equal": "应不小于 {ge}", "less_than_equal": "应不大于 {le}", "greater_than": "应大于 {gt}",
    "int_parsing": "应为整数", "float_parsing": "应为数字", "bool_parsing": "应为 true 或 false",
}


def _in_chinese(error: Any) -> str:
    if error["type"] == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    said = _SAID.get(error["type"])
    return said.format(**error.get("ctx", {})) if said else str(error["msg"])
