"""rpcgen: the generated `hello_service` client (futures or asyncio) against a generated server.

The server implements `idl/hello.py`: `compute(a, b)` adds, `test(name)` echoes its argument (the
payload scenarios); `divide` is there only because the skeleton requires every method. Everything
runs with rpcgen's defaults, so Nameko's guarantees hold: persistent messages, publisher confirms,
`mandatory`, ack after the reply is confirmed.

    python bench/system_rpcgen.py probe            # exit 0 when runtime and generated code work
    python bench/system_rpcgen.py server --uri URI [--async-server]
    python bench/system_rpcgen.py client --mode futures|asyncio --uri URI --server-pid PID [...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

import workload
from rpcgen.runtime import serve

from generated.hello import (
    DivisionByZero,
    HelloServiceAsyncClient,
    HelloServiceAsyncServer,
    HelloServiceClient,
    HelloServiceServer,
)


class HelloImpl(HelloServiceServer):
    def compute(self, a: int, b: int) -> int:
        return a + b

    def test(self, name: str) -> str:
        return name

    def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero("division by zero")
        return a / b


class AsyncHelloImpl(HelloServiceAsyncServer):
    """The same service with ``async def`` handlers: each request is a task on the loop."""

    async def compute(self, a: int, b: int) -> int:
        return a + b

    async def test(self, name: str) -> str:
        return name

    async def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero("division by zero")
        return a / b


class FuturesClient:
    """Blocking calls for the sequential scenarios, `call_async` futures for the pipelined ones."""

    def __init__(self, uri: str) -> None:
        self._stack = contextlib.ExitStack()
        self._client = self._stack.enter_context(HelloServiceClient.connect(uri))

    def compute(self) -> int:
        return self._client.compute(1, 2)

    def echo(self, payload: str) -> str:
        return self._client.test(payload)

    def burst(self, n: int) -> None:
        for future in [self._client.compute.call_async(1, 2) for _ in range(n)]:
            future.result()

    def close(self) -> None:
        self._stack.close()


class AsyncioClient:
    """Awaits for the sequential scenarios, N gathered awaits for the pipelined ones."""

    def __init__(self, stack: contextlib.AsyncExitStack, client: HelloServiceAsyncClient) -> None:
        self._stack = stack
        self._client = client

    @classmethod
    async def connect(cls, cfg: workload.Config, ns: argparse.Namespace) -> AsyncioClient:
        stack = contextlib.AsyncExitStack()
        client = await stack.enter_async_context(HelloServiceAsyncClient.connect(cfg.uri))
        return cls(stack, client)

    async def compute(self) -> int:
        return await self._client.compute(1, 2)

    async def echo(self, payload: str) -> str:
        return await self._client.test(payload)

    async def burst(self, n: int) -> None:
        await asyncio.gather(*(self._client.compute(1, 2) for _ in range(n)))

    async def close(self) -> None:
        await self._stack.aclose()


def main() -> None:
    role = sys.argv.pop(1)
    if role == "probe":
        HelloImpl()  # fails if the skeleton has methods this file does not implement
        return
    if role == "server":
        parser = argparse.ArgumentParser()
        parser.add_argument("--uri", required=True)
        parser.add_argument("--prefetch", type=int, default=None)
        parser.add_argument("--async-server", action="store_true")
        ns = parser.parse_args()
        impl = AsyncHelloImpl() if ns.async_server else HelloImpl()
        serve(impl, ns.uri, prefetch=ns.prefetch)
    elif "asyncio" in sys.argv:
        workload.main_async(AsyncioClient.connect)
    else:
        workload.main_sync(lambda cfg, _ns: FuturesClient(cfg.uri))


if __name__ == "__main__":
    main()
