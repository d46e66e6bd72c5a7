"""SQLite's writers queue on a lock of this machine (models/db.write_session), not in SQLite's
sleeping busy handler: a writer is let in the moment the one before it commits."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

from sqlmodel import select

from jianyi.models.db import engine_for, write_session
from jianyi.models.tables import Session as SessionRow

HOLD_LOCK_FILE = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("holding", flush=True)
sys.stdin.readline()
"""


def _url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'records.db'}"
    engine_for(url)
    return url


def _add(url: str, name: str, order: list[str], inside: threading.Event | None = None, go: threading.Event | None = None) -> None:
    with write_session(url) as db:
        order.append(f"{name} in")
        db.add(SessionRow(code=name, name=name))
        if inside and go:
            inside.set()
            go.wait(timeout=10)  # a writer that takes its time: the other must wait for its commit, not interleave
        db.commit()
        order.append(f"{name} out")


def test_two_threads_writing_take_turns_and_both_commit(tmp_path: Path) -> None:
    url, order, inside, go = _url(tmp_path), [], threading.Event(), threading.Event()
    first = threading.Thread(target=_add, args=(url, "first", order, inside, go))
    first.start()
    assert inside.wait(timeout=10)
    second = threading.Thread(target=_add, args=(url, "second", order))
    second.start()
    second.join(timeout=0.5)
    assert order == ["first in"]  # the second writer waits for the first's commit
    go.set()
    first.join(timeout=10)
    second.join(timeout=10)
    assert order == ["first in", "first out", "second in", "second out"]
    with write_session(url) as db:
        assert sorted(s.code for s in db.exec(select(SessionRow))) == ["first", "second"]


def test_a_writer_in_another_process_is_waited_for_then_the_write_goes_through(tmp_path: Path) -> None:
    url = _url(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK_FILE, str(tmp_path / "records.db.writer-lock")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "holding"
    order: list[str] = []
    writer = threading.Thread(target=_add, args=(url, "waiting", order))
    writer.start()
    writer.join(timeout=0.5)
    assert order == []  # the other process holds the lock: this write has not begun
    holder.stdin.write("\n")
    holder.stdin.flush()
    holder.wait(timeout=10)
    writer.join(timeout=10)
    assert order == ["waiting in", "waiting out"]


def test_a_write_inside_a_write_of_the_same_thread_does_not_wait_for_itself(tmp_path: Path) -> None:
    url, order = _url(tmp_path), []
    with write_session(url):
        _add(url, "inner", order)
    assert order == ["inner in", "inner out"]
    fd = os.open(tmp_path / "records.db.writer-lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when the outer write ended
    os.close(fd)
