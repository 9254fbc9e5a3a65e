"""Imports between IDL modules: rings Python cannot import, and the line importing a module."""

from __future__ import annotations

import ast
from pathlib import Path

from rpcgen.codegen.errors import IdlError
from rpcgen.codegen.model import ModuleSpec
from rpcgen.codegen.source import Source

__all__ = ["import_cycles", "import_line"]


def import_cycles(modules: list[ModuleSpec], sources: dict[str, Source]) -> list[IdlError]:
    """Generated modules that would import each other (Python cannot import such a ring)."""
    edges = {m.name: sorted({home for _, home in m.shared}) for m in modules}
    errors: list[IdlError] = []
    reported: set[frozenset[str]] = set()
    for start in sorted(edges):
        ring = _ring(start, edges)
        if ring is None or frozenset(ring) in reported:
            continue
        reported.add(frozenset(ring))
        src = sources[start]
        shown = " -> ".join([*ring, ring[0]])
        errors.append(
            IdlError(
                src.file,
                import_line(src, ring[1] if len(ring) > 1 else ring[0]),
                "",
                "",
                f"IDL modules import each other's types ({shown}); move the shared types "
                "into a module that imports none of them",
            )
        )
    return errors


def _ring(start: str, edges: dict[str, list[str]]) -> list[str] | None:
    """The shortest path from ``start`` back to itself, as the modules on it."""
    paths = [[start]]
    seen = {start}
    while paths:
        path = paths.pop(0)
        for nxt in edges.get(path[-1], []):
            if nxt == start:
                return path
            if nxt not in seen:
                seen.add(nxt)
                paths.append([*path, nxt])
    return None


def import_line(src: Source, target: str) -> int:
    """The line of the statement in ``src``'s file that imports the tree module ``target``."""
    tree = ast.parse(Path(src.file).read_text("utf-8"))
    here = src.module_name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            names = {module, *(f"{module}.{a.name}".strip(".") for a in node.names)}
            if any(n == target or n.endswith(f".{target}") for n in names):
                return node.lineno
        elif isinstance(node, ast.Import) and any(
            a.name.endswith(f".{target}") for a in node.names
        ):
            return node.lineno
    return 1
