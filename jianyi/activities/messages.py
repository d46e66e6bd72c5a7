"""Chinese message templates, one editable place for every kind of notice (addressed to the unit).

The templates live in ``jianyi/templates/messages.toml``; a deployment may override some or all
of them with its own file (setting ``templates_file``). Each kind has a subject, what happened
and what to do next; its layout adds the rest. The ``case`` layout (one suggestion) repeats the
number, title, deadline with its explanation and the link; the ``digest`` layout (the
scheduler's monthly, ledger and daily digests, the admin notice) lists many items in one letter.

``render(kind, recipient, context)`` is the one API. ``TEMPLATES`` keeps the built-in
``(subject, what, next)`` of every kind for readers that only need labels.
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from jianyi.models.contacts import CHANNEL_LABELS

LAYOUT_FIELDS = ("subject", "body")
KIND_FIELDS = ("subject", "what", "next", "items", "layout")


class TemplateError(ValueError):
    """A template file that cannot be used; the message is for people (Chinese)."""


@dataclass(frozen=True)
class Layout:
    subject: str
    body: str


@dataclass(frozen=True)
class Kind:
    subject: str
    what: str
    next: str
    layout: str = "case"
    items: str = ""  # a template for ``items`` when the context brings none (admin_notice)


@dataclass(frozen=True)
class Templates:
    layouts: dict[str, Layout]
    kinds: dict[str, Kind]
    source: str = ""


def _check_format(text: str, where: str) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise TemplateError(f"{where} 的花括号不成对（字面的花括号请写 {{{{ 和 }}}}）：{exc}") from None
    for name in fields:
        if not name.isidentifier():
            raise TemplateError(f"{where} 中的「{{{name}}}」不是可用的名称（只能写 {{名称}}）")


def _parse(data: dict[str, Any], base: Templates | None, source: str) -> Templates:
    unknown = set(data) - {"layouts", "kinds"}
    if unknown:
        raise TemplateError(f"{source}：不认识的段「{'、'.join(sorted(unknown))}」，只能有 [layouts.*] 和 [kinds.*]")
    layouts = dict(base.layouts) if base else {}
    kinds = dict(base.kinds) if base else {}
    for name, spec in data.get("layouts", {}).items():
        where = f"{source} 的 [layouts.{name}]"
        if not isinstance(spec, dict):
            raise TemplateError(f"{where} 应为一段表")
        old = layouts.get(name)
        merged = {f: spec.get(f, getattr(old, f, None) if old else None) for f in LAYOUT_FIELDS}
        for f in LAYOUT_FIELDS:
            value = merged[f]
            if not isinstance(value, str) or not value:
                raise TemplateError(f"{where} 缺少 {f}（文字）")
            _check_format(value, f"{where} 的 {f}")
        extra = set(spec) - set(LAYOUT_FIELDS)
        if extra:
            raise TemplateError(f"{where} 中有不认识的字段「{'、'.join(sorted(extra))}」")
        layouts[name] = Layout(**merged)
    for name, spec in data.get("kinds", {}).items():
        where = f"{source} 的 [kinds.{name}]"
        if not isinstance(spec, dict):
            raise TemplateError(f"{where} 应为一段表")
        extra = set(spec) - set(KIND_FIELDS)
        if extra:
            raise TemplateError(f"{where} 中有不认识的字段「{'、'.join(sorted(extra))}」")
        old_kind = kinds.get(name)
        merged = {f: spec.get(f, getattr(old_kind, f) if old_kind else None) for f in KIND_FIELDS}
        merged["layout"] = merged["layout"] or "case"
        merged["items"] = merged["items"] or ""
        for f in KIND_FIELDS:
            value = merged[f]
            if not isinstance(value, str) or (f in ("subject", "what", "next") and not value):
                raise TemplateError(f"{where} 缺少 {f}（文字）")
            _check_format(value, f"{where} 的 {f}")
        kinds[name] = Kind(**merged)
    for name, kind in kinds.items():
        if kind.layout not in layouts:
            raise TemplateError(f"{source} 的 [kinds.{name}] 用了不存在的版式「{kind.layout}」（可选：{'、'.join(layouts)}）")
    return Templates(layouts=layouts, kinds=kinds, source=source)


def _builtin() -> Templates:
    text = resources.files("jianyi").joinpath("templates/messages.toml").read_text(encoding="utf-8")
    return _parse(tomllib.loads(text), None, "jianyi/templates/messages.toml")


DEFAULT = _builtin()
TEMPLATES: dict[str, tuple[str, str, str]] = {k: (v.subject, v.what, v.next) for k, v in DEFAULT.kinds.items()}
_cache: dict[str, tuple[float, Templates]] = {}


def load_templates(override: str | Path | None = None) -> Templates:
    """The built-in templates, with ``override`` (a TOML file of the same shape) laid over them.

    The file is read again when it changes, so an edit takes effect without a restart.
    """
    if not override:
        return DEFAULT
    path = Path(override)
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise TemplateError(f"找不到模板文件 {path}：{exc.strerror or exc}") from None
    cached = _cache.get(str(path))
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"无法读取模板文件 {path}：{exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"模板文件 {path} 不是有效的 TOML：{exc}") from None
    templates = _parse(data, DEFAULT, str(path))
    _cache[str(path)] = (mtime, templates)
    return templates


def templates_for(settings: Any) -> Templates:
    """The templates a deployment uses (``settings.templates_file`` over the built-in ones)."""
    return load_templates(getattr(settings, "templates_file", "") or None)


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "—"


def render(kind: str, recipient: str, context: dict[str, Any], templates: Templates | None = None) -> tuple[str, str]:
    """Subject and body of a ``kind`` message to ``recipient`` (a unit, an office or a deputy).

    Without ``templates``, the deployment's (from the environment's settings) are used.
    """
    if templates is None:
        from jianyi.settings import get_settings

        templates = templates_for(get_settings())
    try:
        spec = templates.kinds[kind]
    except KeyError:
        raise TemplateError(f"没有「{kind}」这种通知的模板") from None
    layout = templates.layouts[spec.layout]
    ctx = _Blank(context)
    ctx.setdefault("recipient", recipient)
    ctx["addressee"] = recipient
    if "channel" in context:
        ctx["channel_label"] = CHANNEL_LABELS.get(str(context["channel"]), str(context["channel"]))
    deadline = context.get("deadline")
    ctx["deadline_line"] = (
        f"办理期限：{deadline}\n期限说明：{context.get('explanation', '')}\n" if deadline else ""
    )
    if spec.items and not context.get("items"):
        ctx["items"] = spec.items.format_map(ctx)
    elif "items" in context and not str(context["items"]).strip():
        ctx["items"] = "（无）"
    ctx["headline"] = spec.subject.format_map(ctx)
    ctx["what"] = spec.what.format_map(ctx)
    ctx["next"] = spec.next.format_map(ctx)
    return layout.subject.format_map(ctx), layout.body.format_map(ctx)
