"""``rpcgen init DIR``: the project it writes builds, passes its own tests and ``mypy --strict``.

The project is written and checked outside this checkout, with none of its paths importable (its
own ``generated`` package must be the one its code and tests import).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rpcgen.cli import app
from rpcgen.runtime.testing import Broker, RabbitNode
from rpcgen.start_cli import PROJECT_FILES, project_names
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command as a user would in the project: no PYTHONPATH, the venv's tools on PATH."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RPCGEN_AMQP_URI")}
    base["PATH"] = f"{BIN}{os.pathsep}{base.get('PATH', '')}"
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.mark.broker
@pytest.mark.timeout(600)
def test_the_new_project_builds_and_passes_its_tests_and_mypy(
    tmp_path: Path, rabbit_node: Broker
) -> None:
    out = run(BIN / "rpcgen", "init", "my-shop", cwd=tmp_path)
    project = tmp_path / "my-shop"
    assert "rpcgen serve my_shop.service:MyShop" in out  # what to do next
    names = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    assert {target.format(name="my_shop") for target in PROJECT_FILES.values()} <= names
    assert {"generated/__init__.py", "generated/my_shop.py"} <= names
    assert not any("__pycache__" in n for n in names)

    # generated/ is the build of idl/, as `rpcgen build idl/` in the project makes it.
    run(BIN / "rpcgen", "build", "idl/", "--check", cwd=project)

    # Its tests: each on the in-memory broker and on RabbitMQ (this session's node, as the
    # plugin's variables name it, so that no second node boots).
    if isinstance(rabbit_node, RabbitNode):
        mgmt = rabbit_node.mgmt_url
    else:  # this session was itself given a broker by these variables
        mgmt = os.environ["RPCGEN_TEST_MGMT_URL"]
    broker_env = {"RPCGEN_TEST_AMQP_URI": rabbit_node.uri, "RPCGEN_TEST_MGMT_URL": mgmt}
    out = run(
        BIN / "python", "-m", "pytest", "-p", "no:cacheprovider", "-v", cwd=project, env=broker_env
    )
    assert re.search(r"\b4 passed\b", out), out
    assert "[memory] PASSED" in out and "[rabbitmq] PASSED" in out
    out = run(
        BIN / "python", "-m", "pytest", "-p", "no:cacheprovider", "-m", "not broker", cwd=project
    )
    assert re.search(r"\b2 passed, 2 deselected\b", out), out

    # mypy --strict, configured in its pyproject.toml (the implementation, tests, generated/).
    out = run(BIN / "mypy", "--no-incremental", cwd=project)
    assert re.search(r"Success: no issues found in \d+ source files", out), out

    # ... and mypy is really checking: a wrong call in its tests is caught.
    test = project / "tests" / "test_my_shop.py"
    test.write_text(test.read_text().replace('client.greet("Ada")', "client.greet(1)"))
    done = subprocess.run(
        [BIN / "mypy", "--no-incremental"], cwd=project, capture_output=True, text=True
    )
    assert done.returncode == 1 and "[arg-type]" in done.stdout


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["init", str(tmp_path / "here")])
    assert result.exit_code == 1
    assert "exists and is not an empty folder; nothing written" in result.output
    assert [p.name for p in (tmp_path / "here").iterdir()] == ["notes.txt"]


def test_init_refuses_a_name_it_cannot_use(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["init", str(tmp_path / "queue")])
    assert result.exit_code == 1
    assert "'queue' would shadow a module the project imports; choose another with --name" in (
        result.output
    )
    assert not (tmp_path / "queue").exists()
    result = CliRunner().invoke(app, ["init", str(tmp_path / "queue"), "--name", "jobs"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "queue" / "idl" / "jobs.py").is_file()
    assert (tmp_path / "queue" / "generated" / "jobs.py").is_file()


@pytest.mark.parametrize(
    ("folder", "name", "expected"),
    [
        ("greeter", None, ("greeter", "Greeter")),
        ("My-Shop", None, ("my_shop", "MyShop")),
        ("x", "order service", ("order_service", "OrderService")),
    ],
)
def test_project_names(folder: str, name: str | None, expected: tuple[str, str]) -> None:
    assert project_names(Path(folder), name) == expected


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("2fast", "is not a Python identifier"),
        ("---", "is not a Python identifier"),
        ("class", "is a Python keyword"),
        ("generated", "would shadow"),
        ("json", "would shadow"),
    ],
)
def test_project_names_refused(name: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        project_names(Path("x"), name)
