"""Calls per second on the in-memory transport (no broker): what a unit test suite pays per call.

    python bench/memory.py [--calls 20000] [--reps 3]

Each figure is the median of ``reps`` runs of ``calls`` calls to ``hello_service.compute``
through the generated ``HelloServiceClient`` (default timeout, so every request carries a
deadline header), one sequential caller, a fresh ``MemoryBroker`` per run:

- sync, workers: the default; each request is served by the runner's worker threads, as on a
  real broker (two thread hand-offs per call);
- sync, caller_runs: ``MemoryBroker(caller_runs=True)``; the caller's thread serves its own
  request when the service is idle;
- futures: ``call_async`` with 100 in flight (workers, 10 of them, prefetch 100);
- asyncio: ``HelloServiceAsyncClient`` with 100 in flight;

and the process CPU time per sync call (all threads), which other load on the machine disturbs
less than the rates.

The machine is shared and noisy: compare figures of one run, and read them as orders of size.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rpcgen.runtime as rt  # noqa: E402
from rpcgen.runtime.testing import MemoryBroker  # noqa: E402

from generated.hello import (  # noqa: E402
    DivisionByZero,
    HelloServiceAsyncClient,
    HelloServiceClient,
    HelloServiceServer,
)


class Hello(HelloServiceServer):
    def test(self, name: str) -> str:
        return f"hello, {name}"

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero("b is 0")
        return a / b


def sync_rate(calls: int, caller_runs: bool) -> float:
    with (
        MemoryBroker(caller_runs=caller_runs) as broker,
        rt.run_in_background(Hello(), broker.uri),
        HelloServiceClient.connect(broker.uri) as client,
    ):
        for i in range(200):  # warm up
            client.compute(i, 1)
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(calls):
            client.compute(i, 1)
        wall = time.perf_counter() - start
        _cpu_per_call.setdefault(caller_runs, []).append((time.process_time() - cpu) / calls)
        return calls / wall


_cpu_per_call: dict[bool, list[float]] = {}
"""Process CPU seconds per sync call (all threads), by ``caller_runs``: less noisy than rates."""


def futures_rate(calls: int) -> float:
    with (
        MemoryBroker() as broker,
        rt.run_in_background(Hello(), broker.uri, prefetch=100),
        HelloServiceClient.connect(broker.uri) as client,
    ):
        start = time.perf_counter()
        for base in range(0, calls, 100):
            futures = [client.compute.call_async(base + i, 1) for i in range(100)]
            for future in futures:
                future.result()
        return calls / (time.perf_counter() - start)


def asyncio_rate(calls: int) -> float:
    async def run(uri: str) -> float:
        async with HelloServiceAsyncClient.connect(uri) as client:
            start = time.perf_counter()
            for base in range(0, calls, 100):
                await asyncio.gather(*(client.compute(base + i, 1) for i in range(100)))
            return calls / (time.perf_counter() - start)

    with MemoryBroker() as broker, rt.run_in_background(Hello(), broker.uri, prefetch=100):
        return asyncio.run(run(broker.uri))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    cases: dict[str, Callable[[], float]] = {
        "sync, workers (default)": lambda: sync_rate(args.calls, caller_runs=False),
        "sync, caller_runs=True": lambda: sync_rate(args.calls, caller_runs=True),
        "futures, 100 in flight": lambda: futures_rate(args.calls),
        "asyncio, 100 in flight": lambda: asyncio_rate(args.calls),
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.reps):  # interleaved, so a noisy moment hits every case alike
        for name, case in cases.items():
            results[name].append(case())
    print(f"in-memory transport, {args.calls} calls x {args.reps} reps (median calls/s):")
    for name, rates in results.items():
        print(f"  {name:<26} {statistics.median(rates):>8,.0f}/s")
    for caller_runs, cpu in _cpu_per_call.items():
        mode = "caller_runs" if caller_runs else "workers"
        print(f"  CPU per sync call, {mode:<11} {statistics.median(cpu) * 1e6:>8.0f} us")


if __name__ == "__main__":
    main()
