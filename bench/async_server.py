"""1,000 concurrent calls to a handler that sleeps 1 s, under ``rpcgen serve`` at its defaults.

Two servers of ``hello_service``, each run by ``rpcgen serve bench.async_server:<Class>`` in a
process of its own with no option given: ``Sleepy`` (``async def test``, ``await
asyncio.sleep(1)``) and ``SleepySync`` (``def test``, ``time.sleep(1)``). One asyncio client
sends ``--calls`` calls at once and times each answer; the sync server gets ``--sync-calls``
(its ``max_workers`` threads, 10 by default, bound it to about that many a second, so 1,000
would take 100 s). The figures are wall-clock seconds for the whole batch and its latency
percentiles, with the sync server's throughput beside the async one's in the same run.

    python bench/async_server.py [--calls 1000] [--sync-calls 100] [--amqp-uri URI]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))  # generated/ (when run as a script)
sys.path.insert(0, str(BENCH))  # broker.py

import broker as brokers  # noqa: E402

from generated.hello import (  # noqa: E402
    HelloServiceAsyncClient,
    HelloServiceAsyncServer,
    HelloServiceServer,
)

SLEEP = 1.0


class Sleepy(HelloServiceAsyncServer):
    """``test`` awaits ``asyncio.sleep(1)``: what an async handler waiting on I/O does."""

    async def test(self, name: str) -> str:
        await asyncio.sleep(SLEEP)
        return name

    async def compute(self, a: int, b: int) -> int:
        return a + b

    async def divide(self, a: int, b: int) -> float:
        return a / b


class SleepySync(HelloServiceServer):
    """``test`` blocks its worker thread for 1 s."""

    def test(self, name: str) -> str:
        time.sleep(SLEEP)
        return name

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        return a / b


async def burst(uri: str, calls: int) -> tuple[float, list[float]]:
    """``calls`` calls of ``test`` at once: the batch's seconds, and each call's."""
    async with HelloServiceAsyncClient.connect(uri, timeout=300) as client:
        assert await client.compute(1, 2) == 3  # connected, routed, warm

        async def one(i: int) -> float:
            t0 = time.perf_counter()
            assert await client.test(str(i)) == str(i)
            return time.perf_counter() - t0

        start = time.perf_counter()
        latencies = await asyncio.gather(*(one(i) for i in range(calls)))
        return time.perf_counter() - start, sorted(latencies)


def measure(uri: str, cls: str, calls: int) -> tuple[float, list[float]]:
    cli = str(Path(sys.executable).parent / "rpcgen")
    server = subprocess.Popen(
        [cli, "serve", f"async_server:{cls}", "--amqp-uri", uri],
        cwd=BENCH,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"PYTHONPATH": f"{BENCH}:{ROOT}", "PATH": str(Path(sys.executable).parent)},
    )
    try:
        brokers.wait_for_consumer(uri, "rpc-hello_service", lambda: server.poll() is None)
        return asyncio.run(burst(uri, calls))
    finally:
        server.terminate()
        server.wait(120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--sync-calls", type=int, default=100)
    p.add_argument("--amqp-uri", help="use this broker instead of starting a private node")
    ns = p.parse_args()
    broker = brokers.external(ns.amqp_uri, None) if ns.amqp_uri else brokers.start_node()
    try:
        rows = [
            (
                "async def, await asyncio.sleep(1)",
                ns.calls,
                *measure(broker.uri, "Sleepy", ns.calls),
            ),
            (
                "def, time.sleep(1)",
                ns.sync_calls,
                *measure(broker.uri, "SleepySync", ns.sync_calls),
            ),
        ]
    finally:
        broker.close()
    print("# rpcgen serve at its defaults (max_workers 10); all calls sent at once\n")
    print("| handler | calls | batch s | calls/s | p50 s | p99 s | max s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, calls, elapsed, lat in rows:
        p99 = lat[max(0, int(len(lat) * 0.99) - 1)]
        print(
            f"| {label} | {calls} | {elapsed:.2f} | {calls / elapsed:,.0f} | "
            f"{statistics.median(lat):.2f} | {p99:.2f} | {lat[-1]:.2f} |"
        )
    (_, _, a_elapsed, _), (_, _, s_elapsed, _) = rows
    ratio = (ns.calls / a_elapsed) / (ns.sync_calls / s_elapsed)
    print(f"\nasync server throughput / sync server throughput: {ratio:.0f}x")


if __name__ == "__main__":
    main()
