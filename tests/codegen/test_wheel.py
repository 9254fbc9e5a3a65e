"""What a user gets from the wheel: ``python -m build``, then ``pip install`` into a fresh
virtualenv outside the checkout.

``python -m build`` makes a wheel and an sdist of a copy of the sources. The wheel, installed
with its ``[otel]`` and ``[prometheus]`` extras, must hold one import package, ``rpcgen`` (no
top-level ``codegen`` or ``runtime``), its templates and ``py.typed``. From a folder outside
the checkout, the installed ``rpcgen`` must build an IDL, serve it and answer ``rpcgen call``
through a real broker, run ``export``, ``diff``, ``scaffold`` and ``init`` (whose project then
passes its in-memory tests with rpcgen from the wheel); and mypy, pointed at that virtualenv,
must resolve ``rpcgen`` and ``generated`` and type-check calls for real. This builds and
installs for real (dependencies included, from the configured index): about 30 s here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import rpcgen
from cgtools import REPO, tool

from tests.waiting import wait_until

SOURCES = [
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "package",
    "codegen",
    "runtime",
    "templates",
]
USER_CODE = """\
from generated.hello import HelloServiceClient


def call(client: HelloServiceClient) -> int:
    return client.compute(1, 2)
"""
BAD_CALL = "\n\ndef bad(client: HelloServiceClient) -> str:\n    return client.compute(1, 'x')\n"
APP = """\
from generated.hello import DivisionByZero, HelloServiceServer


class Impl(HelloServiceServer):
    def test(self, name: str) -> str:
        return f"Hello, {name}!"

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero("b is 0")
        return a / b
"""
NAMEKO_SERVICE = """\
from nameko.rpc import rpc


class Greeter:
    name = "greeter"

    @rpc
    def hello(self, name: str) -> str:
        return f"hello, {name}"
