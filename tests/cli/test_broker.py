"""``rpcgen broker``: a throwaway RabbitMQ that a served call answers through, gone after Ctrl-C.

The command runs as a user runs it, in a process of its own; ``rpcgen serve`` runs in another
and the generated client in the test. Needs Debian's rabbitmq-server (as the broker fixtures do).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import node as nodes
from typer.testing import CliRunner

from generated.hello import HelloServiceClient
from tests.waiting import until_served

ROOT = Path(__file__).resolve().parents[2]
APP = """
from generated.hello import HelloServiceServer


class Impl(HelloServiceServer):
    def test(self, name: str) -> str:
        return f"Hello, {name}!"

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        return a / b
"""


def _require_rabbitmq() -> None:
    if not (nodes.SBIN / "rabbitmq-server").exists():
        reason = f"{nodes.SBIN}/rabbitmq-server is not installed"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)


class Broker:
    """``rpcgen broker ARGS`` in a process of its own; its stdout read line by line."""

    def __init__(self, *args: str) -> None:
        _require_rabbitmq()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rpcgen", "broker", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 120) -> str:
        """The first group of ``pattern`` in the next lines of stdout, within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.proc.poll() is None, f"rpcgen broker exited: {self.stderr()}"
                continue
            self.stdout.append(line)
            found = re.search(pattern, line)
            if found:
                return found.group(1)
        raise AssertionError(f"no {pattern!r} within {timeout} s: {self.stdout}")

    def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def close(self) -> None:
        if self.proc.poll() is None:  # a failed test: still clean up
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def processes_using(folder: str) -> list[str]:
    """The command lines of the processes that name ``folder`` (the node's beam and helpers)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if folder in cmdline:
                found.append(cmdline)
    return found


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def served_on() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def serve(uri: str, tmp_path: Path) -> subprocess.Popen[str]:
    (tmp_path / "app.py").write_text(APP)
    return subprocess.Popen(
        [sys.executable, "-m", "rpcgen", "serve", "app:Impl", "--amqp-uri", uri],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # where ``generated`` lives
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def call_when_served(uri: str, server: subprocess.Popen[str]) -> int:
    with HelloServiceClient.connect(uri, timeout=10) as client:
        return until_served(lambda: client.compute(2, 3), process=server, timeout=30)


@pytest.mark.timeout(300)
def test_a_served_call_answers_through_it_and_ctrl_c_removes_it(
    tmp_path: Path, served_on: list[subprocess.Popen[str]]
) -> None:
    broker = Broker()
    try:
        uri = broker.wait_for(r"^AMQP URI:\s+(amqp://\S+)")
        mgmt = broker.wait_for(r"^management:\s+(http://\S+)")
        data = broker.wait_for(r"^data:\s+(\S+)")
        assert broker.wait_for(r"^Use it:\s+(.*)") == f"export RPCGEN_AMQP_URI={uri}"
        assert Path(data).is_dir() and processes_using(data)
        port = int(re.findall(r":(\d+)/", uri)[0])
        assert port_open(port) and port_open(int(re.findall(r":(\d+)/", mgmt)[0]))

        server = serve(uri, tmp_path)
        served_on.append(server)
        assert call_when_served(uri, server) == 5
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0

        assert broker.stop(signal.SIGINT) == 0  # Ctrl-C
        assert not Path(data).exists()
        assert processes_using(data) == []
        assert not port_open(port)
        assert "deleted" in broker.stderr()
    finally:
        broker.close()


@pytest.mark.timeout(300)
def test_port_no_management_and_sigterm() -> None:
    port = nodes.free_port()
    broker = Broker("--port", str(port), "--no-management")
    try:
        assert broker.wait_for(r"^AMQP URI:\s+(\S+)") == f"amqp://guest:guest@127.0.0.1:{port}/"
        data = broker.wait_for(r"^data:\s+(\S+)")  # no management line before it
        assert not any(line.startswith("management") for line in broker.stdout)
        with (
            rt.RawClient.connect(f"amqp://guest:guest@127.0.0.1:{port}/", timeout=5) as raw,
            pytest.raises(rt.UnknownService),  # the broker answered: nobody serves it
        ):
            raw.call("nobody", "here", [])
        assert broker.stop(signal.SIGTERM) == 0
        assert not Path(data).exists() and processes_using(data) == []
        assert not port_open(port)
    finally:
        broker.close()


def test_without_rabbitmq_it_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rpcgen.cli import app

    monkeypatch.setattr(nodes, "SBIN", tmp_path / "nowhere")
    result = CliRunner().invoke(app, ["broker"])
    assert result.exit_code == 1
    text = result.output
    assert f"{tmp_path / 'nowhere'}/rabbitmq-server is missing" in text
    assert "apt-get install rabbitmq-server" in text  # the Debian package
    assert "docker run" in text and "RPCGEN_AMQP_URI" in text  # or a container
    assert "starting" not in text  # nothing was started
