"""Delivery channels behind one interface: e-mail, webhooks (WeCom, DingTalk, generic JSON), SMS.

Each outbox row names its channel and address (taken from the unit's or deputy's record when
the row was written). A channel's ``send`` either returns (the far end accepted the message) or
raises ``DeliveryError`` with a Chinese message that says exactly what went wrong; the notify
activity records it on the row and lets Temporal retry.

Channel names (``HandlingUnit.channel`` / ``Deputy.channel``) and the address each one uses:

=========  ===========================================  ======================================
channel    sends                                        address
=========  ===========================================  ======================================
email      SMTP (settings ``smtp_*``)                   ``email``
wecom      企业微信群机器人 webhook                      ``webhook_url`` (…/cgi-bin/webhook/send?key=…)
dingtalk   钉钉自定义机器人 webhook (optional 加签)      ``webhook_url`` (…/robot/send?access_token=…)
webhook    JSON to any URL, format ``webhook_format``   ``webhook_url``
sms        the deployment's SMS provider               ``phone``
=========  ===========================================  ======================================
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import importlib
import inspect
import re
import time
from collections.abc import Callable
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import aiosmtplib
import httpx

from jianyi.activities.messages import TemplateError, templates_for
from jianyi.models.contacts import (  # noqa: F401
    CHANNEL_LABELS,
    CHANNELS,
    WEBHOOK_CHANNELS,
    check_contact,
    contact_address,
    mask_address,
)
from jianyi.models.tables import Outbox
from jianyi.settings import SettingError

SMTP_SECURITY = ("none", "starttls", "tls")
WEBHOOK_FORMATS = ("generic", "wecom", "dingtalk")
ROBOT_MSGTYPES = ("markdown", "text")
# The robots' documented limits on one message's content, in UTF-8 bytes.
WECOM_LIMITS = {"markdown": 4096, "text": 2048}
DINGTALK_LIMIT = 18000
_URL = re.compile(r"https?://[^\s)）]+")


class DeliveryError(Exception):
    """A message the far end did not accept; ``message`` is Chinese and exact."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Channel(Protocol):
    async def send(self, row: Outbox) -> None:
        """Deliver ``row`` or raise ``DeliveryError``."""


@runtime_checkable
class SmsProvider(Protocol):
    """What a deployment binds to its SMS gateway (setting ``sms_provider``)."""

    async def send(self, phone: str, text: str) -> None:
        """Send ``text`` to ``phone``; raise on any failure."""


def outbox_key(row: Outbox) -> str:
    """A stable, ASCII key of the row's outbox key (suggestion, recipient, kind, cycle)."""
    key = f"{row.suggestion_id}|{row.recipient}|{row.kind}|{row.cycle}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def message_id(row: Outbox) -> str:
    """The same Message-ID for every attempt, so a mail system can drop a repeat."""
    return f"<{outbox_key(row)}@jianyi>"


def safe_url(url: str) -> str:
    """A webhook address fit for logs and error messages: the robot key (query) left out."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def _link(body: str) -> str:
    found = _URL.findall(body)
    return found[-1] if found else ""


def _fit(text: str, limit: int, link: str) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes, keeping a pointer to the link at the end."""
    if len(text.encode()) <= limit:
        return text
    tail = f"\n……（内容过长，已截断，请打开链接查看全文：{link}）" if link else "\n……（内容过长，已截断）"
    room = limit - len(tail.encode())
    head = text.encode()[: max(room, 0)].decode(errors="ignore")
    return head + tail


