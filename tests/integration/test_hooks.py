"""Set-up and tear-down: ``@rt.on_start`` / ``@rt.on_stop`` around the first and last request, a
client on the server's own connection that carries the handler's context, and
``rpcgen serve module:factory``. The first two run on both transports; ``rpcgen serve`` is
another process, so on RabbitMQ only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.integration.conftest import Peek
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient, RelayClient, RelayServer
from tests.waiting import until_served

ROOT = Path(__file__).resolve().parents[2]


class Hooked(RelayServer):
    def __init__(self) -> None:
        self.events: list[str] = []
        self.itest: ItestClient | None = None

    @rt.on_start
    def open_clients(self, connection: rt.Transport) -> None:
        self.events.append("start")
        self.itest = ItestClient(connection, timeout=10)

    @rt.on_stop
    def close_pool(self) -> None:
        self.events.append("stop")

    def relay(self) -> dict[str, str]:
        self.events.append("relay")
        assert self.itest is not None
        return self.itest.context()


def test_hooks_run_before_the_first_and_after_the_last_request(rpc_uri: str) -> None:
    hooked = Hooked()
    with (
        rt.run_in_background(Itest(), rpc_uri),
        RelayClient.connect(rpc_uri, timeout=10) as client,
    ):
        with rt.run_in_background(hooked, rpc_uri):
            assert hooked.events == ["start"]
            seen = client.relay()  # the hook's client, on the server's connection
            assert hooked.events == ["start", "relay"]
        assert hooked.events == ["start", "relay", "stop"]
    stack = seen["call_id_stack"]
    assert "relay.relay." in stack and "itest.context." in stack  # the handler's stack went on


def test_a_failing_start_hook_fails_start_and_consumes_nothing(rpc_uri: str, peek: Peek) -> None:
    class Broken(Hooked):
        @rt.on_start
        def open_clients(self, connection: rt.Transport) -> None:
            raise RuntimeError("no database")

    runner = rt.ServiceRunner(Broken(), rpc_uri)
    with pytest.raises(RuntimeError, match="no database"):
        runner.start()
    assert not peek.has_queue("rpc-relay")


APP = """
from tests.integration.conftest import Peek
from tests.integration.impls import Itest

made = []

def make():
    made.append(1)
    print("factory called", flush=True)
    return Itest()

def not_a_server():
    return 42
"""


def test_rpcgen_serve_takes_a_factory(rabbit_vhost: Vhost, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}
    serve = [sys.executable, "-m", "rpcgen", "serve", "--amqp-uri", rabbit_vhost.uri]
    bad = subprocess.run(
        [*serve, "app:not_a_server"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode != 0 and "not a <Name>Server instance" in bad.stderr
    with subprocess.Popen(
        [*serve, "app:make"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        try:
            with ItestClient.connect(rabbit_vhost.uri, timeout=10) as client:
                assert until_served(lambda: client.hello("f"), process=proc) == "hello, f"
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, output
    assert "factory called" in output
