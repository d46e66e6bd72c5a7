"""docs/state-diagram.md is generated from the lifecycle machine and must never go stale."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from jianyi.models.lifecycle import STATE_LABELS, State

DOCS = Path(__file__).resolve().parent.parent / "docs"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_diagram", DOCS / "make_diagram.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_state_diagram_is_the_generated_one() -> None:
    generated = load_generator().render()
    committed = (DOCS / "state-diagram.md").read_text(encoding="utf-8")
    assert committed == generated, "docs/state-diagram.md is stale: run .venv/bin/python docs/make_diagram.py"


def test_the_diagram_shows_every_state() -> None:
    text = (DOCS / "state-diagram.md").read_text(encoding="utf-8")
    assert "```mermaid\n---\ntitle: 建议办理生命周期\n---\nstateDiagram-v2\n" in text
    for state in State:
        assert f'state "{state.value}" as {state.value}' in text
        assert f"| `{state.value}` | {STATE_LABELS[state]} |" in text


def test_check_mode_passes_on_the_committed_file() -> None:
    script = str(DOCS / "make_diagram.py")
    done = subprocess.run([sys.executable, script, "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generator = load_generator()
    stale = tmp_path / "state-diagram.md"
    stale.write_text(generator.render().replace("rehandling", "re_handling"), encoding="utf-8")
    monkeypatch.setattr(generator, "TARGET", stale)
    assert generator.main(["--check"]) == 1
    assert generator.main([]) == 0
    assert generator.main(["--check"]) == 0
