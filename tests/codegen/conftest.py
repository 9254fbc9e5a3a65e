"""Helpers for the generator's tests: tiny IDL folders written into ``tmp_path``."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from rpcgen.codegen.load import LoadResult, load

WriteIdl = Callable[..., Path]


@pytest.fixture
def write_idl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteIdl:
    """``write_idl(name=source, ...)`` writes ``idl/<name>.py`` files and returns ``Path("idl")``.

    The test runs in ``tmp_path``, so that messages name files as users see them: ``idl/x.py``.
    """
    monkeypatch.chdir(tmp_path)
    idl = Path("idl")
    idl.mkdir(exist_ok=True)

    def write(**sources: str) -> Path:
        for name, source in sources.items():
            (idl / f"{name}.py").write_text(textwrap.dedent(source).lstrip("\n"), "utf-8")
        return idl

    return write


@pytest.fixture
def problems(write_idl: WriteIdl) -> Callable[..., list[str]]:
    """``problems(name=source)``: the messages ``load`` reports for those IDL files."""

    def run(**sources: str) -> list[str]:
        result = load(write_idl(**sources))
        return [str(error) for error in result.errors]

    return run


@pytest.fixture
def loaded(write_idl: WriteIdl) -> Callable[..., LoadResult]:
    """``loaded(name=source)``: the load result, asserting it has no problems."""

    def run(**sources: str) -> LoadResult:
        result = load(write_idl(**sources))
        assert [str(e) for e in result.errors] == []
        return result

    return run
