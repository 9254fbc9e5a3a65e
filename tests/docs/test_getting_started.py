"""docs/getting-started.md, run as a reader runs it: each ``$`` line of its ``console`` blocks.

The commands run in order in one bash session, in an empty folder outside the checkout, with
a ``python3`` on ``PATH`` and nothing of this checkout importable. The lines under a command
are what it must print (each a substring of its output, stdout and stderr). A command whose
comment says ``in another terminal`` runs in the background until the end of the page: its
lines are waited for, and it is stopped with SIGTERM afterwards (as Ctrl-C would, and it must
exit 0). Two things differ from the page, so that parallel runs cannot meet:
``/path/to/rpcgen`` is a copy of this checkout's sources, and port 5672 is a free port.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rpcgen.runtime.testing import node as nodes

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "getting-started.md"
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "package", "codegen", "runtime", "templates"]
FENCE = re.compile(r"^```console[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
BACKGROUND = "in another terminal"


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)

    @property
    def background(self) -> bool:
        return BACKGROUND in self.comment

    @property
    def comment(self) -> str:
        found = re.search(r"\s+#([^'\"]*)$", self.command)
        return found.group(1) if found else ""

    @property
    def bare(self) -> str:
        """The command without its comment (which would hide a redirection added after it)."""
        return re.sub(r"\s+#[^'\"]*$", "", self.command)


def steps(text: str) -> list[Step]:
    """The ``$`` commands of the page's console blocks, each with the lines printed under it."""
    found: list[Step] = []
    for block in FENCE.findall(text):
        in_session = False
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append(Step(line[2:]))
                in_session = True
            elif in_session and line.strip():
                found[-1].expected.append(line.strip())
    return found


def test_the_page_has_the_walkthrough() -> None:
    commands = [s.bare for s in steps(PAGE.read_text())]
    assert "pip install /path/to/rpcgen" in commands
    assert "rpcgen init greeter" in commands
    assert any(c.startswith("rpcgen broker") for c in commands)
    assert any(c.startswith("rpcgen serve") for c in commands)
    assert any(c.startswith("rpcgen call") for c in commands)
    assert {"pytest", "mypy"} <= set(commands)


class Shell:
    """One bash, fed a command at a time; each command's output read up to a marker."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.cwd = cwd
        self.background: list[tuple[str, int, Path]] = []

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def _send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def run(self, command: str, timeout: float = 400) -> tuple[int, str]:
        marker = f"__done_{time.monotonic_ns()}__"
        self._send(f"{command}\necho {marker}$?")
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{command!r}: no end within {timeout} s: {out}") from None
            at = line.find(marker)  # a line of its own, or the end of an unfinished one
            if at >= 0:
                out.append(line[:at])
                return int(line[at + len(marker) :]), "".join(out)
            out.append(line)

    def start(self, command: str, expected: list[str], timeout: float = 180) -> None:
        """Run ``command`` in the background, its output to a log; wait for ``expected``."""
        log = Path(self.run("pwd")[1].strip()) / f".bg{len(self.background)}.log"
        _, out = self.run(f"{command} > {log} 2>&1 &\necho $!")
        pid = int(out.split()[-1])
        self.background.append((command, pid, log))

        def printed() -> str:  # the job's shell may not have opened the log yet
            return log.read_text() if log.exists() else ""

        def all_printed() -> bool:
            if all(line in printed() for line in expected):
                return True
            alive = subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode == 0
            assert alive, f"{command!r} exited:\n{printed()}"
            return False

        what = f"{command!r}: {expected}"
        wait_until(all_printed, timeout, what=what, interval=0.2, describe=printed)

    def close(self, failed: bool) -> list[str]:
        """Stop the background commands, the last first; the problems found. After a failure
        the shell may be stuck in a command: then it and everything it started are killed."""
        if failed:
            for _, pid, _ in self.background:
                subprocess.run(["kill", "-TERM", str(pid)], capture_output=True)
            subprocess.run(["pkill", "-TERM", "-P", str(self.proc.pid)], capture_output=True)
            self.proc.kill()
            self.background.clear()
        problems = []
        for command, pid, log in reversed(self.background):
            _, out = self.run(f"kill -TERM {pid}; wait {pid}; echo exit=$?", timeout=90)
            if "exit=0" not in out:
                problems.append(f"{command!r} did not exit 0 on SIGTERM: {out}{log.read_text()}")
        if not failed:
            self._send("exit")
        self.proc.wait(timeout=30)
        self._reader.join(timeout=10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        return problems


@pytest.mark.broker
@pytest.mark.timeout(1500)
def test_getting_started_runs_as_written(tmp_path: Path) -> None:
    if not (nodes.SBIN / "rabbitmq-server").exists():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{nodes.SBIN}/rabbitmq-server is not installed")
        pytest.skip(f"{nodes.SBIN}/rabbitmq-server is not installed")
    checkout = tmp_path / "rpcgen"
    checkout.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.exists():
            shutil.copy(path, checkout / name)
    home = tmp_path / "work"
    home.mkdir()
    bin_dir = tmp_path / "bin"  # python3: the interpreter this test runs on, not its venv
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(getattr(sys, "_base_executable", sys.executable))
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "RPCGEN_AMQP_URI", "RPCGEN_TEST_AMQP_URI")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST")}
    env["PATH"] = f"{bin_dir}{os.pathsep}/usr/local/bin:/usr/bin:/bin"
    port = str(nodes.free_port())

    def local(text: str) -> str:
        return text.replace("/path/to/rpcgen", str(checkout)).replace("5672", port)

    shell = Shell(home, env)
    failed = True
    try:
        for step in steps(PAGE.read_text()):
            command, expected = local(step.bare), [local(e) for e in step.expected]
            print(f"$ {command}", flush=True)  # pytest shows it if the test fails
            if step.background:
                shell.start(command, expected)
                continue
            code, out = shell.run(command)
            print(out, flush=True)
            assert code == 0, f"`{step.command}` exited {code}:\n{out}"
            for line in expected:
                assert line in out, f"`{step.command}` did not print {line!r}:\n{out}"
        failed = False
    finally:
        problems = shell.close(failed)
    assert not problems, problems