"""


def run(
    *args: str | Path, cwd: Path, check: bool = False, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout
    )
    if check:
        assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` of a copy of the sources: the folder holding the wheel and sdist."""
    root = tmp_path_factory.mktemp("dist")
    src = root / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.exists():
            shutil.copy(path, src / name)
    run(sys.executable, "-m", "build", "--outdir", root / "dist", src, cwd=root, check=True)
    return root / "dist"


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv outside the checkout holding the wheel with its extras and nothing else."""
    (wheel,) = dist.glob("rpcgen-*.whl")
    root = tmp_path_factory.mktemp("wheel")
    assert not root.is_relative_to(REPO)
    env = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", env, cwd=root, check=True)
    pip = (sys.executable, "-m", "pip", "--python", env / "bin" / "python")
    run(*pip, "install", "-q", f"{wheel}[otel,prometheus]", cwd=root, check=True)
    return env


def test_build_makes_a_wheel_and_an_sdist_of_the_version(dist: Path) -> None:
    version = rpcgen.__version__
    assert {p.name for p in dist.iterdir()} == {
        f"rpcgen-{version}-py3-none-any.whl",
        f"rpcgen-{version}.tar.gz",
    }
    with tarfile.open(dist / f"rpcgen-{version}.tar.gz") as sdist:
        names = set(sdist.getnames())
    top = f"rpcgen-{version}"
    assert {
        f"{top}/pyproject.toml",
        f"{top}/package/py.typed",
        f"{top}/templates/module.py.jinja",
        f"{top}/templates/project/idl.py.jinja",
        f"{top}/runtime/__init__.py",
    } <= names


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
        "rpcgen/templates/project/service.py.jinja",
        "rpcgen/codegen/load.py",
        "rpcgen/runtime/__init__.py",
    } <= set(paths)
    assert not (site_packages(venv) / "codegen").exists()
    assert not (site_packages(venv) / "runtime").exists()


def test_installed_rpcgen_builds_and_mypy_resolves_it(venv: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(REPO / "idl", project / "idl", ignore=shutil.ignore_patterns("__pycache__"))
    run(venv / "bin" / "rpcgen", "build", "idl", cwd=project, check=True)
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


def test_extras_install_and_import(venv: Path, tmp_path: Path) -> None:
    code = (
        "import opentelemetry.sdk, prometheus_client, rpcgen.otel, rpcgen.prometheus;"
        " print(rpcgen.otel.__name__, rpcgen.prometheus.__name__)"
    )
    done = run(venv / "bin" / "python", "-c", code, cwd=tmp_path, check=True)
    assert done.stdout.split() == ["rpcgen.otel", "rpcgen.prometheus"]


def test_installed_commands_work_from_outside_the_checkout(venv: Path, tmp_path: Path) -> None:
    rpcgen_bin = venv / "bin" / "rpcgen"
    done = run(rpcgen_bin, "--version", cwd=tmp_path, check=True)
    assert done.stdout.strip() == f"rpcgen {rpcgen.__version__}"
    shutil.copytree(REPO / "idl", tmp_path / "idl", ignore=shutil.ignore_patterns("__pycache__"))

    done = run(rpcgen_bin, "export", "idl", "--format", "jsonschema", cwd=tmp_path, check=True)
    assert "hello.DivisionByZero" in done.stdout and "$defs" in json.loads(done.stdout)
    done = run(rpcgen_bin, "diff", "idl", "idl", cwd=tmp_path, check=True)
    assert done.stdout.startswith("0 changes")
    (tmp_path / "greeter.py").write_text(NAMEKO_SERVICE)
    done = run(rpcgen_bin, "scaffold", "greeter.py", cwd=tmp_path, check=True)
    assert (
        '@service("greeter")' in done.stdout and "def hello(self, name: str) -> str" in done.stdout
    )


@pytest.mark.broker
@pytest.mark.timeout(300)
def test_installed_rpcgen_builds_serves_and_calls(
    venv: Path, tmp_path: Path, amqp_uri: str
) -> None:
    """The smoke test: ``rpcgen build``, ``rpcgen serve``, ``rpcgen call``, all from the wheel."""
    rpcgen_bin = venv / "bin" / "rpcgen"
    shutil.copytree(REPO / "idl", tmp_path / "idl", ignore=shutil.ignore_patterns("__pycache__"))
    run(rpcgen_bin, "build", "idl", cwd=tmp_path, check=True)
    (tmp_path / "app.py").write_text(APP)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    server = subprocess.Popen(
        [rpcgen_bin, "serve", "app:Impl", "--amqp-uri", amqp_uri],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        call = [rpcgen_bin, "call", "--idl", "idl", "--amqp-uri", amqp_uri, "--timeout", "10"]
        tries: list[subprocess.CompletedProcess[str]] = []

        def answered() -> bool:
            tries.append(run(*call, "hello_service.compute", "2", "3", cwd=tmp_path))
            if tries[-1].returncode != 3:  # 3: no answer (the service queue is not there yet)
                return True
            assert server.poll() is None, "rpcgen serve exited early"
            return False

        wait_until(answered, 60, what="an answer", interval=0.2, describe=lambda: tries[-1].stderr)
        done = tries[-1]
        assert (done.returncode, done.stdout.strip()) == (0, "5"), done.stderr
        done = run(*call, "hello_service.divide", "1", "0", cwd=tmp_path)
        assert done.returncode == 1 and "DivisionByZero: b is 0" in done.stderr
    finally:
        server.send_signal(2)  # SIGINT, as Ctrl-C
        out, _ = server.communicate(timeout=30)
    assert server.returncode == 0, out


@pytest.mark.timeout(600)
def test_init_project_passes_its_tests_with_rpcgen_from_the_wheel(
    venv: Path, tmp_path: Path
) -> None:
    """A new project, as a user makes it: ``rpcgen init``, ``pip install -e .`` (rpcgen already
    installed from the wheel satisfies its dependency) and pytest, then its in-memory tests.
    (Its mypy run is tests/cli/test_init.py's: mypy takes long to install.)"""
    run(venv / "bin" / "rpcgen", "init", "shop", cwd=tmp_path, check=True)
    project = tmp_path / "shop"
    pip = (sys.executable, "-m", "pip", "--python", venv / "bin" / "python")
    run(*pip, "install", "-q", "-e", project, "pytest>=8", cwd=tmp_path, check=True)
    done = run(venv / "bin" / "rpcgen", "build", "idl/", "--check", cwd=project, check=True)
    done = run(
        venv / "bin" / "python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-m",
        "not broker",
        cwd=project,
        check=True,
    )
    assert "2 passed, 2 deselected" in done.stdout, done.stdout
