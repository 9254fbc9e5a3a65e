"""The whole pipeline: IDL folder in, ``{relative path: text}`` (or every problem) out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rpcgen.codegen.errors import IdlError
from rpcgen.codegen.load import load
from rpcgen.codegen.render import render

__all__ = ["BuildResult", "build"]


@dataclass(frozen=True)
class BuildResult:
    """The rendered files, or (when ``errors`` is not empty) nothing to write."""

    files: dict[str, str]
    errors: tuple[IdlError, ...]


def build(idl_dir: Path) -> BuildResult:
    loaded = load(idl_dir)
    if loaded.errors:
        return BuildResult({}, loaded.errors)
    return BuildResult(render(loaded.modules, idl_dir.resolve().name), ())
