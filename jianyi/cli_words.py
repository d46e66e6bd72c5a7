"""click's own words in ``jianyi --help`` said in Chinese: typer vendors click with its usage line,
help option and panel titles in English. The panel titles are typer's settings for this; the usage
prefix and the help option's text are set by the command classes below."""

from __future__ import annotations

from typing import Any

import typer
import typer.rich_utils
from typer.core import TyperCommand, TyperGroup

typer.rich_utils.OPTIONS_PANEL_TITLE = "选项"
typer.rich_utils.ARGUMENTS_PANEL_TITLE = "参数"
typer.rich_utils.COMMANDS_PANEL_TITLE = "命令"
typer.rich_utils.ERRORS_PANEL_TITLE = "错误"
typer.rich_utils.DEFAULT_STRING = "[默认：{}]"
typer.rich_utils.REQUIRED_LONG_STRING = "[必填]"
typer.rich_utils.ENVVAR_STRING = "[环境变量：{}]"
typer.rich_utils.DEPRECATED_STRING = "（已弃用）"
HELP_TEXT = "显示本帮助并退出。"


class _Words:
    def format_usage(self, ctx: Any, formatter: Any) -> None:
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), prefix="用法：")  # type: ignore[attr-defined]

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.help = HELP_TEXT
        return option


class ChineseCommand(_Words, TyperCommand):
    pass


class ChineseGroup(_Words, TyperGroup):
    pass


class ChineseTyper(typer.Typer):
    """A typer.Typer whose groups and commands say click's words in Chinese."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cls=ChineseGroup, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", ChineseCommand)
        return super().command(*args, **kwargs)
