"""Keep a generated module correct whatever its methods, events and fields are named.

Inside a class body a name means the class's own member once the class defines it: a server
with a method ``list`` cannot annotate another method ``-> list[str]`` (mypy: ``Function
"...list" is not valid as a type``), a client with a method ``rt`` could not use ``@rt.remote``,
a dataclass field ``date: date`` names itself. So after rendering, every name that a class body
evaluates (decorators, annotations, defaults, class-level values) and that the same class
defines is replaced by a private alias bound at module level, ``_rpcgen_<name>``:

- a name the module imports: the same import again, as ``_rpcgen_<name>``;
- a builtin: ``from builtins import <name> as _rpcgen_<name>``;
- a class of the module: ``_rpcgen_<name> = <name>`` right after that class (before any class
  that needs it at run time: enums named by defaults come first in the module).

A module without such a clash comes out unchanged. IDL names may not start with ``_rpcgen_``
(``services._check_python_name``), so no member can shadow an alias.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator

__all__ = ["PREFIX", "unshadow"]

PREFIX = "_rpcgen_"


def unshadow(source: str) -> str:
    """``source`` with every shadowed name in a class body replaced by its alias."""
    tree = ast.parse(source)
    imports = _imports(tree)
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    spans: list[tuple[int, int, int, str]] = []  # (line, byte start, byte end, name)
    for cls in classes.values():
        members = _members(cls)
        for expr in _evaluated(cls):
            for node in ast.walk(expr):
                if isinstance(node, ast.Name) and node.id in members:
                    end = node.end_col_offset
                    assert node.end_lineno == node.lineno and end is not None
                    spans.append((node.lineno, node.col_offset, end, node.id))
    if not spans:
        return source
    lines = _lines(source)
    for lineno, start, end, name in sorted(spans, reverse=True):
        raw = lines[lineno - 1].encode()
        lines[lineno - 1] = (raw[:start] + (PREFIX + name).encode() + raw[end:]).decode()
    inserts: dict[int, list[str]] = {}  # after line N (1-based): these lines
    aliased: list[str] = []
    for name in sorted({span[3] for span in spans}):
        if name in imports:
            aliased.append(imports[name])
        elif name in classes:
            after = classes[name].end_lineno
            assert after is not None
            line = f"\n{PREFIX}{name} = {name}  # for class bodies with a member named {name}\n"
            inserts.setdefault(after, []).append(line)
        elif hasattr(builtins, name):
            aliased.append(f"from builtins import {name} as {PREFIX}{name}\n")
        else:  # a template change that names something new: fail the build, not the user
            raise AssertionError(f"generated code uses {name!r} but neither imports nor defines it")
    if aliased:
        last_import = max(
            node.end_lineno or node.lineno
            for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom))
        )
        note = "\n# Aliases for names a class below also uses for a member (codegen/unshadow).\n"
        inserts.setdefault(last_import, []).insert(0, note + "".join(aliased))
    for after in sorted(inserts, reverse=True):
        lines[after:after] = inserts[after]
    return _without_unused_imports("".join(lines))


def _without_unused_imports(source: str) -> str:
    """Drop the imported names nothing uses any more (every use was aliased)."""
    tree = ast.parse(source)
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    lines = _lines(source)
    for node in reversed(tree.body):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.end_lineno is None:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        kept = [a for a in node.names if _bound(a, node) in used]
        if len(kept) == len(node.names):
            continue
        text = ""
        if kept:
            names = ", ".join(a.name if not a.asname else f"{a.name} as {a.asname}" for a in kept)
            head = f"from {node.module} import" if isinstance(node, ast.ImportFrom) else "import"
            text = f"{head} {names}\n"
        lines[node.lineno - 1 : node.end_lineno] = [text]
    return "".join(lines)


def _lines(source: str) -> list[str]:
    """``source``'s lines as ``ast`` numbers them: split at ``\n`` only (``str.splitlines``
    also splits at form feeds and other separators a docstring may hold)."""
    pieces = source.split("\n")
    return [piece + "\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])


def _bound(alias: ast.alias, node: ast.Import | ast.ImportFrom) -> str:
    if alias.asname:
        return alias.asname
    return alias.name.partition(".")[0] if isinstance(node, ast.Import) else alias.name


def _imports(tree: ast.Module) -> dict[str, str]:
    """Each name a module-level import binds -> the same import under its alias."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.partition(".")[0]
                module = alias.name if alias.asname else bound
                found[bound] = f"import {module} as {PREFIX}{bound}\n"
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                bound = alias.asname or alias.name
                found[bound] = f"from {node.module} import {alias.name} as {PREFIX}{bound}\n"
    return found


def _members(cls: ast.ClassDef) -> set[str]:
    """The names a class body binds."""
    names: set[str] = set()
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _evaluated(cls: ast.ClassDef) -> Iterator[ast.expr]:
    """What a class body evaluates in the class's scope (at run time or for type checkers)."""
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from node.decorator_list
            args = node.args
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            yield from (a.annotation for a in every if a is not None and a.annotation)
            yield from args.defaults
            yield from (d for d in args.kw_defaults if d is not None)
            if node.returns is not None:
                yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation
            if node.value is not None:
                yield node.value
        elif isinstance(node, ast.Assign):
            yield node.value
