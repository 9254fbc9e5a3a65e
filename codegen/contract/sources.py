"""Where ``rpcgen diff`` reads an IDL from: a folder, or a git revision of a folder."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rpcgen.codegen.errors import IdlError
from rpcgen.codegen.load import load
from rpcgen.codegen.model import ModuleSpec

__all__ = ["SourceError", "load_folder", "revision_folder"]


class SourceError(Exception):
    """An IDL that cannot be read; the message says what to do."""


def load_folder(folder: Path) -> tuple[ModuleSpec, ...]:
    """The model of ``folder``; raises ``SourceError`` listing every IDL problem."""
    result = load(folder)
    if result.errors:
        raise SourceError("\n".join(str(e) for e in result.errors) + _count(result.errors, folder))
    return result.modules


def _count(errors: tuple[IdlError, ...], folder: Path) -> str:
    return f"\nrpcgen: {len(errors)} problem{'s' * (len(errors) != 1)} in {folder}"


@contextmanager
def revision_folder(revision: str, folder: Path) -> Iterator[Path]:
    """``folder`` as it is in the git ``revision``, extracted into a temporary folder.

    The copy keeps the folder's name, so that the model's file names match the other side's.
    """
    folder = folder.resolve()
    try:
        top = _git(folder, "rev-parse", "--show-toplevel").decode().strip()
    except SourceError:
        raise SourceError(f"{folder} is not in a git work tree; give two folders") from None
    rel = folder.relative_to(Path(top).resolve()).as_posix()
    archive = _git(Path(top), "archive", "--format=tar", f"{revision}:{rel}")
    with tempfile.TemporaryDirectory(prefix="rpcgen-diff-") as tmp:
        target = Path(tmp) / folder.name
        target.mkdir()
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
        yield target


def _git(cwd: Path, *args: str) -> bytes:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        reason = detail[-1] if detail else f"exit {proc.returncode}"
        raise SourceError(f"git {' '.join(args)}: {reason}")
    return proc.stdout
