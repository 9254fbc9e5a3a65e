"""Baseline: aio-pika's `patterns.JsonRPC`, used as its documentation shows, with its defaults.

Its defaults: a queue per registered method on the default exchange, transient messages, a publisher
confirm channel, `mandatory` requests, no prefetch limit on the server. Pipelined calls are N
concurrent awaits gathered together.

    python bench/system_aiopika.py server --uri URI
    python bench/system_aiopika.py client --uri URI --server-pid PID [workload options]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import aio_pika
import workload
from aio_pika.patterns import JsonRPC

PREFIX = "bench_aiopika_"
READY_QUEUE = PREFIX + "echo"  # registered last: once it has a consumer, the server is ready


async def _compute(*, a: int, b: int) -> int:
    return a + b


async def _echo(*, s: str) -> str:
    return s


async def serve(uri: str) -> None:
    connection = await aio_pika.connect_robust(uri)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with connection:
        channel = await connection.channel()
        rpc = await JsonRPC.create(channel)
        await rpc.register(PREFIX + "compute", _compute, auto_delete=True)
        await rpc.register(READY_QUEUE, _echo, auto_delete=True)
        await stop.wait()
        await rpc.close()


class AioPikaClient:
    def __init__(self, connection: aio_pika.abc.AbstractRobustConnection, rpc: JsonRPC) -> None:
        self._connection = connection
        self._rpc = rpc

    @classmethod
    async def connect(cls, cfg: workload.Config, ns: argparse.Namespace) -> AioPikaClient:
        connection = await aio_pika.connect_robust(cfg.uri)
        channel = await connection.channel()
        rpc = await JsonRPC.create(channel)
        assert isinstance(rpc, JsonRPC)
        return cls(connection, rpc)

    async def compute(self) -> int:
        result = await self._rpc.call(PREFIX + "compute", {"a": 1, "b": 2})
        assert isinstance(result, int)
        return result

    async def echo(self, payload: str) -> str:
        result = await self._rpc.call(READY_QUEUE, {"s": payload})
        assert isinstance(result, str)
        return result

    async def burst(self, n: int) -> None:
        await asyncio.gather(*(self.compute() for _ in range(n)))

    async def close(self) -> None:
        await self._rpc.close()
        await self._connection.close()


def main() -> None:
    role = sys.argv.pop(1)
    if role == "server":
        parser = argparse.ArgumentParser()
        parser.add_argument("--uri", required=True)
        asyncio.run(serve(parser.parse_args().uri))
    else:
        workload.main_async(AioPikaClient.connect)


if __name__ == "__main__":
    main()
