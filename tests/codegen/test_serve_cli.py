"""``rpcgen serve module:Class`` end to end: a generated client calls it over a real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import rpcgen.runtime as rt
from cgtools import REPO
from rpcgen.runtime.testing import Vhost
from rpcgen.runtime.testing.node import free_port

from generated.hello import DivisionByZero, HelloServiceClient

APP = """
from generated.hello import DivisionByZero, HelloServiceServer


class Impl(HelloServiceServer):
    def test(self, name: str) -> str:
        return f"Hello, {name}!"

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero(f"cannot divide {a} by zero")
        return a / b
"""


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


def wait_until_served(client: HelloServiceClient, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            client.test("ready?")
            return
        except rt.UnknownService:  # the service queue is not bound yet
            assert proc.poll() is None, "rpcgen serve exited early"
            assert time.monotonic() < deadline, "rpcgen serve did not start within 30 s"
            time.sleep(0.1)


def test_serve_answers_generated_clients_and_stops_on_sigterm(
    served: subprocess.Popen[str], amqp_uri: str, rabbit_vhost: Vhost
) -> None:
    with HelloServiceClient.connect(amqp_uri, timeout=10) as client:
        wait_until_served(client, served)
        assert _prefetch_counts(rabbit_vhost, "rpc-hello_service") == [5]  # not --max-workers
        assert client.test("world") == "Hello, world!"
        assert client.compute(2, 3) == 5
        assert client.compute.call_async(a=5, b=6).result(timeout=10) == 11
        with pytest.raises(DivisionByZero, match="cannot divide 1 by zero"):
            client.divide(1, 0)
    served.send_signal(signal.SIGTERM)
    output, _ = served.communicate(timeout=20)
    assert served.returncode == 0, output
    assert "guest:guest@" not in output  # the password never reaches the log


def _probe(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _prefetch_counts(rabbit_vhost: Vhost, queue: str) -> list[int]:
    """Prefetch of each consumer of ``queue`` (an external broker's statistics lag ~5 s)."""
    deadline = time.monotonic() + 15
    while True:
        found = [c.prefetch_count for c in rabbit_vhost.consumers() if c.queue == queue]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


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
            wait_until_served(hello, proc)
            rabbit_vhost.wait_for_consumers("rpc-orders")
            assert hello.compute(2, 3) == 5
            assert orders.get_order(7) == Order(7, "sku", 1)
            assert _probe(port, "/healthz") == (200, "ok\n")
            assert _probe(port, "/readyz") == (200, "ok\n")
            # Each keeps its own prefetch: the sync default, and the async server's.
            assert _prefetch_counts(rabbit_vhost, "rpc-hello_service") == [100]
            assert _prefetch_counts(rabbit_vhost, "rpc-orders") == [rt.ASYNC_PREFETCH]
            in_flight = orders.create_order.call_async("sku-9", 2)
            deadline = time.monotonic() + 10
            while not (tmp_path / "started").exists():
                assert time.monotonic() < deadline, "create_order never started"
                time.sleep(0.02)
            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 5
            while (ready := _probe(port, "/readyz")) == (200, "ok\n"):  # until the drain shows
                assert time.monotonic() < deadline, "still ready after SIGTERM"
                time.sleep(0.01)
            assert ready == (503, "hello_service: stopping\n")
            assert in_flight.result(timeout=10) == Order(1, "sku-9", 2)  # drained, answered
        output, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, output
        assert "serving hello_service" in output and "serving orders" in output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