# -- e-mail -------------------------------------------------------------------------------------------
class EmailChannel:
    """SMTP, one connection for a batch (opened on the first message, closed by ``aclose``)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._smtp: aiosmtplib.SMTP | None = None
        self._broken: str = ""  # a connection failure: the batch's other mails fail fast with it

    def message(self, row: Outbox) -> MIMEText:
        """The mail, UTF-8 encoded words and body (the compat32 classes: a quarter of the CPU of ``EmailMessage``)."""
        msg = MIMEText(row.body, "plain", "utf-8")
        msg["From"] = formataddr(parseaddr(self.settings.smtp_sender), "utf-8")
        msg["To"] = row.address
        msg["Subject"] = Header(row.subject, "utf-8")
        msg["Message-ID"] = message_id(row)
        msg["Date"] = formatdate(localtime=False)
        msg["X-Jianyi-Key"] = f"{row.suggestion_id}|{row.kind}|{row.cycle}"
        return msg

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        password = s.smtp_password.get_secret_value()
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout_seconds,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",  # never an unasked-for upgrade
            username=s.smtp_username or None,
            password=password if s.smtp_username else None,
            cert_bundle=s.smtp_ca_file or None,
        )

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._broken:
            raise DeliveryError(self._broken)
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        s = self.settings
        smtp = self._client()
        where = f"{s.smtp_host}:{s.smtp_port}（{s.smtp_security}）"
        try:
            await smtp.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            self._broken = f"邮件服务器 {where} 拒绝登录（用户 {s.smtp_username}）：{exc.code} {exc.message}"
        except aiosmtplib.SMTPException as exc:
            self._broken = f"无法连接邮件服务器 {where}：{_describe(exc)}"
        except OSError as exc:  # refused, unreachable, TLS handshake
            self._broken = f"无法连接邮件服务器 {where}：{type(exc).__name__}: {exc}"
        if self._broken:
            with contextlib.suppress(Exception):
                smtp.close()
            raise DeliveryError(self._broken)
        self._smtp = smtp
        return smtp

    async def send(self, row: Outbox) -> None:
        smtp = await self._connected()
        try:
            await smtp.send_message(self.message(row))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = "；".join(f"{r.recipient}：{r.code} {r.message}" for r in exc.recipients)
            raise DeliveryError(f"邮件服务器拒绝了收件人 {row.address}：{refused}") from None
        except aiosmtplib.SMTPServerDisconnected as exc:
            self._smtp = None
            raise DeliveryError(f"邮件服务器在发送给 {row.address} 时断开了连接：{exc}") from None
        except aiosmtplib.SMTPException as exc:
            raise DeliveryError(f"邮件服务器未接受发给 {row.address} 的邮件：{_describe(exc)}") from None
        except OSError as exc:
            self._smtp = None
            raise DeliveryError(f"发给 {row.address} 的邮件发送中断：{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(Exception):
                await self._smtp.quit()
            self._smtp = None


def _describe(exc: aiosmtplib.SMTPException) -> str:
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", "") or str(exc)
    return f"{code} {message}" if code else f"{type(exc).__name__}: {message}"


# -- webhooks ---------------------------------------------------------------------------------------
class WebhookChannel:
    """One JSON POST per message, in the WeCom robot, DingTalk robot or generic format.

    WeCom and DingTalk answer HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; any other
    ``errcode`` (a wrong key, a rate limit, a keyword the robot requires) is a failure, as is any
    answer other than 2xx. The generic format carries an ``Idempotency-Key`` header, the same
    for every attempt at one outbox row, so a receiver can drop a repeat.
    """

    def __init__(self, fmt: str, settings: Any, client: httpx.AsyncClient) -> None:
        if fmt not in WEBHOOK_FORMATS:
            raise SettingError("webhook_format", f"未知的 webhook 格式「{fmt}」，可选：{'、'.join(WEBHOOK_FORMATS)}")
        self.format = fmt
        self.settings = settings
        self.client = client

    def payload(self, row: Outbox) -> dict[str, Any]:
        msgtype = self.settings.robot_msgtype
        link = _link(row.body)
        if self.format == "wecom":
            if msgtype == "text":
                content = _fit(f"{row.subject}\n\n{row.body}", WECOM_LIMITS["text"], link)
                return {"msgtype": "text", "text": {"content": content}}
            content = _fit(_markdown(row, "wecom"), WECOM_LIMITS["markdown"], link)
            return {"msgtype": "markdown", "markdown": {"content": content}}
        if self.format == "dingtalk":
            if msgtype == "text":
                content = _fit(f"{row.subject}\n\n{row.body}", DINGTALK_LIMIT, link)
                return {"msgtype": "text", "text": {"content": content}}
            text = _fit(_markdown(row, "dingtalk"), DINGTALK_LIMIT, link)
            return {"msgtype": "markdown", "markdown": {"title": row.subject, "text": text}}
        return {
            "suggestion_id": row.suggestion_id,
            "recipient": row.recipient,
            "kind": row.kind,
            "cycle": row.cycle,
            "subject": row.subject,
            "body": row.body,
        }

    def url(self, row: Outbox) -> httpx.URL:
        url = httpx.URL(row.address)
        secret = self.settings.dingtalk_secret.get_secret_value()
        if self.format == "dingtalk" and secret:
            timestamp = str(round(time.time() * 1000))
            url = url.copy_merge_params({"timestamp": timestamp, "sign": dingtalk_sign(secret, timestamp)})
        return url

    async def send(self, row: Outbox) -> None:
        label = CHANNEL_LABELS["webhook" if self.format == "generic" else self.format]
        where = safe_url(row.address)
        headers = {"Idempotency-Key": outbox_key(row)} if self.format == "generic" else {}
        try:
            answer = await self.client.post(self.url(row), json=self.payload(row), headers=headers)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"{label} {where} 在 {self.settings.webhook_timeout_seconds} 秒内没有应答：{type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"无法连接{label} {where}：{type(exc).__name__}: {exc}") from None
        if not answer.is_success:
            raise DeliveryError(f"{label} {where} 返回 HTTP {answer.status_code}：{answer.text[:200]}")
        if self.format == "generic":
            return
        try:
            data = answer.json()
            errcode = int(data.get("errcode", 0))
        except (ValueError, AttributeError, TypeError):
            raise DeliveryError(f"{label} {where} 的应答无法识别（应为含 errcode 的 JSON）：{answer.text[:200]}") from None
        if errcode != 0:
            raise DeliveryError(f"{label} {where} 拒绝了消息：errcode={errcode}，errmsg={data.get('errmsg', '')}")


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """DingTalk's 加签: base64(HMAC-SHA256(secret, "timestamp\\nsecret")); the URL encoding is httpx's."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _markdown(row: Outbox, robot: str) -> str:
    """The message as robot markdown: the subject in bold, links clickable, lines kept apart."""
    lines = [_URL.sub(lambda m: f"[{m.group(0)}]({m.group(0)})", line) for line in row.body.rstrip().splitlines()]
    if robot == "dingtalk":
        # DingTalk joins single newlines; blank-line separated paragraphs always show.
        return f"#### {row.subject}\n\n" + "\n\n".join(line for line in lines if line.strip())
    return f"**{row.subject}**\n" + "\n".join(lines)


