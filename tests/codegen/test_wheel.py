"""What a user gets from ``pip install .`` in a fresh virtualenv.

The wheel must hold one import package, ``rpcgen`` (no top-level ``codegen`` or ``runtime``), its
templates and ``py.typed``; its ``rpcgen`` command must build an IDL; and mypy, pointed at that
virtualenv, must resolve ``rpcgen`` and ``generated`` and type-check calls for real. This installs
for real (dependencies included, from the configured index): about 10 s here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cgtools import REPO, tool

SOURCES = ["pyproject.toml", "README.md", "LICENSE", "package", "codegen", "runtime", "templates"]
USER_CODE = """\
from generated.hello import HelloServiceClient


def call(client: HelloServiceClient) -> int:
    return client.compute(1, 2)
"""
BAD_CALL = "\n\ndef bad(client: HelloServiceClient) -> str:\n    return client.compute(1, 'x')\n"


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding ``pip install <copy of the repo>`` and nothing from the repo else."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.exists():
            shutil.copy(path, src / name)
    env = root / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", env, cwd=root).returncode == 0
    pip = (sys.executable, "-m", "pip", "--python", env / "bin" / "python")
    done = run(*pip, "install", "-q", src, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    return env


def site_packages(env: Path) -> Path:
    (found,) = (env / "lib").glob("python*/site-packages")
    return found


def test_wheel_installs_only_the_rpcgen_package(venv: Path) -> None:
    (dist,) = site_packages(venv).glob("rpcgen-*.dist-info")
    paths = [line.split(",")[0] for line in (dist / "RECORD").read_text().splitlines()]
    tops = {p.split("/")[0] for p in paths if not p.startswith("..")}
    assert tops == {"rpcgen", dist.name}
    assert {
        "rpcgen/py.typed",
        "rpcgen/templates/module.py.jinja",
        "rpcgen/templates/_macros.jinja",
        "rpcgen/codegen/load.py",
        "rpcgen/runtime/__init__.py",
    } <= set(paths)
    assert not (site_packages(venv) / "codegen").exists()
    assert not (site_packages(venv) / "runtime").exists()


def test_installed_rpcgen_builds_and_mypy_resolves_it(venv: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(REPO / "idl", project / "idl", ignore=shutil.ignore_patterns("__pycache__"))
    done = run(venv / "bin" / "rpcgen", "build", "idl", cwd=project)
    assert done.returncode == 0, done.stderr
    (project / "user.py").write_text(USER_CODE)

    python = venv / "bin" / "python"
    done = run(python, "-c", "import rpcgen, generated.ledger; print(rpcgen.__file__)", cwd=project)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(site_packages(venv))

    mypy = [tool("mypy"), "--strict", "--no-incremental", "--python-executable", python]
    done = run(*mypy, "user.py", "generated", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr

    # The types are real, not Any: a wrong call is caught ...
    (project / "user.py").write_text(USER_CODE + BAD_CALL)
    done = run(*mypy, "user.py", cwd=project)
    assert done.returncode == 1
    assert "[arg-type]" in done.stdout and "[return-value]" in done.stdout

    # ... and they come from the virtualenv: an empty one does not resolve rpcgen at all.
    bare = tmp_path / "bare"
    assert run(sys.executable, "-m", "venv", "--without-pip", bare, cwd=tmp_path).returncode == 0
    done = run(*mypy[:-1], bare / "bin" / "python", "user.py", cwd=project)
    assert done.returncode == 1
    assert 'Cannot find implementation or library stub for module named "rpcgen' in done.stdout
