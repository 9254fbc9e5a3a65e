"""The end-to-end demo, run by ``scripts/demo`` after ``rpcgen build idl/``.

It starts a throwaway RabbitMQ node, serves ``hello_service`` from a subclass of the generated
skeleton, calls it through the generated sync, futures and asyncio clients, shows a declared
error crossing the wire, and removes the node again.
"""

from __future__ import annotations

import asyncio
import time

from rpcgen.runtime import UnknownService, mask_uri, run_in_background
from rpcgen.runtime.testing.node import RabbitNode

from generated.hello import (
    DivisionByZero,
    HelloServiceAsyncClient,
    HelloServiceClient,
    HelloServiceServer,
)


class Hello(HelloServiceServer):
    """The skeleton implemented: mypy checks each override against the IDL."""

    def test(self, name: str) -> str:
        return f"hello, {name}"

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero(f"cannot divide {a} by zero")
        return a / b


def step(text: str) -> None:
    print(f"\n== {text}")


def sync_calls(uri: str) -> None:
    with HelloServiceClient.connect(uri, timeout=5.0) as client:
        step("sync client")
        print(f"client.test('world')     -> {client.test('world')!r}")
        print(f"client.compute(40, 2)    -> {client.compute(40, 2)!r}")
        start = time.perf_counter()
        for i in range(200):
            client.compute(i, i)
        per_call = (time.perf_counter() - start) / 200 * 1000
        print(f"200 sequential calls     -> {per_call:.2f} ms per call")

        step("futures (call_async): 100 calls in flight on one connection")
        futures = [client.compute.call_async(i, 1) for i in range(100)]
        results = [f.result(timeout=10) for f in futures]
        print(f"sum of 100 results       -> {sum(results)} (expected {sum(range(1, 101))})")

        step("a declared error crosses the wire")
        try:
            client.divide(1, 0)
        except DivisionByZero as exc:
            print(f"client.divide(1, 0) raised {type(exc).__name__}: {exc}")


def unknown_service(uri: str) -> None:
    step("a call to a service nobody serves fails at once")
    from generated.ledger import LedgerClient

    with LedgerClient.connect(uri, timeout=5.0) as ledger:
        start = time.perf_counter()
        try:
            ledger.ping()
        except UnknownService as exc:
            took = (time.perf_counter() - start) * 1000
            print(f"ledger.ping() raised UnknownService ({exc}) after {took:.1f} ms")


async def async_calls(uri: str) -> None:
    step("asyncio client: 1,000 concurrent awaits on one connection")
    async with HelloServiceAsyncClient.connect(uri, timeout=10.0) as client:
        print(f"await client.test('async') -> {await client.test('async')!r}")
        results = await asyncio.gather(*(client.compute(i, 0) for i in range(1000)))
        print(f"1,000 results, sum       -> {sum(results)} (expected {sum(range(1000))})")


def main() -> None:
    step("starting a throwaway RabbitMQ node")
    with RabbitNode() as node:
        print(f"broker at {mask_uri(node.uri)} (data in {node.dir})")
        with run_in_background(Hello(), node.uri) as runner:
            print(f"serving {runner.server.service_name} with {runner.max_workers} workers")
            sync_calls(node.uri)
            unknown_service(node.uri)
            asyncio.run(async_calls(node.uri))
        step("server stopped gracefully; removing the broker")
    print("done")


if __name__ == "__main__":
    main()
