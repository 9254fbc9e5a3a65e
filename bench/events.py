"""Events: rpcgen's dispatch and handling against Nameko's, in one run on a private broker.

    python bench/events.py [--events 2000] [--reps 3]

Figures (medians of interleaved repetitions):
- dispatch/s: events published with publisher confirms. Nameko: one worker calling its
  ``EventDispatcher`` n times (it waits for each confirm). rpcgen: the sync ``OrdersEvents``
  (waits for each confirm, like Nameko), its ``dispatch_async`` with 100 futures in flight from
  one thread (done when all are confirmed), and the asyncio ``OrdersAsyncEvents`` with 100 in flight
  (confirms tracked, not waited for one by one).
- handled/s end to end: n events dispatched, until the last one has been handled by a
  ``service_pool`` handler (default settings: 10 workers, prefetch 10). Nameko: its
  ``EventDispatcher`` and ``@event_handler``; rpcgen: ``OrdersAsyncEvents`` and a handler of
  ``OrdersEvent.order_created``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

import rpcgen.runtime as rt  # noqa: E402
from rpcgen.runtime.testing.node import RabbitNode  # noqa: E402

from generated.shop import (  # noqa: E402
    OrderCreated,
    OrdersAsyncEvents,
    OrdersEvent,
    OrdersEvents,
    ProductsServer,
)

NAMEKO_PYTHON = ROOT / ".venv-nameko/bin/python"


class Counter(ProductsServer):
    service_name = "bench_rproducts"

    def __init__(self) -> None:
        self.handled = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.target = 0

    def get_stock(self, product_id: str) -> int:
        return 0

    def take(self, product_id: str, quantity: int) -> int:
        return 0

    @OrdersEvent.order_created.handler()
    def on_order(self, payload: OrderCreated) -> None:
        with self.lock:
            self.handled += 1
            if self.handled >= self.target:
                self.done.set()


def rpcgen_sync_dispatch(uri: str, n: int) -> float:
    with OrdersEvents.connect(uri) as events:
        start = time.perf_counter()
        for i in range(n):
            events.order_created(OrderCreated(i, "sku", 1))
        return n / (time.perf_counter() - start)


def rpcgen_sync_pipelined(uri: str, n: int, in_flight: int = 100) -> float:
    """``dispatch_async`` from one thread, at most ``in_flight`` unconfirmed; done when every
    future has resolved (every event confirmed)."""
    with OrdersEvents.connect(uri) as events:
        event = OrdersEvent.order_created
        start = time.perf_counter()
        pending: collections.deque[rt.RpcFuture[None]] = collections.deque()
        for i in range(n):
            if len(pending) >= in_flight:
                pending.popleft().result()
            pending.append(events.dispatch_async(event, OrderCreated(i, "sku", 1)))
        for future in pending:
            future.result()
        return n / (time.perf_counter() - start)


async def _async_dispatch(uri: str, n: int, in_flight: int = 100) -> float:
    async with OrdersAsyncEvents.connect(uri) as events:
        start = time.perf_counter()
        for base in range(0, n, in_flight):
            await asyncio.gather(
                *(
                    events.order_created(OrderCreated(i, "sku", 1))
                    for i in range(base, base + in_flight)
                )
            )
        return n / (time.perf_counter() - start)


def rpcgen_async_dispatch(uri: str, n: int) -> float:
    return asyncio.run(_async_dispatch(uri, n))


def rpcgen_end_to_end(uri: str, n: int, counter: Counter) -> float:
    with counter.lock:
        counter.handled, counter.target = 0, n
        counter.done.clear()
    start = time.perf_counter()
    asyncio.run(_async_dispatch(uri, n))
    assert counter.done.wait(120), f"handled {counter.handled} of {n}"
    return n / (time.perf_counter() - start)


class Nameko:
    """``nameko run nameko_events`` and a standalone proxy in the Nameko venv."""

    def __init__(self, uri: str) -> None:
        config = BENCH / "results" / "nameko_events.yaml"
        config.parent.mkdir(exist_ok=True)
        config.write_text(json.dumps({"AMQP_URI": uri}))
        self.uri = uri
        command = ["-W", "ignore", "-m", "nameko", "run", "--config", str(config), "nameko_events"]
        self.proc = subprocess.Popen(
            [str(NAMEKO_PYTHON), *command],
            cwd=BENCH,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def call(self, service: str, method: str, *args: object) -> object:
        target = f"getattr(getattr(p, {service!r}), {method!r})"
        script = (
            "import json\n"
            "from nameko.standalone.rpc import ClusterRpcProxy\n"
            f"with ClusterRpcProxy({{'AMQP_URI': {self.uri!r}}}, timeout=300) as p:\n"
            f"    print(json.dumps({target}(*{list(args)!r})))\n"
        )
        out = subprocess.run(
            [str(NAMEKO_PYTHON), "-W", "ignore", "-c", script],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                self.call("bench_products", "handled")
                return
            except subprocess.CalledProcessError:
                assert time.monotonic() < deadline, "Nameko did not start"
                time.sleep(0.5)

    def dispatch_rate(self, n: int) -> float:
        seconds = self.call("bench_orders", "dispatch_many", n)
        assert isinstance(seconds, float)
        return n / seconds

    def end_to_end(self, n: int) -> float:
        before = self.call("bench_products", "handled")
        assert isinstance(before, dict)
        start = time.time()
        self.call("bench_orders", "dispatch_many", n)
        while True:
            now = self.call("bench_products", "handled")
            assert isinstance(now, dict)
            if now["n"] - before["n"] >= n:
                return n / (now["last"] - start)
            time.sleep(0.2)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    n = args.events
    figures: dict[str, list[float]] = {}
    with RabbitNode(management=False) as node:
        nameko = Nameko(node.uri)
        counter = Counter()
        try:
            nameko.wait_ready()
            with rt.run_in_background(counter, node.uri):
                uri = node.uri
                for rep in range(args.reps):
                    runs = {
                        "Nameko EventDispatcher, dispatch/s": lambda: nameko.dispatch_rate(n),
                        "rpcgen sync dispatch/s": lambda: rpcgen_sync_dispatch(uri, n),
                        "rpcgen sync dispatch_async/s (100 in flight)": lambda: (
                            rpcgen_sync_pipelined(uri, n)
                        ),
                        "rpcgen asyncio dispatch/s (100 in flight)": lambda: rpcgen_async_dispatch(
                            uri, n
                        ),
                        "Nameko end to end, handled/s": lambda: nameko.end_to_end(n),
                        "rpcgen end to end, handled/s": lambda: rpcgen_end_to_end(uri, n, counter),
                    }
                    for name, run in runs.items():
                        value = run()
                        figures.setdefault(name, []).append(value)
                        print(f"[rep {rep + 1}/{args.reps}] {name}: {value:,.0f}", flush=True)
        finally:
            nameko.close()
    medians = {name: statistics.median(values) for name, values in figures.items()}
    nameko_dispatch = medians["Nameko EventDispatcher, dispatch/s"]
    nameko_e2e = medians["Nameko end to end, handled/s"]
    print(f"\n{n} events per run, medians of {args.reps} interleaved repetitions")
    print("| figure | per second | vs Nameko |\n|---|---:|---:|")
    for name, value in medians.items():
        base = nameko_e2e if "end to end" in name else nameko_dispatch
        print(f"| {name} | {value:,.0f} | {value / base:.1f}x |")


if __name__ == "__main__":
    main()
