"""Every code sample of README.md and docs/*.md runs, so that the documentation cannot rot.

Each page's fenced ``python`` blocks run in order in one fresh module, so a later block uses
the names of an earlier one, as a reader would. Samples that need RabbitMQ read its URI from
``$RPCGEN_AMQP_URI``, as the runtime does when no URI is given (and as the pages say); the test
sets it to a vhost of the throwaway broker the pytest plugin starts. A block whose first line is
``# fragment: <reason>`` is shown for reading only: it is parsed, not run, and the reason must
be given. Shell blocks (``console``, ``bash``, ``sh``) are not run, but each ``rpcgen COMMAND``
in them must name a command the CLI has, with options that command takes.
"""

from __future__ import annotations

import ast
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
from rpcgen.cli import app

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
FRAGMENT = re.compile(r"#\s*fragment:\s*(\S.*)")
SHELL = {"console", "bash", "sh", "shell"}

# Blocks of pages this suite does not own, shown for reading, with why they are not run.
NOT_RUN = {
    ("docs/design.md", 1): "an abridged copy of generated/hello.py, which the golden tests check",
}


@dataclass(frozen=True)
class Block:
    page: str
    index: int  # 1-based among the page's python blocks
    line: int
    language: str
    code: str


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``; ``index`` counts python blocks only."""
    text = page.read_text(encoding="utf-8")
    name = page.relative_to(ROOT).as_posix()
    found, count = [], 0
    for match in FENCE.finditer(text):
        language = match.group(1)
        count += language == "python"
        line = text.count("\n", 0, match.start(2)) + 1
        found.append(Block(name, count, line, language, match.group(2)))
    return found


def python_blocks(page: Path) -> list[Block]:
    return [b for b in blocks(page) if b.language == "python"]


def is_fragment(block: Block) -> bool:
    first = block.code.lstrip().splitlines()[0] if block.code.strip() else ""
    return bool(FRAGMENT.fullmatch(first)) or (block.page, block.index) in NOT_RUN


def _needs_broker(page: Path) -> bool:
    return any("RPCGEN_AMQP_URI" in b.code and not is_fragment(b) for b in python_blocks(page))


def _params() -> list[object]:
    params: list[object] = []
    for page in PAGES:
        if not python_blocks(page):
            continue
        marks = [pytest.mark.broker] if _needs_broker(page) else []
        params.append(pytest.param(page, id=page.relative_to(ROOT).as_posix(), marks=marks))
    return params


@pytest.mark.parametrize("page", _params())
def test_page_samples_run(
    page: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if _needs_broker(page):
        monkeypatch.setenv("RPCGEN_AMQP_URI", request.getfixturevalue("amqp_uri"))
    else:
        monkeypatch.delenv("RPCGEN_AMQP_URI", raising=False)
    name = "docs_sample_" + re.sub(r"\W", "_", page.stem)
    module = types.ModuleType(name)  # a real module: dataclasses and the IDL loader look it up
    monkeypatch.setitem(sys.modules, name, module)
    for block in python_blocks(page):
        where = f"{block.page}:{block.line}"
        tree = compile(block.code, where, "exec", ast.PyCF_ONLY_AST)
        if is_fragment(block):
            continue
        try:
            exec(compile(tree, where, "exec"), module.__dict__)
        except Exception as exc:
            raise AssertionError(f"the sample at {where} failed: {exc!r}") from exc


def test_fragments_say_why_and_are_rare() -> None:
    fragments = [b for p in PAGES for b in python_blocks(p) if is_fragment(b)]
    total = sum(len(python_blocks(p)) for p in PAGES)
    for block in fragments:
        if (block.page, block.index) not in NOT_RUN:
            first = block.code.lstrip().splitlines()[0]
            reason = FRAGMENT.fullmatch(first)
            assert reason and len(reason.group(1)) > 10, f"{block.page}:{block.line}: no reason"
    assert len(fragments) * 10 <= total, f"{len(fragments)} of {total} samples are not run"


def test_every_page_is_checked() -> None:
    """README and every page of docs/ are read (a page renamed out of the glob is noticed)."""
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert {"README.md", "docs/getting-started.md", "docs/migration.md"} <= names
    assert sum(len(python_blocks(p)) for p in PAGES) >= 20


def _commands() -> dict[str, Any]:
    """The CLI's commands by name (typer's click group; typer may vendor its own click)."""
    return dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def _shell_rpcgen_lines() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for block in blocks(page):
            if block.language not in SHELL:
                continue
            for offset, text in enumerate(block.code.splitlines()):
                words = text.removeprefix("$ ").split("#")[0].split()
                if words[:1] == ["rpcgen"]:
                    found.append((f"{block.page}:{block.line + offset}", " ".join(words)))
    return found


def test_shell_samples_name_real_commands_and_options() -> None:
    commands = _commands()
    lines = _shell_rpcgen_lines()
    assert len(lines) >= 10
    for where, text in lines:
        words = text.split()
        command = commands.get(words[1])
        assert command is not None, f"{where}: rpcgen has no command {words[1]!r}"
        known = {opt for param in command.params for opt in param.opts}
        for word in words[2:]:
            if word.startswith("--"):
                option = word.split("=")[0]
                assert option in known, f"{where}: rpcgen {words[1]} has no option {option}"
