"""Python source fragments exactly as ``ruff format`` writes them.

The generator must not need ruff at build time (users install rpcgen without dev extras), yet its
output must be formatted. So the few constructs whose width varies are laid out here with ruff's
rules: a bracketed group stays on one line if it fits, else its contents go on one indented line,
else one item per line with a trailing comma (each item laid out the same way, recursively).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

__all__ = [
    "LINE_LENGTH",
    "Group",
    "assign",
    "docstring",
    "fmt",
    "group",
    "import_lines",
    "isort_key",
    "literal",
    "py_str",
    "relative_import_lines",
]

LINE_LENGTH = 100


def py_str(value: str) -> str:
    """A string literal quoted as ruff normalises it: double quotes, unless that adds escapes."""
    body = repr(value)[1:-1]
    # repr() escapes only its own quote; undo that so the choice below starts from plain text.
    body = body.replace("\\'", "'") if repr(value)[0] == "'" else body.replace('\\"', '"')
    quote = "'" if value.count('"') > value.count("'") else '"'
    return quote + body.replace(quote, "\\" + quote) + quote


def literal(value: object) -> str | None:
    """The source of a literal default or ``Literal[...]`` value, or None if it is not one."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        return _float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return py_str(value)
    return None


def _float(value: float) -> str:
    text = repr(float(value))
    # ruff writes exponents without "+": 1e+100 -> 1e100.
    return text.replace("e+", "e")


def docstring(doc: str, indent: int) -> str:
    """A docstring body (already ``inspect.cleandoc``-ed) as ruff formats it, without the indent
    of its first line."""
    text = doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = text.split("\n")
    if len(lines) == 1:
        # A quote right before the closing quotes would end the string early.
        return f'"""{text} """' if text.endswith('"') else f'"""{text}"""'
    pad = " " * indent
    rest = [f"{pad}{line}" if line else "" for line in lines[1:]]
    return "\n".join([f'"""{lines[0]}', *rest, f'{pad}"""'])


@dataclass(frozen=True)
class Group:
    """``head`` + comma-separated ``items`` + ``tail``; ``explode`` keeps one item per line."""

    head: str
    items: tuple[str | Group, ...]
    tail: str
    explode: bool = False
    is_tuple: bool = False  # a one-item tuple keeps its comma (not a "magic" one for ruff)
    comma: bool = True  # False for a subscript or parenthesised expression: no trailing comma

    def flat(self) -> str:
        return self.head + self.inner() + self.tail

    def inner(self) -> str:
        parts = [_flat(item) for item in self.items]
        return ", ".join(parts) + ("," if self.is_tuple and len(parts) == 1 else "")


def group(
    head: str,
    items: Sequence[str | Group],
    tail: str,
    explode: bool = False,
    is_tuple: bool = False,
    comma: bool = True,
) -> Group:
    return Group(head, tuple(items), tail, explode, is_tuple, comma)


def _flat(item: str | Group) -> str:
    return item if isinstance(item, str) else item.flat()


def fmt(item: str | Group, indent: int = 0, suffix: str = "") -> str:
    """Lay ``item`` out starting at column ``indent``; the first line carries no indentation."""
    return "\n".join(_layout(item, indent, suffix))[indent:]


def assign(target: str, value: Group, indent: int = 0, annotation: Group | None = None) -> str:
    """``target = value`` (or ``target: annotation = value``) laid out like ``fmt``.

    When even ``target = head(`` is too long, ruff first splits the annotation's brackets, and
    failing that wraps the value in parentheses.
    """
    lhs = target if annotation is None else f"{target}: {annotation.flat()}"
    if _fits(" " * indent + f"{lhs} = {value.head}"):
        return fmt(replace(value, head=f"{lhs} = {value.head}"), indent)
    if annotation is None:
        return fmt(Group(f"{lhs} = (", (value,), ")", comma=False), indent)
    split = replace(annotation, head=f"{target}: {annotation.head}", comma=False)
    lines = _layout(split, indent, f" = {value.head}") + _body(value, indent, "")
    return "\n".join(lines)[indent:]


def _layout(item: str | Group, indent: int, suffix: str) -> list[str]:
    pad = " " * indent
    if isinstance(item, str):
        line = pad + item + suffix
        # ruff format cannot split a name or a "key": name pair; silence the length check there.
        return [line if _fits(line) else line + "  # noqa: E501"]
    if not item.explode and (not item.items or _fits(pad + item.flat() + suffix)):
        return [pad + item.flat() + suffix]
    return [pad + item.head, *_body(item, indent, suffix)]


def _body(item: Group, indent: int, suffix: str) -> list[str]:
    """The lines after ``item``'s head: its items on one line if they fit, else one per line."""
    pad = " " * indent
    if not item.explode and _fits(pad + "    " + item.inner()):
        return [pad + "    " + item.inner(), pad + item.tail + suffix]
    lines: list[str] = []
    for sub in item.items:
        lines += _layout(sub, indent + 4, "," if item.comma else "")
    return [*lines, pad + item.tail + suffix]


def _fits(line: str) -> bool:
    return len(line) <= LINE_LENGTH


def import_lines(imports: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """One section of imports in ruff's isort order. ``(module, "")`` is ``import module``.

    ``import m`` lines come first, then ``from m import a, b`` by module, with names ordered
    constants, classes, then the rest.
    """
    pairs = set(imports)
    lines = [f"import {module}" for module, name in sorted(pairs) if not name]
    by_module: dict[str, set[str]] = {}
    for module, name in pairs:
        if name:
            by_module.setdefault(module, set()).add(name)
    for module in sorted(by_module):
        ordered = sorted(by_module[module], key=isort_key)
        lines.append(f"from {module} import {', '.join(ordered)}")
    return tuple(lines)


def relative_import_lines(importer: str, names: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """``from .common import Money`` lines for module ``importer`` (dotted, in one package tree)
    naming ``(name, module)`` pairs of the same tree, in ruff's isort order (furthest first)."""
    here = importer.split(".")[:-1]
    by_module: dict[str, set[str]] = {}
    for name, module in names:
        target = module.split(".")
        common = 0
        while common < min(len(here), len(target) - 1) and here[common] == target[common]:
            common += 1
        relative = "." * (len(here) - common + 1) + ".".join(target[common:])
        by_module.setdefault(relative, set()).add(name)
    order = sorted(by_module, key=lambda m: (-(len(m) - len(m.lstrip("."))), m))
    return tuple(f"from {m} import {', '.join(sorted(by_module[m], key=isort_key))}" for m in order)


def isort_key(name: str) -> tuple[int, str]:
    """isort's order-by-type (also RUF022's ``__all__`` order): CONSTANTS, Classes, the rest."""
    if len(name) > 1 and name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)
