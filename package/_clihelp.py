"""Plain ``--help`` screens for the ``rpcgen`` command, whatever typer renders by default.

Recent typer versions show a flag's type (``--help <bool>``), every argument's Python type
(``<list[str]>``), a required argument in the usage line as ``{idl_dir}``, and keep the
single line breaks of a docstring's later paragraphs. ``TidyGroup``, the ``rpcgen`` app's
class, makes the help read as a command line's does: ``rpcgen build [OPTIONS] IDL_DIR``, an
option's value as its metavar (``--out DIR``) and nothing after a flag, paragraphs re-flowed.

typer builds its parameter objects itself, with no way to choose their class, so the group
re-classes each one to a subclass that only overrides how it is displayed; parsing is
untouched. Anything it does not recognise is left as typer made it. ``tests/cli/test_help.py``
checks every command's help.
"""

from __future__ import annotations

from typing import Any

from typer import core

__all__ = ["TidyGroup"]

# typer's type labels (what its ``display_type`` puts in <>) and what a command line says.
_LABELS = {"str": "TEXT", "int": "INTEGER", "int range": "INTEGER", "float range": "FLOAT"}


class _Argument(core.TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None  # the argument's name (its metavar) says it

    def _usage_display_name(self) -> str:
        name = self.metavar or self.name or "ARG"
        if self.nargs != 1:
            name += "..."
        return name if self.required else f"[{name}]"


class _Option(core.TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar is not None:
            return self.metavar
        label = str(super().display_type_rich(ctx)).strip("<>").replace("...", "")
        return _LABELS.get(label, label.upper())


def _reflow(text: str | None) -> str | None:
    """Join the lines of each paragraph; paragraphs stay apart (typer joins the first only)."""
    if text is None:
        return None
    paragraphs = text.strip().split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _tidy_param(param: object) -> None:
    if type(param) is core.TyperArgument:
        param.__class__ = _Argument
        if param.metavar is None and param.name:
            param.metavar = param.name.upper()
    elif type(param) is core.TyperOption:
        param.__class__ = _Option


class _Command(core.TyperCommand):
    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        _tidy_param(option)
        return option


def _tidy_command(command: object) -> None:
    if type(command) is core.TyperCommand:
        command.__class__ = _Command
    if isinstance(command, core.TyperCommand | core.TyperGroup):
        command.help = _reflow(command.help)
        for param in command.params:
            _tidy_param(param)


class TidyGroup(core.TyperGroup):
    """The ``rpcgen`` group: its commands', and its own, help made plain (module docstring)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _tidy_command(self)
        for command in self.commands.values():
            _tidy_command(command)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        _tidy_param(option)
        return option
