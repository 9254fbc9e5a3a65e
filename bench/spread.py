"""Where requests go when one of two servers is slow, at several prefetch settings.

Two `rpcgen serve`-style server processes of `hello_service` share its queue: a fast one and one
whose handler sleeps (`--slow-ms`). A client keeps `--in-flight` calls outstanding until `--calls`
are answered (asyncio tasks, each calling in turn). Each server answers `compute(i, 0)` with
`i + tag` (tag 0 or 1,000,000), so the client counts where each call went, and times each. A
server holds at most `prefetch` requests at once (RabbitMQ delivers to a consumer while it has
credit), so the slow one takes a share bounded by its prefetch, and the calls it takes wait behind
each other there: the cost of a larger prefetch is that share and tail, the gain is throughput
(see docs/performance.md).

    python bench/spread.py [--prefetch default,10,40,100] [--calls 4000] [--in-flight 200]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))  # generated/ (when run as a script)
sys.path.insert(0, str(BENCH))  # broker.py

import broker as brokers  # noqa: E402
from rpcgen.runtime import serve  # noqa: E402

from generated.hello import HelloServiceAsyncClient, HelloServiceServer  # noqa: E402

TAG = 1_000_000


class Tagged(HelloServiceServer):
    """``compute(a, b)`` answers ``a + b + tag`` after ``delay`` seconds."""

    def __init__(self, tag: int, delay: float) -> None:
        self.tag = tag
        self.delay = delay

    def compute(self, a: int, b: int) -> int:
        if self.delay:
            time.sleep(self.delay)
        return a + b + self.tag

    def test(self, name: str) -> str:
        return name

    def divide(self, a: int, b: int) -> float:
        return a / b


def run_server(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--uri", required=True)
    p.add_argument("--tag", type=int, required=True)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--prefetch", type=int)
    ns = p.parse_args(argv)
    serve(Tagged(ns.tag, ns.delay), ns.uri, prefetch=ns.prefetch)


def measure(
    uri: str, calls: int, in_flight: int
) -> tuple[collections.Counter[str], list[float], float]:
    """Where each call went, each call's latency (s), and the calls per second: ``in_flight``
    asyncio tasks, each making calls one after another until ``calls`` have been made."""
    where: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    numbers = iter(range(calls))

    async def caller(client: HelloServiceAsyncClient) -> None:
        for i in numbers:
            t0 = time.perf_counter()
            value = await client.compute(i, 0)
            latencies.append(time.perf_counter() - t0)
            where["slow" if value - i >= TAG else "fast"] += 1

    async def run() -> float:
        async with HelloServiceAsyncClient.connect(uri, timeout=120) as client:
            await client.compute(0, 0)  # connected and routed
            start = time.perf_counter()
            await asyncio.gather(*(caller(client) for _ in range(in_flight)))
            return time.perf_counter() - start

    elapsed = asyncio.run(run())
    return where, latencies, calls / elapsed


def _alive(servers: list[subprocess.Popen[bytes]]) -> Callable[[], bool]:
    return lambda: all(server.poll() is None for server in servers)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "server":
        run_server(sys.argv[2:])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--prefetch", default="default,10,40,100", help="settings to compare")
    p.add_argument("--calls", type=int, default=4000)
    p.add_argument("--in-flight", type=int, default=200)
    p.add_argument("--slow-ms", type=float, default=20.0)
    ns = p.parse_args()
    broker = brokers.start_node()
    rows = []
    try:
        for setting in ns.prefetch.split(","):
            extra = [] if setting == "default" else ["--prefetch", setting]
            argv = [sys.executable, __file__, "server", "--uri", broker.uri, *extra]
            servers = [
                subprocess.Popen(
                    [*argv, "--tag", str(tag), "--delay", str(delay)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for tag, delay in ((0, 0.0), (TAG, ns.slow_ms / 1000))
            ]
            try:
                brokers.wait_for_consumer(
                    broker.uri, "rpc-hello_service", _alive(servers), consumers=2
                )
                where, lat, rate = measure(broker.uri, ns.calls, ns.in_flight)
            finally:
                for server in servers:
                    server.terminate()
                for server in servers:
                    server.wait(30)
            lat.sort()
            rows.append(
                (
                    setting,
                    where["fast"],
                    where["slow"],
                    rate,
                    statistics.median(lat) * 1000,
                    lat[int(len(lat) * 0.99) - 1] * 1000,
                )
            )
    finally:
        broker.close()
    print(
        f"# {ns.calls} calls, {ns.in_flight} in flight; two servers (max_workers 10), one "
        f"sleeping {ns.slow_ms:g} ms per call\n"
    )
    print("| prefetch | fast server | slow server | calls/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for setting, fast, slow, rate, p50, p99 in rows:
        print(f"| {setting} | {fast} | {slow} | {rate:,.0f} | {p50:.1f} | {p99:.1f} |")


if __name__ == "__main__":
    main()
