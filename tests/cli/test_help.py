"""What a user reads first: ``rpcgen --help``, each command's ``--help``, ``rpcgen --version``."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest
import rpcgen
import typer.main
from rpcgen.cli import app

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def rpcgen_help(*args: str) -> str:
    """``python -m rpcgen ARGS`` as a user runs it, on an 80-column terminal."""
    done = subprocess.run(
        [sys.executable, "-m", "rpcgen", *args],
        capture_output=True,
        text=True,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin", "TERM": "dumb"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_command_is_listed() -> None:
    assert {"build", "serve", "call", "diff", "export", "scaffold", "broker", "init"} <= set(
        COMMANDS
    )
    text = rpcgen_help("--help")
    for name in COMMANDS:
        assert re.search(rf"^\W*{name}\s+\w", text, re.MULTILINE), f"{name} not listed"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_shows_no_placeholders(command: str | None) -> None:
    text = rpcgen_help(*([command] if command else []), "--help")
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert re.search(r"\{\w", usage) is None, usage  # no {idl_dir}
    # Each argument by its upper-case name, as usage lines say it (optional ones in [...]).
    words = usage.split("[OPTIONS]", 1)[1].split()
    for word in words:
        assert re.fullmatch(r"\[?[A-Z][A-Z0-9_.:]*\]?(\.\.\.\]?)?|COMMAND|\[ARGS\]\.\.\.", word), (
            f"{usage!r}: {word!r}"
        )
    for placeholder in ("<bool>", "<str>", "<int", "<float", "<dir>", "<path>", "<list"):
        assert placeholder not in text, f"{placeholder} in:\n{text}"
    assert "--help  " in text or "--help\n" in text or re.search(r"--help\s+Show", text)


def test_help_reflows_paragraphs() -> None:
    """A docstring's later paragraphs are re-flowed, not cut where the source line ended."""
    text = rpcgen_help("serve", "--help")
    lines = [line.strip() for line in text.splitlines()]
    assert "an instance" not in lines  # the source's line break, kept by typer, falls there


def test_version_is_the_one_in_the_package() -> None:
    assert rpcgen_help("--version").strip() == f"rpcgen {rpcgen.__version__}"
    assert importlib.metadata.version("rpcgen") == rpcgen.__version__
    project = (ROOT / "pyproject.toml").read_text().split("[project]")[1].split("\n[")[0]
    assert re.search(r"^version\s*=", project, re.MULTILINE) is None  # no second copy
    assert re.search(r'^dynamic = \["version"\]', project, re.MULTILINE)


def test_changelog_has_the_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {rpcgen.__version__}" in text
