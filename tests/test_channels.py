"""Delivery channels against real servers: e-mail to aiosmtpd (plain, STARTTLS, TLS, login),
webhooks to a real HTTP server on loopback (WeCom, DingTalk, generic JSON), SMS through a
provider bound by the real setting (only the provider call itself is a test double).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import fake_sms
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from helpers import delivered, outbox, submit_and_assign
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from jianyi import directory
from jianyi.activities.channels import SettingError, validate_channels
from jianyi.activities.notify import NotifyActivities
from jianyi.activities.outbox import address_of as _address
from jianyi.mailcatcher import MailCatcher
from jianyi.models.commands import InputError
from jianyi.models.db import session_for
from jianyi.models.tables import Outbox
from jianyi.settings import Settings

DATA = Path(__file__).parent / "data"
CERT, KEY = str(DATA / "smtp-cert.pem"), str(DATA / "smtp-key.pem")
SUBJECT = "【建议办理·交办通知】第40号《关于做好科技金融的建议》"
LINK = "http://127.0.0.1:8000/suggestions/suggestion-16-3-40"
BODY = f"区城管局：\n\n现将本建议交由你单位主办。\n\n建议编号：第40号\n查看案件：{LINK}\n"
OK = '{"errcode":0,"errmsg":"ok"}'


# -- a real HTTP server that records what it receives ---------------------------------------------
@dataclass
class Request:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any


@dataclass
class Hook:
    """Webhook receiver on 127.0.0.1; ``answers[path]`` is a queue of (status, body), the last repeating."""

    requests: list[Request] = field(default_factory=list)
    answers: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def url(self, path: str, query: str = "") -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}" + (f"?{query}" if query else "")

    def at(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


def _handler(hook: Hook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            parts = urlsplit(self.path)
            with hook.lock:
                hook.requests.append(
                    Request(parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()}, json.loads(raw))
                )
                queue = hook.answers.get(parts.path) or [(200, OK)]
                status, body = queue.pop(0) if len(queue) > 1 else queue[0]
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    h.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(h))
    thread = threading.Thread(target=h.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield h
    h.server.shutdown()
    h.server.server_close()
    thread.join()


# -- SMTP servers with TLS and login ---------------------------------------------------------------
@dataclass
class Seen:
    to: list[str]
    message: Any
    tls: bool
    login: str


@dataclass
class Recorder:
    seen: list[Seen] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        tls = server.transport.get_extra_info("ssl_object") is not None
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else ""
        self.seen.append(Seen(list(envelope.rcpt_tos), msg, tls, login))
        return "250 OK"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"jianyi" and data.password == b"s3cret"
    return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


def _tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(CERT, KEY)
    return ctx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_servers() -> Iterator[dict[str, tuple[Controller, Recorder]]]:
    """Three real SMTP servers: STARTTLS offered, STARTTLS + login required, implicit TLS + login."""
    made: dict[str, tuple[Controller, Recorder]] = {}
    specs: dict[str, dict[str, Any]] = {
        "offers_starttls": {"tls_context": _tls()},
        "starttls_login": {"tls_context": _tls(), "require_starttls": True, "authenticator": _authenticator, "auth_required": True},
        # aiosmtpd does not see that an implicit-TLS connection is encrypted: AUTH must be allowed "without" TLS
        "tls_login": {"ssl_context": _tls(), "authenticator": _authenticator, "auth_require_tls": False},
    }
    for name, kwargs in specs.items():
        recorder = Recorder()
        controller = Controller(recorder, hostname="127.0.0.1", port=_free_port(), server_hostname="127.0.0.1", **kwargs)
        controller.start()
        made[name] = (controller, recorder)
    yield made
    for controller, _ in made.values():
        controller.stop()


# -- outbox rows ----------------------------------------------------------------------------------
def add_rows(settings: Settings, *specs: dict[str, Any]) -> list[int]:
    """Outbox rows as records.py writes them (one suggestion per call, so keys never collide)."""
    sid = f"suggestion-t-{uuid.uuid4().hex[:8]}"
    ids = []
    with session_for(settings.db_url) as db:
        for n, spec in enumerate(specs):
            row = Outbox(
                suggestion_id=sid,
                recipient=spec.get("recipient", "区城管局"),
                address=spec["address"],
                channel=spec["channel"],
                kind=spec.get("kind", "assigned"),
                cycle=spec.get("cycle", str(n + 1)),
                subject=SUBJECT,
                body=BODY,
                created_at=datetime.now(UTC),
                status=spec.get("status", "pending"),
            )
            db.add(row)
            db.flush()
            ids.append(row.id)
        db.commit()
    return ids


def rows_by_id(settings: Settings, ids: list[int]) -> list[Outbox]:
    with session_for(settings.db_url) as db:
        return [db.get(Outbox, i) for i in ids]  # type: ignore[misc]


def mine(catcher: MailCatcher, sid: str) -> list[Any]:
    return [r for r in catcher.received if r.key.startswith(f"{sid}|")]


# -- e-mail -----------------------------------------------------------------------------------------
async def test_email_to_real_smtp_server_with_stable_message_id(settings, mail):
    assert settings.smtp_security == "none"
    ids = add_rows(settings, {"address": "chengguan@example.gov", "channel": "email"}, {"address": "shuiwu@example.gov", "channel": "email", "recipient": "区水务局"})
    sid = rows_by_id(settings, ids)[0].suggestion_id
    assert await NotifyActivities(settings).deliver_outbox(ids) == 2
    got = mine(mail, sid)
    assert sorted(r.to[0] for r in got) == ["chengguan@example.gov", "shuiwu@example.gov"]
    first = next(r for r in got if r.to == ["chengguan@example.gov"])
    assert first.key == f"{sid}|assigned|1"
    assert first.subject == SUBJECT and LINK in first.body
    key = f"{sid}|区城管局|assigned|1"
    assert first.message["Message-ID"] == f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@jianyi>"
    assert [(r.status, r.attempts, r.last_error) for r in rows_by_id(settings, ids)] == [("sent", 1, "")] * 2


async def test_default_never_upgrades_to_starttls_but_starttls_setting_does(settings, smtp_servers):
    controller, seen = smtp_servers["offers_starttls"]
    plain = settings.model_copy(update={"smtp_port": controller.port})
    await NotifyActivities(plain).deliver_outbox(add_rows(plain, {"address": "a@example.gov", "channel": "email"}))
    tls = settings.model_copy(update={"smtp_port": controller.port, "smtp_security": "starttls", "smtp_ca_file": CERT})
    await NotifyActivities(tls).deliver_outbox(add_rows(tls, {"address": "b@example.gov", "channel": "email"}))
    assert [(s.to, s.tls) for s in seen.seen] == [(["a@example.gov"], False), (["b@example.gov"], True)]


async def test_starttls_with_login(settings, smtp_servers):
    controller, seen = smtp_servers["starttls_login"]
    s = settings.model_copy(
        update={"smtp_port": controller.port, "smtp_security": "starttls", "smtp_ca_file": CERT, "smtp_username": "jianyi", "smtp_password": "s3cret"}
    )
    s = Settings.model_validate(s.model_dump())  # the password as the environment gives it: a SecretStr
    ids = add_rows(s, {"address": "a@example.gov", "channel": "email"})
    assert await NotifyActivities(s).deliver_outbox(ids) == 1
    assert [(x.tls, x.login) for x in seen.seen] == [(True, "jianyi")]


async def test_implicit_tls_with_login(settings, smtp_servers):
    controller, seen = smtp_servers["tls_login"]
    s = Settings.model_validate(
        {**settings.model_dump(), "smtp_port": controller.port, "smtp_security": "tls", "smtp_ca_file": CERT, "smtp_username": "jianyi", "smtp_password": "s3cret"}
    )
    assert await NotifyActivities(s).deliver_outbox(add_rows(s, {"address": "a@example.gov", "channel": "email"})) == 1
    assert [(x.tls, x.login) for x in seen.seen] == [(True, "jianyi")]


async def test_wrong_password_fails_the_row_with_the_servers_answer(settings, smtp_servers):
    controller, seen = smtp_servers["tls_login"]
    s = Settings.model_validate(
        {**settings.model_dump(), "smtp_port": controller.port, "smtp_security": "tls", "smtp_ca_file": CERT, "smtp_username": "jianyi", "smtp_password": "wrong"}
    )
    ids = add_rows(s, {"address": "a@example.gov", "channel": "email"}, {"address": "b@example.gov", "channel": "email", "recipient": "区水务局"})
    with pytest.raises(ApplicationError, match="2 条通知发送失败"):
        await NotifyActivities(s).deliver_outbox(ids)
    rows = rows_by_id(s, ids)
    assert [r.status for r in rows] == ["failed", "failed"]
    assert "拒绝登录（用户 jianyi）" in rows[0].last_error and "535" in rows[0].last_error
    assert seen.seen == []


async def test_unreachable_smtp_server_keeps_the_message_for_the_retry(settings, mail):
    down = settings.model_copy(update={"smtp_port": _free_port()})
    ids = add_rows(down, {"address": "a@example.gov", "channel": "email"})
    with pytest.raises(ApplicationError):
        await NotifyActivities(down).deliver_outbox(ids)
    [row] = rows_by_id(settings, ids)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error.startswith(f"无法连接邮件服务器 127.0.0.1:{down.smtp_port}（none）：")
    assert await NotifyActivities(settings).deliver_outbox(ids) == 1  # the server is back: the retry sends it
    [row] = rows_by_id(settings, ids)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(mine(mail, row.suggestion_id)) == 1


# -- webhooks -------------------------------------------------------------------------------------
async def test_wecom_markdown_payload(settings, hook):
    ids = add_rows(settings, {"address": hook.url("/cgi-bin/webhook/send", "key=k-1"), "channel": "wecom"})
    assert await NotifyActivities(settings).deliver_outbox(ids) == 1
    [req] = hook.at("/cgi-bin/webhook/send")
    assert req.query == {"key": ["k-1"]}
    assert req.headers["content-type"] == "application/json"
    assert req.json == {
        "msgtype": "markdown",
        "markdown": {
            "content": "**【建议办理·交办通知】第40号《关于做好科技金融的建议》**\n"
            "区城管局：\n\n现将本建议交由你单位主办。\n\n建议编号：第40号\n"
            f"查看案件：[{LINK}]({LINK})"
        },
    }
    assert "idempotency-key" not in req.headers


async def test_wecom_and_dingtalk_text_payloads(settings, hook):
    s = settings.model_copy(update={"robot_msgtype": "text"})
    ids = add_rows(
        s,
        {"address": hook.url("/wecom", "key=k"), "channel": "wecom"},
        {"address": hook.url("/dingtalk", "access_token=t"), "channel": "dingtalk"},
    )
    assert await NotifyActivities(s).deliver_outbox(ids) == 2
    text = {"msgtype": "text", "text": {"content": f"{SUBJECT}\n\n{BODY}"}}
    assert [r.json for r in hook.at("/wecom")] == [text]
    assert [r.json for r in hook.at("/dingtalk")] == [text]


async def test_dingtalk_markdown_payload_signed(settings, hook):
    s = Settings.model_validate({**settings.model_dump(), "dingtalk_secret": "SECabc123"})
    ids = add_rows(s, {"address": hook.url("/robot/send", "access_token=tok"), "channel": "dingtalk"})
    assert await NotifyActivities(s).deliver_outbox(ids) == 1
    [req] = hook.at("/robot/send")
    assert req.json == {
        "msgtype": "markdown",
        "markdown": {
            "title": SUBJECT,
            "text": f"#### {SUBJECT}\n\n区城管局：\n\n现将本建议交由你单位主办。\n\n建议编号：第40号\n\n查看案件：[{LINK}]({LINK})",
        },
    }
    assert req.query["access_token"] == ["tok"]
    [timestamp], [sign] = req.query["timestamp"], req.query["sign"]
    assert abs(int(timestamp) / 1000 - datetime.now(UTC).timestamp()) < 60
    expected = base64.b64encode(hmac.new(b"SECabc123", f"{timestamp}\nSECabc123".encode(), hashlib.sha256).digest()).decode()
    assert sign == expected  # parse_qs has undone the URL encoding of + / =


async def test_generic_json_with_idempotency_key(settings, hook):
    ids = add_rows(settings, {"address": hook.url("/hooks/jianyi"), "channel": "webhook"})
    [row] = rows_by_id(settings, ids)
    assert await NotifyActivities(settings).deliver_outbox(ids) == 1
    [req] = hook.at("/hooks/jianyi")
    assert req.json == {
        "suggestion_id": row.suggestion_id,
        "recipient": "区城管局",
        "kind": "assigned",
        "cycle": "1",
        "subject": SUBJECT,
        "body": BODY,
    }
    key = f"{row.suggestion_id}|区城管局|assigned|1"
    assert req.headers["idempotency-key"] == hashlib.sha256(key.encode()).hexdigest()[:32]


async def test_webhook_channel_takes_its_format_from_the_setting(settings, hook):
    s = settings.model_copy(update={"webhook_format": "wecom"})
    ids = add_rows(s, {"address": hook.url("/w"), "channel": "webhook"})
    await NotifyActivities(s).deliver_outbox(ids)
    assert hook.at("/w")[0].json["msgtype"] == "markdown"


async def test_http_500_and_errcode_fail_their_rows_and_raise_the_others_still_go(settings, hook):
    hook.answers["/broken"] = [(500, "upstream exploded")]
    hook.answers["/wecom-bad"] = [(200, '{"errcode":93000,"errmsg":"invalid webhook url"}')]
    ids = add_rows(
        settings,
        {"address": hook.url("/broken"), "channel": "webhook"},
        {"address": hook.url("/wecom-bad", "key=secret-key"), "channel": "wecom", "recipient": "区水务局"},
        {"address": hook.url("/good", "key=k"), "channel": "wecom", "recipient": "区科技局"},
    )
    with pytest.raises(ApplicationError) as raised:
        await NotifyActivities(settings).deliver_outbox(ids)
    assert "2 条通知发送失败（已发送 1 条）" in str(raised.value)
    broken, bad, good = rows_by_id(settings, ids)
    assert (broken.status, broken.attempts) == ("failed", 1)
    assert broken.last_error == f"webhook {hook.url('/broken')} 返回 HTTP 500：upstream exploded"
    assert (bad.status, bad.attempts) == ("failed", 1)
    assert bad.last_error == f"企业微信机器人 {hook.url('/wecom-bad')}?… 拒绝了消息：errcode=93000，errmsg=invalid webhook url"
    assert "secret-key" not in bad.last_error  # the robot's key stays out of errors and notices
    assert (good.status, good.attempts) == ("sent", 1)
    assert raised.value.type == "DeliveryFailed" and not raised.value.non_retryable


async def test_dingtalk_errcode_is_a_failure(settings, hook):
    hook.answers["/robot/send"] = [(200, '{"errcode":310000,"errmsg":"keywords not in content"}')]
    ids = add_rows(settings, {"address": hook.url("/robot/send", "access_token=t"), "channel": "dingtalk"})
    with pytest.raises(ApplicationError):
        await NotifyActivities(settings).deliver_outbox(ids)
    [row] = rows_by_id(settings, ids)
    assert row.status == "failed" and "errcode=310000，errmsg=keywords not in content" in row.last_error


async def test_unreachable_webhook_fails_with_a_chinese_message(settings):
    url = f"http://127.0.0.1:{_free_port()}/hook"
    ids = add_rows(settings, {"address": url, "channel": "webhook"})
    with pytest.raises(ApplicationError):
        await NotifyActivities(settings).deliver_outbox(ids)
    [row] = rows_by_id(settings, ids)
    assert row.status == "failed" and row.last_error.startswith(f"无法连接webhook {url}：ConnectError")


async def test_retry_after_success_sends_nothing_again(settings, hook):
    hook.answers["/flaky"] = [(500, "busy"), (200, OK)]
    ids = add_rows(
        settings,
        {"address": hook.url("/steady"), "channel": "webhook"},
        {"address": hook.url("/flaky"), "channel": "webhook", "recipient": "区水务局"},
    )
    notify = NotifyActivities(settings)
    with pytest.raises(ApplicationError):
        await notify.deliver_outbox(ids)
    assert await notify.deliver_outbox(ids) == 1  # only the failed one goes again
    assert await notify.deliver_outbox(ids) == 0  # and then nothing
    assert len(hook.at("/steady")) == 1 and len(hook.at("/flaky")) == 2
    steady, flaky = rows_by_id(settings, ids)
    assert (steady.status, steady.attempts) == ("sent", 1)
    assert (flaky.status, flaky.attempts, flaky.last_error) == ("sent", 2, "")


def claimed(settings: Settings, ids: list[int], minutes_ago: float = 0) -> None:
    """The rows as a deliverer left them that claimed them ``minutes_ago`` (and may have died since: a worker killed mid-send)."""
    with session_for(settings.db_url) as db:
        for row in (db.get(Outbox, i) for i in ids):
            row.status, row.claimed_at = "sending", datetime.now(UTC) - timedelta(minutes=minutes_ago)  # type: ignore[union-attr]
            db.add(row)
        db.commit()


async def test_the_next_attempt_of_a_delivery_sends_what_its_killed_attempt_had_claimed(settings, mail):
    ids = add_rows(settings, {"address": "a@example.gov", "channel": "email"})
    claimed(settings, ids)
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2, start_to_close_timeout=timedelta(seconds=20))
    assert await retry.run(NotifyActivities(settings).deliver_outbox, ids) == 1
    [row] = rows_by_id(settings, ids)
    assert row.status == "sent" and len(mine(mail, row.suggestion_id)) == 1


async def test_rows_another_deliverer_holds_are_never_reported_delivered(settings, mail):
    ids = add_rows(settings, {"address": "a@example.gov", "channel": "email"},
                   {"address": "b@example.gov", "channel": "email", "recipient": "区水务局"})
    claimed(settings, ids[1:])  # claimed just now by someone else, who may still send it
    with pytest.raises(ApplicationError, match=r"1 条通知正由另一投递尝试发送.*已发送 1 条") as raised:
        await NotifyActivities(settings).deliver_outbox(ids)
    assert raised.value.type == "DeliveryBusy" and not raised.value.non_retryable  # Temporal asks again later
    assert [r.status for r in rows_by_id(settings, ids)] == ["sent", "sending"]
    claimed(settings, ids[1:], minutes_ago=3)  # that deliverer died: its claim expires
    assert await NotifyActivities(settings).deliver_outbox(ids) == 1
    assert [r.status for r in rows_by_id(settings, ids)] == ["sent", "sent"]


async def test_held_rows_go_and_rows_without_address_are_left_alone(settings, hook):
    ids = add_rows(
        settings,
        {"address": hook.url("/held"), "channel": "webhook", "status": "held"},
        {"address": "", "channel": "email", "status": "no_address", "recipient": "区水务局"},
    )
    assert await NotifyActivities(settings).deliver_outbox(ids) == 1
    held, nothing = rows_by_id(settings, ids)
    assert held.status == "sent" and (nothing.status, nothing.attempts) == ("no_address", 0)


async def test_long_digest_is_cut_to_the_wecom_limit_keeping_the_link(settings, hook):
    ids = add_rows(settings, {"address": hook.url("/long"), "channel": "wecom"})
    with session_for(settings.db_url) as db:
        row = db.get(Outbox, ids[0])
        row.body = "区城管局：\n\n" + "\n".join(f"{n}. 第{n}号《关于某某事项的建议》 办理中" for n in range(300)) + f"\n查看详情：{LINK}\n"
        db.add(row)
        db.commit()
    await NotifyActivities(settings).deliver_outbox(ids)
    content = hook.at("/long")[0].json["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert content.endswith(f"（内容过长，已截断，请打开链接查看全文：{LINK}）")


# -- SMS --------------------------------------------------------------------------------------------
async def test_sms_through_the_configured_provider(settings):
    s = settings.model_copy(update={"sms_provider": "fake_sms:make"})
    ids = add_rows(s, {"address": "13800001111", "channel": "sms"}, {"address": "000123", "channel": "sms", "recipient": "区水务局"})
    before = len(fake_sms.SENT)
    with pytest.raises(ApplicationError):
        await NotifyActivities(s).deliver_outbox(ids)
    assert fake_sms.SENT[before:] == [("13800001111", f"{SUBJECT}，详见：{LINK}")]
    ok, refused = rows_by_id(s, ids)
    assert ok.status == "sent"
    assert refused.status == "failed"
    # the number is masked in what is kept and shown (issue 7 §4)
    assert refused.last_error == "短信服务未能发送到 ****：RuntimeError: gateway refused 000123: invalid number (code 1016)"


async def test_sms_without_a_provider_fails_loudly(settings):
    ids = add_rows(settings, {"address": "13800001111", "channel": "sms"})
    with pytest.raises(ApplicationError, match="未配置短信服务"):
        await NotifyActivities(settings).deliver_outbox(ids)
    [row] = rows_by_id(settings, ids)
    assert row.status == "failed" and "JIANYI_SMS_PROVIDER" in row.last_error


async def test_unknown_channel_on_a_row_fails_it(settings):
    ids = add_rows(settings, {"address": "x", "channel": "pigeon"})
    with pytest.raises(ApplicationError):
        await NotifyActivities(settings).deliver_outbox(ids)
    assert "未知的通知通道「pigeon」" in rows_by_id(settings, ids)[0].last_error


# -- settings -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "setting", "says"),
    [
        ({"smtp_security": "ssl"}, "smtp_security", "可选：none、starttls、tls"),
        ({"webhook_format": "slack"}, "webhook_format", "可选：generic、wecom、dingtalk"),
        ({"robot_msgtype": "card"}, "robot_msgtype", "可选：markdown、text"),
        ({"webhook_timeout_seconds": 0}, "webhook_timeout_seconds", "大于 0"),
        ({"smtp_ca_file": "/nonexistent/ca.pem"}, "smtp_ca_file", "不存在"),
        ({"smtp_password": "x"}, "smtp_username", "没有设置登录用户名"),
        ({"sms_provider": "no_such_sms_module:make"}, "sms_provider", "无法导入模块「no_such_sms_module」"),
        ({"sms_provider": "fake_sms"}, "sms_provider", "应为 包.模块:工厂函数"),
        ({"sms_provider": "fake_sms:nothing_here"}, "sms_provider", "没有「nothing_here」"),
        ({"sms_provider": "fake_sms:SENT"}, "sms_provider", "不可调用"),
        ({"templates_file": "/nonexistent/messages.toml"}, "templates_file", "找不到模板文件"),
    ],
)
def test_validate_channels_refuses_bad_settings_naming_them(settings, changes, setting, says):
    bad = Settings.model_validate({**settings.model_dump(), **changes})
    with pytest.raises(SettingError) as raised:
        validate_channels(bad)
    assert raised.value.setting == setting
    assert f"设置项 {setting}（环境变量 JIANYI_{setting.upper()}）有误：" in raised.value.message
    assert says in raised.value.message
    with pytest.raises(SettingError):
        NotifyActivities(bad)  # the worker does not start


def test_a_bad_templates_file_stops_start_up(settings, tmp_path):
    path = tmp_path / "messages.toml"
    path.write_text('[kinds.closed]\nsubject = "办结{"\n', encoding="utf-8")
    with pytest.raises(SettingError) as raised:
        NotifyActivities(settings.model_copy(update={"templates_file": str(path)}))
    assert raised.value.setting == "templates_file"
    assert "JIANYI_TEMPLATES_FILE" in raised.value.message and "花括号不成对" in raised.value.message


def test_a_provider_factory_returning_no_provider_stops_start_up(settings):
    bad = settings.model_copy(update={"sms_provider": "fake_sms:not_a_provider"})
    validate_channels(bad)  # importable and callable …
    with pytest.raises(SettingError, match="没有 async def send"):
        NotifyActivities(bad)  # … but what it makes cannot send


def test_defaults_are_valid(settings):
    validate_channels(settings)


# -- the records choose the channel ------------------------------------------------------------------
def test_units_and_deputies_choose_their_channel(settings):
    url = settings.db_url
    directory.add_unit(url, "区城管局", "chengguan@example.gov")
    directory.add_unit(url, "区水务局", "shuiwu@example.gov", "政府部门", "wecom", webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
    directory.add_unit(url, "杨园街道办事处", channel="sms", phone="13800001111")
    directory.add_unit(url, "区科技局", channel="webhook", webhook_url="https://hooks.example.gov/jianyi")
    directory.add_deputy(url, "杨永兵", email="y@deputy.example", channel="dingtalk", webhook_url="https://oapi.dingtalk.com/robot/send?access_token=t")
    directory.add_deputy(url, "刘正心", email="l@deputy.example")
    with session_for(url) as db:
        assert _address(db, "区城管局") == ("chengguan@example.gov", "email")
        assert _address(db, "区水务局") == ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "wecom")
        assert _address(db, "杨园街道办事处") == ("13800001111", "sms")
        assert _address(db, "区科技局") == ("https://hooks.example.gov/jianyi", "webhook")
        assert _address(db, "杨永兵") == ("https://oapi.dingtalk.com/robot/send?access_token=t", "dingtalk")
        assert _address(db, "刘正心") == ("l@deputy.example", "email")
        assert _address(db, "不存在的单位") == ("", "email")


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"channel": "fax"}, "未知的通知通道「fax」"),
        ({"channel": "wecom"}, "必须登记机器人或 webhook 地址"),
        ({"channel": "dingtalk", "webhook_url": "oapi.dingtalk.com/robot"}, "应以 http:// 或 https:// 开头"),
        ({"channel": "sms", "phone": "call me"}, "有效的手机号"),
    ],
)
def test_a_unit_with_an_undeliverable_channel_is_refused(settings, kwargs, says):
    with pytest.raises(InputError, match=says):
        directory.add_unit(settings.db_url, "区城管局", **kwargs)


def test_cli_admin_unit_registers_the_channel(tmp_path):
    env = {**os.environ, "JIANYI_VAR_DIR": str(tmp_path)}
    jianyi = [str(Path(sys.executable).parent / "jianyi")]
    subprocess.run([*jianyi, "admin", "account", "add", "--login", "root", "--role", "admin"], env=env, capture_output=True, timeout=60, check=True)
    jianyi += ["--as", "admin:root"]
    ok = subprocess.run([*jianyi, "admin", "unit", "区水务局", "--channel", "wecom", "--webhook", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"], env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "已登记承办单位：区水务局（政府部门；通知通道：wecom）" in ok.stdout
    bad = subprocess.run([*jianyi, "admin", "unit", "区城管局", "--channel", "wecom"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "必须登记机器人或 webhook 地址" in bad.stderr and "Traceback" not in bad.stderr
    with session_for(f"sqlite:///{(tmp_path / 'jianyi.db').resolve()}") as db:
        assert _address(db, "区水务局") == ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "wecom")


# -- through the workflow ----------------------------------------------------------------------------
async def test_a_unit_on_wecom_gets_its_assignment_notice_through_the_workflow(env, settings, engine, hook):
    directory.add_unit(settings.db_url, "区地方金融工作局", "jinrong@example.gov", channel="wecom", webhook_url=hook.url("/cgi-bin/webhook/send", "key=jinrong"))
    sid = await submit_and_assign(engine)
    await delivered(env, settings, sid)  # past quiet hours, if the notice was held, and until its delivery has ended
    [row] = outbox(settings, sid, "assigned")
    assert (row.channel, row.status, row.attempts) == ("wecom", "sent", 1)
    [req] = hook.at("/cgi-bin/webhook/send")
    assert req.query == {"key": ["jinrong"]} and req.json["msgtype"] == "markdown"
    content = req.json["markdown"]["content"]
    assert content.startswith("**【建议办理·交办通知】第40号《关于做好武昌区科技金融")
    assert "区地方金融工作局：" in content and f"/suggestions/{sid})" in content


def test_worker_start_up_stops_on_a_bad_channel_setting_naming_it(tmp_path):
    env = {**os.environ, "JIANYI_VAR_DIR": str(tmp_path), "JIANYI_SMTP_SECURITY": "ssl"}
    out = subprocess.run([str(Path(sys.executable).parent / "jianyi"), "worker"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 5  # a bad setting (README: exit codes)
    assert out.stderr.strip() == "错误：设置项 smtp_security（环境变量 JIANYI_SMTP_SECURITY）有误：「ssl」不是可用的值，可选：none、starttls、tls"
