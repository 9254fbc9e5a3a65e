"""``rpcgen serve module:Class`` end to end: a generated client calls it over a real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import rpcgen.runtime as rt
from cgtools import REPO
from rpcgen.runtime.testing import Vhost
from rpcgen.runtime.testing.node import free_port

from generated.hello import DivisionByZero, HelloServiceClient
from tests.integration.helpers import prefetch_counts
from tests.waiting import until_served, wait_until

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


def _not_ready(port: int) -> Callable[[], tuple[int, str] | None]:
    def answer() -> tuple[int, str] | None:
        status = _probe(port, "/readyz")
        return None if status == (200, "ok\n") else status

    return answer


def _probe(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


APP_TWO = (
    APP
    + """

import asyncio
import pathlib

import rpcgen.runtime as rt
from generated.shop import Order, OrdersAsyncServer, ProductsAsyncClient


class Orders(OrdersAsyncServer):
    @rt.on_start
    async def open(self, connection: rt.Transport) -> None:
        self.products = ProductsAsyncClient(connection)

    async def create_order(self, product_id: str, quantity: int) -> Order:
        pathlib.Path("started").write_text(product_id)
        await asyncio.sleep(1.0)  # still running when SIGTERM arrives
        return Order(1, product_id, quantity)

    async def get_order(self, order_id: int) -> Order:
        return Order(order_id, "sku", 1)
"""
)


def test_serve_runs_several_services_and_sigterm_drains_them_all(
    amqp_uri: str, rabbit_vhost: Vhost, tmp_path: Path
) -> None:
    from generated.shop import Order, OrdersClient

    (tmp_path / "app.py").write_text(APP_TWO)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "rpcgen", "serve", "app:Impl", "app:Orders"]
    port = free_port()  # the probes answer for both services
    proc = subprocess.Popen(
        [*command, "--amqp-uri", amqp_uri, "--http-port", str(port), "--http-host", "127.0.0.1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with (
            HelloServiceClient.connect(amqp_uri, timeout=10) as hello,
            OrdersClient.connect(amqp_uri, timeout=10) as orders,
        ):
            until_served(lambda: hello.test("ready?"), process=proc)
            rabbit_vhost.wait_for_consumers("rpc-orders")
            assert hello.compute(2, 3) == 5
            assert orders.get_order(7) == Order(7, "sku", 1)
            assert _probe(port, "/healthz") == (200, "ok\n")
            assert _probe(port, "/readyz") == (200, "ok\n")
            # Each keeps its own prefetch: the sync default, and the async server's.
            assert prefetch_counts(rabbit_vhost, "rpc-hello_service") == [100]
            assert prefetch_counts(rabbit_vhost, "rpc-orders") == [rt.ASYNC_PREFETCH]
            in_flight = orders.create_order.call_async("sku-9", 2)
            wait_until((tmp_path / "started").exists, 10, what="create_order started")
            proc.send_signal(signal.SIGTERM)
            ready = wait_until(_not_ready(port), 5, what="not ready after SIGTERM")
            assert ready == (503, "hello_service: stopping\n")
            assert in_flight.result(timeout=10) == Order(1, "sku-9", 2)  # drained, answered
        output, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, output
        assert "serving hello_service" in output and "serving orders" in output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


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
