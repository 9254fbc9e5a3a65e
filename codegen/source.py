"""One IDL module being read: where its names are in the file, and the problems found so far.

Lines and docstrings come from one ``ast`` parse of the file rather than from ``inspect``: it gives
the ``def``/``class`` line even under decorators, and tells a written docstring from the one
``dataclasses`` makes up.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from types import FunctionType, ModuleType

from rpcgen.codegen.errors import IdlError
from rpcgen.codegen.model import Import
from rpcgen.codegen.types import Scope

__all__ = ["Source", "SourceIndex"]


@dataclass(frozen=True)
class SourceIndex:
    """Lines and docstrings of top-level classes and their members, keyed by (class, member)."""

    lines: dict[tuple[str, str], int]
    docs: dict[tuple[str, str], str]

    @classmethod
    def parse(cls, text: str) -> SourceIndex:
        tree = ast.parse(text)
        index = cls({("", ""): 1}, {})
        if (doc := ast.get_docstring(tree)) is not None:
            index.docs[("", "")] = doc
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                index._add((node.name, ""), node)
                for member in node.body:
                    index._add_member(node.name, member)
        return index

    def _add_member(self, owner: str, node: ast.stmt) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._add((owner, node.name), node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            self.lines.setdefault((owner, node.target.id), node.lineno)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.lines.setdefault((owner, target.id), node.lineno)

    def _add(
        self, key: tuple[str, str], node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
    ) -> None:
        self.lines[key] = node.lineno
        if (doc := ast.get_docstring(node)) is not None:
            self.docs[key] = doc


@dataclass
class Source:
    """The module, its display path, what it defines, and the problems found in it."""

    module: ModuleType
    file: str  # as the user should see it: "idl/ledger.py"
    index: SourceIndex
    scope: Scope
    problems: list[IdlError] = field(default_factory=list)
    dotted: str = ""  # the module's dotted name in the IDL tree ("billing.invoice") if not the stem
    # What the generated module imports from other modules of the IDL tree, beyond the types its
    # annotations name (those travel in ``TypeRef.imports``): shared errors a method declares.
    shared: set[Import] = field(default_factory=set)

    @property
    def module_name(self) -> str:
        """The IDL module's name, which is also the generated module's: ``ledger``."""
        return self.dotted or Path(self.file).stem

    def line(self, owner: str, member: str = "") -> int:
        """The line of ``owner.member`` (falling back to ``owner``'s, then to line 1)."""
        lines = self.index.lines
        return lines.get((owner, member)) or lines.get((owner, "")) or 1

    def doc(self, owner: str, member: str = "") -> str | None:
        return self.index.docs.get((owner, member))

    def problem(self, owner: str, member: str, message: str, line: int | None = None) -> None:
        at = line if line is not None else self.line(owner, member)
        self.problems.append(IdlError(self.file, at, owner, member, message))

    def function_line(self, owner: str, member: str, func: FunctionType) -> int:
        """For a function the ``ast`` walk missed (made by a decorator, say), ask ``inspect``."""
        if (owner, member) in self.index.lines:
            return self.index.lines[(owner, member)]
        mangled = f"_{owner.lstrip('_')}__"  # ``__name`` in a class body is stored mangled
        if member.startswith(mangled) and (owner, member[len(mangled) - 2 :]) in self.index.lines:
            return self.index.lines[(owner, member[len(mangled) - 2 :])]
        try:
            return inspect.getsourcelines(func)[1]
        except (OSError, TypeError):
            return self.line(owner)
