"""``rpcgen serve module:Class`` end to end: a generated client calls it over a real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cgtools import REPO
from rpcgen.runtime.testing import Vhost

from generated.hello import DivisionByZero, HelloServiceClient
from tests.integration.helpers import prefetch_counts
from tests.waiting import until_served

APP = "from tests.hello import Hello as Impl\n"  # run by rpcgen serve, with the repo on the path


@pytest.fixture
def served(amqp_uri: str, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    (tmp_path / "app.py").write_text(APP)
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # where ``generated`` lives
    command = [sys.executable, "-m", "rpcgen", "serve", "app:Impl", "--amqp-uri", amqp_uri]
    proc = subprocess.Popen(
        [*command, "--max-workers", "2", "--prefetch", "5"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_answers_generated_clients_and_stops_on_a_signal(
    served: subprocess.Popen[str], amqp_uri: str, rabbit_vhost: Vhost, signum: signal.Signals
) -> None:
    with HelloServiceClient.connect(amqp_uri, timeout=10) as client:
        assert until_served(lambda: client.test("ready?"), process=served) == "Hello, ready?!"
        assert prefetch_counts(rabbit_vhost, "rpc-hello_service") == [5]  # not --max-workers
        assert client.test("world") == "Hello, world!"
        assert client.compute(2, 3) == 5
        assert client.compute.call_async(a=5, b=6).result(timeout=10) == 11
        with pytest.raises(DivisionByZero, match="cannot divide 1 by zero"):
            client.divide(1, 0)
    served.send_signal(signum)
    output, _ = served.communicate(timeout=20)
    assert served.returncode == 0, output
    assert "draining hello_service" in output
    assert "guest:guest@" not in output  # the password never reaches the log


def test_serve_exits_1_when_the_broker_cannot_be_reached(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    dead = "amqp://guest:guest@127.0.0.1:1/"  # nothing listens: refused at once
    done = subprocess.run(
        # --startup-timeout 1: the first connect retries for that long (60 s by default)
        [
            sys.executable,
            "-m",
            "rpcgen",
            "serve",
            "app:Impl",
            "--amqp-uri",
            dead,
            "--startup-timeout",
            "1",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "127.0.0.1:1" in done.stderr and "Traceback" not in done.stderr
