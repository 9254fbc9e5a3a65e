"""docs/design.md's layer diagram and hop lists name code that exists.

Every `` `file.py:Qualified.name` `` in its "Layers and the call path" section must be a
function or method defined in that file of the runtime, and every module the diagram names must
exist, so a rename that forgets the page fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "runtime"
HOP = re.compile(r"`([\w/]+\.py):([\w.]+)`")


def _section() -> str:
    text = (ROOT / "docs/design.md").read_text()
    start = text.index("### Layers and the call path")
    return text[start : text.index("\n### ", start + 1)]


def _qualnames(path: Path) -> set[str]:
    names: set[str] = set()

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(prefix + child.name)
                visit(child, f"{prefix}{child.name}.")

    visit(ast.parse(path.read_text()), "")
    return names


def test_every_hop_names_a_function_that_exists() -> None:
    hops = HOP.findall(_section())
    assert len(hops) > 40  # the two hop lists, at least
    missing = [
        f"{file}:{name}"
        for file, name in hops
        if not (RUNTIME / file).is_file() or name not in _qualnames(RUNTIME / file)
    ]
    assert missing == []


def test_every_module_of_the_diagram_exists() -> None:
    diagram = _section().split("```text", 1)[1].split("```", 1)[0]
    missing = []
    for name in re.findall(r"([\w]+\.py)\b", diagram):
        if not any((RUNTIME / folder / name).is_file() for folder in ("", "_amqp", "_memory")):
            missing.append(name)
    missing += [p for p in re.findall(r"(_\w+)/", diagram) if not (RUNTIME / p).is_dir()]
    assert len(re.findall(r"\.py\b", diagram)) > 25
    assert missing == []
