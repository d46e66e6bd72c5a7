"""Where a unit's, deputy's or supervisor's notices go: the channels and the address each uses,
checked when an admin records them (pure; the deliverers live in activities/channels.py)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from jianyi.models.commands import InputError

CHANNEL_LABELS = {
    "email": "电子邮件",
    "wecom": "企业微信机器人",
    "dingtalk": "钉钉机器人",
    "webhook": "webhook",
    "sms": "短信",
}
CHANNELS = tuple(CHANNEL_LABELS)  # email, wecom, dingtalk, webhook, sms
WEBHOOK_CHANNELS = ("wecom", "dingtalk", "webhook")


def contact_address(channel: str, email: str = "", webhook_url: str = "", phone: str = "") -> str:
    """The address a unit's or deputy's record gives for ``channel`` ("" when it has none)."""
    if channel == "sms":
        return phone
    if channel in WEBHOOK_CHANNELS:
        return webhook_url
    return email


def check_contact(channel: str, email: str = "", webhook_url: str = "", phone: str = "") -> None:
    """Refuse (in Chinese) a unit's or deputy's channel that could not be delivered to."""
    if channel not in CHANNELS:
        raise InputError(f"未知的通知通道「{channel}」，可选：{'、'.join(CHANNELS)}")
    if channel in WEBHOOK_CHANNELS:
        if not webhook_url:
            raise InputError(f"通知通道为 {channel}（{CHANNEL_LABELS[channel]}）时必须登记机器人或 webhook 地址")
        parts = urlsplit(webhook_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(f"webhook 地址「{webhook_url}」无效，应以 http:// 或 https:// 开头")
    if channel == "sms":
        if not re.fullmatch(r"\+?[0-9][0-9 -]{4,19}", phone or ""):
            raise InputError(f"通知通道为 sms（短信）时必须登记有效的手机号，收到「{phone}」")


def mask_address(address: str, channel: str = "") -> str:
    """An address fit to show or log: phone numbers as 138****1234, robot keys and tokens hidden."""
    if not address:
        return address
    if channel == "sms" or re.fullmatch(r"\+?[0-9][0-9 -]{4,19}", address):
        digits = re.sub(r"\D", "", address)
        return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 7 else "****"
    if address.startswith(("http://", "https://")):
        parts = urlsplit(address)
        hidden = "&".join(f"{k.split('=')[0]}=****" if "=" in k else k for k in parts.query.split("&") if k) if parts.query else ""
        return f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{hidden}" if hidden else "")
    return address


def mask_secrets(text: str) -> str:
    """A message fit to show or log: any URL's query (robot key, token) and phone numbers masked."""
    text = re.sub(r"https?://[^\s)）」]+", lambda m: mask_address(m.group(0)), text)
    return re.sub(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)", r"\1****\2", text)
