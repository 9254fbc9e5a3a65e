"""``rpcgen build`` and ``rpcgen serve`` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from rpcgen.cli import app
from typer.testing import CliRunner

GOOD = """
from typing import Protocol

from rpcgen import service


@service("greeter")
class Greeter(Protocol):
    def hello(self, name: str) -> str: ...
"""
BAD = """
from typing import Any, Protocol

from rpcgen import service


@service("greeter")
class Greeter(Protocol):
    def hello(self, name: Any) -> set[str]: ...
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_build_writes_the_package(write_idl: Callable[..., Path]) -> None:
    write_idl(greeter=GOOD)
    code, out, err = run("build", "idl")
    assert (code, out) == (0, "")
    assert sorted(p.name for p in Path("generated").iterdir()) == [
        "__init__.py",
        "greeter.py",
        "py.typed",
    ]
    assert err.endswith("rpcgen: updated 3 file(s) in generated\n")
    assert run("build", "idl") == (0, "", "rpcgen: generated is up to date\n")


def test_build_reports_every_problem_and_writes_nothing(write_idl: Callable[..., Path]) -> None:
    write_idl(greeter=BAD)
    code, out, err = run("build", "idl", "--out", "gen")
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0].startswith("idl/greeter.py:8: Greeter.hello: parameter 'name': Any is not")
    assert lines[1].startswith("idl/greeter.py:8: Greeter.hello: return type: set[str] is not")
    assert lines[2] == "rpcgen: 2 problems in idl; nothing written"
    assert not Path("gen").exists()


def test_check_exits_1_with_a_diff_when_stale(write_idl: Callable[..., Path]) -> None:
    write_idl(greeter=GOOD)
    code, out, err = run("build", "idl", "--check")
    assert code == 1
    assert "+++ generated/greeter.py" in out
    assert err == "rpcgen: generated is stale; run: rpcgen build idl --out generated\n"
    assert not Path("generated").exists()  # --check writes nothing
    run("build", "idl")
    assert run("build", "idl", "--check") == (0, "", "rpcgen: generated is up to date\n")


def test_missing_idl_folder_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("build", "nowhere")
    assert code == 2
    assert "nowhere" in err


def test_python_dash_m_rpcgen_works(write_idl: Callable[..., Path]) -> None:
    write_idl(greeter=GOOD)
    done = subprocess.run(
        [sys.executable, "-m", "rpcgen", "build", "idl", "--check"], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "+++ generated/greeter.py" in done.stdout


def test_build_does_not_import_pika(write_idl: Callable[..., Path]) -> None:
    write_idl(greeter=GOOD)
    code = textwrap.dedent(
        """
        import sys
        from rpcgen.cli import app
        try:
            app(["build", "idl"])
        except SystemExit:
            pass
        print("pika" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "False\n"


SERVER = """
from generated.greeter import GreeterServer


class Impl(GreeterServer):
    def hello(self, name: str) -> str:
        return "hi " + name


class Half(GreeterServer):
    pass


class NotAServer:
    pass
"""


@pytest.mark.parametrize(
    "target,message",
    [
        ("app", "Invalid value: expected MODULE:CLASS"),
        ("nosuchmodule:Impl", "rpcgen: cannot import nosuchmodule: ModuleNotFoundError"),
        ("app:Nope", "rpcgen: app has no attribute Nope"),
        ("app:NotAServer", "rpcgen: app:NotAServer is not a subclass of a generated <Name>Server"),
        ("app:Half", "rpcgen: app:Half does not implement: hello"),
    ],
)
def test_serve_rejects_bad_targets(
    write_idl: Callable[..., Path], target: str, message: str
) -> None:
    write_idl(greeter=GOOD)
    run("build", "idl")
    Path("app.py").write_text(SERVER)
    done = subprocess.run(
        [sys.executable, "-m", "rpcgen", "serve", target], capture_output=True, text=True
    )
    assert done.returncode in (1, 2)
    assert message in done.stderr
