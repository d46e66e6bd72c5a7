"""The audit anchor (issue 7 §1), through the real CLI: chain heads signed with a key kept outside the
records database prove that nothing before them was rewritten, even by someone who re-hashes the chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from jianyi.models.audit import GENESIS, event_hash, hashed_fields
from jianyi.models.db import session_for
from jianyi.models.tables import AuditEvent

JIANYI = str(Path(sys.executable).parent / "jianyi")
KEY = "wecomrobotkey-0123456789"
PHONE = "13812341234"


def cli(var: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIANYI_")}
    env |= {"JIANYI_VAR_DIR": str(var), **extra}
    return subprocess.run([JIANYI, *args], env=env, capture_output=True, text=True, timeout=60)


def db_url(var: Path) -> str:
    return f"sqlite:///{(var / 'jianyi.db').resolve()}"


def write_chain(var: Path, sid: str, texts: list[str]) -> None:
    """A suggestion's audit chain as the records activity writes it (hash-linked)."""
    prev, at = GENESIS, datetime(2026, 3, 1, tzinfo=UTC)
    with session_for(db_url(var)) as db:
        for seq, remark in enumerate(texts, start=1):
            e = AuditEvent(suggestion_id=sid, seq=seq, actor="代表工委", role="congress_office", action="remark",
                           from_state="registered", to_state="registered", payload={"text": remark}, at=at,
                           effective_at=at, prev_hash=prev, hash="")
            e.hash = prev = event_hash(prev, hashed_fields(e))
            db.add(e)
        db.commit()


def rewrite_consistently(var: Path, sid: str, seq: int, remark: str) -> None:
    """What a database administrator could do: edit one payload and re-hash every later event."""
    with session_for(db_url(var)) as db:
        events = list(db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == sid).order_by(AuditEvent.seq)))
        prev = GENESIS
        for e in events:
            if e.seq == seq:
                e.payload = {"text": remark}
            e.prev_hash = prev
            e.hash = prev = event_hash(prev, hashed_fields(e))
            db.add(e)
        db.commit()


def test_a_consistently_rewritten_chain_passes_plain_verify_but_the_anchor_catches_it(tmp_path: Path) -> None:
    var, key = tmp_path / "var", tmp_path / "auditor" / "audit.key"
    key.parent.mkdir()
    key.write_text("k" * 64)
    write_chain(var, "suggestion-16-3-40", ["请加快进度", "已督促"])
    write_chain(var, "suggestion-16-3-41", ["请说明情况"])
    anchor = tmp_path / "auditor" / "anchor.json"
    made = cli(var, "audit", "anchor", "--out", str(anchor), JIANYI_AUDIT_KEY_FILE=str(key))
    assert made.returncode == 0, made.stderr
    assert [h["seq"] for h in json.loads(anchor.read_text())["heads"]] == [2, 1]
    write_chain(var, "suggestion-16-3-42", ["锚定之后的新建议"])  # after the anchor: fine
    assert cli(var, "audit", "verify", "--anchor", str(anchor), JIANYI_AUDIT_KEY_FILE=str(key)).returncode == 0

    rewrite_consistently(var, "suggestion-16-3-40", 1, "无需加快")
    assert cli(var, "audit", "verify").returncode == 0  # the chain itself is consistent again
    caught = cli(var, "audit", "verify", "--anchor", str(anchor), "--json", JIANYI_AUDIT_KEY_FILE=str(key))
    assert caught.returncode == 4
    breaks = json.loads(caught.stdout)["breaks"]
    assert [(b["suggestion_id"], b["seq"]) for b in breaks] == [("suggestion-16-3-40", 2)]
    assert "重新计算了哈希" in breaks[0]["problem"]


def test_an_anchor_signed_with_another_key_or_edited_is_refused_and_a_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    var, key, other = tmp_path / "var", tmp_path / "a.key", tmp_path / "b.key"
    key.write_text("a" * 64)
    other.write_text("b" * 64)
    write_chain(var, "suggestion-16-3-40", ["请加快进度"])
    anchor = tmp_path / "anchor.json"
    assert cli(var, "audit", "anchor", "--out", str(anchor), JIANYI_AUDIT_KEY_FILE=str(key)).returncode == 0
    wrong = cli(var, "audit", "verify", "--anchor", str(anchor), JIANYI_AUDIT_KEY_FILE=str(other))
    assert wrong.returncode == 4 and "签名不符" in wrong.stderr
    missing = cli(var, "audit", "anchor", "--out", str(anchor), JIANYI_AUDIT_KEY_FILE=str(tmp_path / "nope.key"))
    assert missing.returncode == 5 and "无法读取审计密钥文件" in missing.stderr and "Traceback" not in missing.stderr


