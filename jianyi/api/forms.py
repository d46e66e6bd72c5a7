"""Forms for actions, made from each action's payload type (models/actions.py): one home per
action, so a new action needs no new page. Values come back as the payload's JSON form."""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel

from jianyi.models.commands import CommitmentIn

CHOICE_LABELS = {
    "register": "立案", "merge": "并案", "not_register": "不予立案", "return": "退回修改",
    "approve": "同意 / 通过", "refuse": "不同意 / 退回", "rehandle": "责令重新办理", "close": "办结 / 结束",
    "notice": "通报", "rectify": "限期整改",
}
HIDDEN = {"attachment_name", "attachment_sha256"}


@dataclass
class FormField:
    name: str
    title: str
    kind: str  # text / textarea / select / date / number / checkbox / list / commitments
    required: bool
    options: list[tuple[str, str]] = field(default_factory=list)
    value: str = ""


def form_fields(model: type[BaseModel], values: dict[str, str] | None = None) -> list[FormField]:
    values = values or {}
    out = []
    for name, info in model.model_fields.items():
        if name in HIDDEN:
            continue
        kind, options = _kind(info.annotation, info.metadata)
        value = None if info.is_required() else info.get_default(call_default_factory=True)
        default = "" if value in (None, [], "") else str(value)
        out.append(FormField(name, info.title or name, kind, info.is_required(), options, values.get(name, default)))
    return out


def _kind(annotation: Any, metadata: list[Any]) -> tuple[str, list[tuple[str, str]]]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "select", [(str(a), CHOICE_LABELS.get(str(a), str(a))) for a in args]
    if origin is list:
        return ("commitments" if args and args[0] is CommitmentIn else "list"), []
    if annotation is date:
        return "date", []
    if annotation is bool:
        return "checkbox", []
    if annotation is int:
        return "number", []
    long = any(getattr(m, "max_length", 0) and m.max_length > 200 for m in metadata)
    return ("textarea" if long else "text"), []


def parse_form(model: type[BaseModel], form: dict[str, str]) -> dict[str, Any]:
    """The payload a form gives, ready for the action's own validation (which says what is wrong)."""
    data: dict[str, Any] = {}
    for f in form_fields(model):
        raw = (form.get(f.name) or "").strip()
        if f.kind == "checkbox":
            data[f.name] = raw in ("on", "true", "1")
        elif f.kind == "list":
            data[f.name] = [x.strip() for x in re.split(r"[、,，\n]", raw) if x.strip()]
        elif f.kind == "commitments":
            data[f.name] = [_commitment(line) for line in raw.splitlines() if line.strip()]
        elif raw or f.required:
            data[f.name] = raw
    return data


def _commitment(line: str) -> dict[str, str]:
    text, at, day = line.rpartition("@")  # "@2027-03-30" alone: an empty content, said as such
    return {"text": text.strip(), "promised_date": day.strip()} if at else {"text": line.strip(), "promised_date": ""}