# -- SMS --------------------------------------------------------------------------------------------
class SmsChannel:
    """SMS through the deployment's provider; without one, every SMS row fails loudly."""

    def __init__(self, provider: SmsProvider | None) -> None:
        self.provider = provider

    @staticmethod
    def text(row: Outbox) -> str:
        link = _link(row.body)
        return f"{row.subject}，详见：{link}" if link else row.subject

    async def send(self, row: Outbox) -> None:
        if self.provider is None:
            raise DeliveryError(
                f"未配置短信服务（设置项 sms_provider，环境变量 JIANYI_SMS_PROVIDER），无法向 {mask_address(row.address, 'sms')} 发送短信；"
                "请配置短信服务，或把该单位的通知通道改为邮件或机器人"
            )
        try:
            await self.provider.send(row.address, self.text(row))
        except DeliveryError:
            raise
        except Exception as exc:  # noqa: BLE001  (a provider's own error, whatever its type)
            raise DeliveryError(f"短信服务未能发送到 {mask_address(row.address, 'sms')}：{type(exc).__name__}: {mask_address(str(exc))}") from None


def _import_factory(spec: str) -> Callable[..., Any]:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise SettingError("sms_provider", f"「{spec}」格式不对，应为 包.模块:工厂函数，如 mysms.provider:create")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001  (ImportError or the module's own failure)
        raise SettingError("sms_provider", f"无法导入模块「{module_name}」：{type(exc).__name__}: {exc}") from None
    factory = module
    for part in attr.split("."):
        factory = getattr(factory, part, None)  # type: ignore[assignment]
        if factory is None:
            raise SettingError("sms_provider", f"模块「{module_name}」中没有「{attr}」")
    if not callable(factory):
        raise SettingError("sms_provider", f"「{spec}」不可调用，应为返回短信服务对象的工厂函数")
    return factory


def load_sms_provider(settings: Any) -> SmsProvider | None:
    """The provider named by ``sms_provider`` ("package.module:factory"; ``factory(settings)``)."""
    spec = settings.sms_provider.strip()
    if not spec:
        return None
    factory = _import_factory(spec)
    try:
        provider = factory(settings)
    except Exception as exc:  # noqa: BLE001
        raise SettingError("sms_provider", f"短信服务初始化失败（{spec}）：{type(exc).__name__}: {exc}") from None
    if not isinstance(provider, SmsProvider) or not inspect.iscoroutinefunction(provider.send):
        raise SettingError("sms_provider", f"「{spec}」返回的对象没有 async def send(phone, text) 方法")
    return provider


# -- settings ------------------------------------------------------------------------------------------
def validate_channels(settings: Any) -> None:
    """Refuse settings that could not deliver (raises ``SettingError`` naming the setting)."""
    if settings.smtp_security not in SMTP_SECURITY:
        raise SettingError("smtp_security", f"「{settings.smtp_security}」不是可用的值，可选：{'、'.join(SMTP_SECURITY)}")
    if not 0 < settings.smtp_port < 65536:
        raise SettingError("smtp_port", f"端口 {settings.smtp_port} 不在 1–65535 之内")
    if settings.smtp_password.get_secret_value() and not settings.smtp_username:
        raise SettingError("smtp_username", "设置了 smtp_password 却没有设置登录用户名")
    if settings.smtp_ca_file and not Path(settings.smtp_ca_file).is_file():
        raise SettingError("smtp_ca_file", f"证书文件 {settings.smtp_ca_file} 不存在")
    if settings.webhook_format not in WEBHOOK_FORMATS:
        raise SettingError("webhook_format", f"「{settings.webhook_format}」不是可用的格式，可选：{'、'.join(WEBHOOK_FORMATS)}")
    if settings.robot_msgtype not in ROBOT_MSGTYPES:
        raise SettingError("robot_msgtype", f"「{settings.robot_msgtype}」不是可用的消息类型，可选：{'、'.join(ROBOT_MSGTYPES)}")
    if settings.webhook_timeout_seconds <= 0:
        raise SettingError("webhook_timeout_seconds", "应为大于 0 的秒数")
    if settings.sms_provider.strip():
        _import_factory(settings.sms_provider.strip())
    try:
        templates_for(settings)
    except TemplateError as exc:
        raise SettingError("templates_file", str(exc)) from None


class Dispatcher:
    """The channels for one delivery batch: made on first use, closed together at the end."""

    def __init__(self, settings: Any, sms_provider: SmsProvider | None = None) -> None:
        self.settings = settings
        self.sms_provider = sms_provider
        self._channels: dict[str, Channel] = {}
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Dispatcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        email = self._channels.get("email")
        if isinstance(email, EmailChannel):
            await email.aclose()
        if self._http is not None:
            await self._http.aclose()

    def channel(self, name: str) -> Channel:
        if name not in self._channels:
            self._channels[name] = self._make(name)
        return self._channels[name]

    def _make(self, name: str) -> Channel:
        if name == "email":
            return EmailChannel(self.settings)
        if name == "sms":
            return SmsChannel(self.sms_provider)
        if name in WEBHOOK_CHANNELS:
            if self._http is None:
                self._http = httpx.AsyncClient(timeout=self.settings.webhook_timeout_seconds)
            fmt = self.settings.webhook_format if name == "webhook" else name
            return WebhookChannel(fmt, self.settings, self._http)
        return _Unknown(name)


class _Unknown:
    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, row: Outbox) -> None:
        raise DeliveryError(f"未知的通知通道「{self.name}」（可选：{'、'.join(CHANNELS)}），请更正「{row.recipient}」的登记")
