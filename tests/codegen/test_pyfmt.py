"""The layout helpers write exactly what ``ruff format`` would: checked by running ruff on them."""

from __future__ import annotations

import inspect
import subprocess

import pytest
from cgtools import REPO, tool
from rpcgen.codegen.pyfmt import docstring, fmt, group, import_lines, literal, py_str


def ruff_format(source: str) -> str:
    done = subprocess.run(
        [tool("ruff"), "format", "--stdin-filename", "generated/x.py", "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    return done.stdout


def signature(name: str, n: int, width: int, tail: str) -> str:
    params = ["self", *(f"p{i}_{'x' * width}: int" for i in range(n))]
    return "    " + fmt(group(f"def {name}(", params, tail), 4) + "\n"


def call(n: int, width: int, kw: int) -> str:
    args = group("(", [f"a{i}_{'y' * width}" for i in range(n)], ")", is_tuple=True)
    kwargs = group("{", [f'"k{i}": k{i}' for i in range(kw)], "}")
    return "        " + fmt(group("return self._call(", ["_const", args, kwargs], ")"), 8) + "\n"


def test_layouts_match_ruff() -> None:
    methods = []
    for n in range(8):
        for width in (1, 6, 14, 40):
            tail = ") -> rt.RpcFuture[dict[str, int]]:"
            methods.append(signature("m", n, width, tail) + "        pass\n")
            methods.append(signature("c", 0, 0, ") -> None:") + call(n, width, n // 2))
            # A body of "..." stays on the line of the def.
            methods.append(signature("s", n, width, ") -> int: ..."))
    source = "class C:\n" + "\n".join(methods)
    method = group(
        "X: rt.Method[int] = rt.Method(",
        ['"s"', group("p=(", ["a"], ")", is_tuple=True)],
        ")",
        explode=True,
    )
    source += "\n\n" + fmt(method) + "\n"
    assert ruff_format(source) == source


STRINGS = [
    "",
    "plain",
    "it's",
    'say "hi"',
    "both ' and \"",
    'two "" one \'',
    "back\\slash",
    "new\nline",
    "tab\t",
    "café ünï",
    "\x00\x7f",
    "'''",
    '"""',
]


def test_string_literals_match_ruff() -> None:
    source = "".join(f"x{i} = {py_str(s)}\n" for i, s in enumerate(STRINGS))
    assert ruff_format(source) == source
    for i, s in enumerate(STRINGS):
        namespace: dict[str, object] = {}
        exec(f"x = {py_str(s)}", namespace)
        assert namespace["x"] == s, i


DOCS = [
    "One line.",
    'Ends with a "quote"',
    'Has """ inside and a \\ backslash.',
    "Summary.\n\nBody line one.\n    indented line\n\nLast.",
    'Ends with quote\n\nthen "x"',
]


@pytest.mark.parametrize("doc", DOCS)
def test_docstrings_match_ruff(doc: str) -> None:
    source = f"def f() -> None:\n    {docstring(doc, 4)}\n"
    assert ruff_format(source) == source
    namespace: dict[str, object] = {}
    exec(source, namespace)
    assert (inspect.getdoc(namespace["f"]) or "").rstrip() == doc


def test_literals() -> None:
    assert [literal(v) for v in (None, True, 3, -2, 1.5, 1e100, "a")] == [
        "None",
        "True",
        "3",
        "-2",
        "1.5",
        "1e100",
        '"a"',
    ]
    assert literal(float("inf")) is None
    assert literal([1]) is None


def test_import_lines_follow_isort() -> None:
    pairs = [
        ("typing", "Final"),
        ("abc", ""),
        ("uuid", "UUID"),
        ("typing", "ClassVar"),
        ("datetime", "time"),
        ("datetime", "date"),
        ("enum", ""),
        ("collections.abc", "Mapping"),
    ]
    block = "\n".join(import_lines(pairs)) + "\n"
    assert block == (
        "import abc\nimport enum\nfrom collections.abc import Mapping\n"
        "from datetime import date, time\nfrom typing import ClassVar, Final\n"
        "from uuid import UUID\n"
    )
