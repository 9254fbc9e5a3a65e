"""What effectively-once costs a call and an event on a real broker: a server with deduplication
off (``once=False``), on with ``LocalStore`` (the default), and on with ``RedisStore``.

    .venv/bin/python bench/once_cost.py [--reps 7] [--seq 1000] [--calls 5000] [--events 5000]
    .venv/bin/python bench/once_cost.py --quick         # a smoke run, ~30 s

It starts its own RabbitMQ node (``RabbitNode``, no management plugin) and, when
``rpcgen.redisstore`` imports and ``redis-server`` is installed, a throwaway ``RedisServer``
(loopback, no persistence); otherwise the Redis mode is reported as not run. One server class
(``products``: ``get_stock`` answers at once, an ``order_created`` handler counts) runs with
default settings (10 workers), started afresh for each mode in each repetition; the client, the
dispatcher and the broker stay up. Per mode and repetition:

- sequential latency: ``--seq`` calls of ``get_stock`` one after the other on the sync client,
  p50 in µs;
- calls/s at 100 in flight: ``--calls`` calls with the futures client (``call_async``), at most
  100 unanswered, until the last reply;
- events/s: ``--events`` events dispatched with ``dispatch_async`` (100 unconfirmed at most), until
  the handler has run for the last one.

The modes take turns in each repetition (the order rotates), so a drift of the shared machine
hits them alike; reported are the medians over the repetitions and their ratio to "off" in the
same run. Every run checks that the handler saw each event once and that nothing was settled
as a copy (``runner.duplicates`` is 0: there are no faults here).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rpcgen.runtime as rt  # noqa: E402
from rpcgen.runtime.testing.node import RabbitNode  # noqa: E402

from generated.shop import (  # noqa: E402
    OrderCreated,
    OrdersEvent,
    OrdersEvents,
    ProductsClient,
    ProductsServer,
)

IN_FLIGHT = 100


class Products(ProductsServer):
    """Answers ``get_stock`` at once; counts ``order_created`` runs (and the distinct ids)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: set[int] = set()
        self.runs = 0
        self.target = 0
        self.all_seen = threading.Event()
        self.last = 0.0

    def expect(self, n: int) -> None:
        with self.lock:
            self.seen.clear()
            self.runs, self.target, self.last = 0, n, 0.0
            self.all_seen.clear()

    def get_stock(self, product_id: str) -> int:
        return len(product_id)

    def take(self, product_id: str, quantity: int) -> int:
        return 0

    @OrdersEvent.order_created.handler()
    def on_order(self, payload: OrderCreated) -> None:
        with self.lock:
            self.runs += 1
            self.seen.add(payload.order_id)
            if len(self.seen) >= self.target:
                self.last = time.perf_counter()
                self.all_seen.set()


def redis_available() -> str | None:
    """None if the Redis mode can run, else why not."""
    try:
        import rpcgen.redisstore  # noqa: F401
    except ImportError as exc:
        return f"rpcgen.redisstore does not import ({exc})"
    if shutil.which("redis-server") is None and not Path("/usr/bin/redis-server").exists():
        return "redis-server is not installed (source scripts/_setup.sh && ensure_redis)"
    return None


@contextmanager
def maybe_redis(wanted: bool) -> Iterator[str | None]:
    """A throwaway redis-server's URL, or None when the Redis mode does not run."""
    if not wanted:
        yield None
        return
    from rpcgen.runtime.testing.redis import RedisServer

    with RedisServer() as server:
        yield server.url


def make_once(mode: str, redis_url: str | None) -> tuple[rt.Once | bool, Callable[[], None]]:
    """The ``once`` argument of a mode, and what closes its store."""
    if mode == "off":
        return False, lambda: None
    if mode == "local":
        return rt.Once(rt.LocalStore()), lambda: None
    from rpcgen.redisstore import RedisStore

    assert redis_url is not None
    store = RedisStore(redis_url, prefix=f"bench:{uuid.uuid4().hex}:")
    return rt.Once(store), store.close


def sequential_p50_us(client: ProductsClient, n: int) -> float:
    times = []
    for i in range(n):
        start = time.perf_counter()
        if client.get_stock(f"p{i}") != len(f"p{i}"):
            raise AssertionError("wrong reply")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def calls_per_s(client: ProductsClient, n: int) -> float:
    pending: collections.deque[tuple[int, rt.RpcFuture[int]]] = collections.deque()

    def check(i: int, future: rt.RpcFuture[int]) -> None:
        if future.result() != len(f"q{i}"):
            raise AssertionError("wrong reply")

    start = time.perf_counter()
    for i in range(n):
        if len(pending) >= IN_FLIGHT:
            check(*pending.popleft())
        pending.append((i, client.get_stock.call_async(f"q{i}")))
    while pending:
        check(*pending.popleft())
    return n / (time.perf_counter() - start)


def events_per_s(events: OrdersEvents, impl: Products, n: int) -> float:
    impl.expect(n)
    event = OrdersEvent.order_created
    pending: collections.deque[rt.RpcFuture[None]] = collections.deque()
    start = time.perf_counter()
    for i in range(n):
        if len(pending) >= IN_FLIGHT:
            pending.popleft().result()
        pending.append(events.dispatch_async(event, OrderCreated(i, "sku", 1)))
    for future in pending:
        future.result()
    if not impl.all_seen.wait(120):
        raise AssertionError(f"the handler saw {len(impl.seen)} of {n} events")
    if impl.runs != n:
        raise AssertionError(f"{impl.runs} handler runs for {n} events")
    return n / (impl.last - start)


METRICS = [
    ("seq p50 µs", "{:,.0f}"),
    ("calls/s, 100 in flight", "{:,.0f}"),
    ("events/s handled", "{:,.0f}"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--seq", type=int, default=1000, help="sequential calls per sample")
    parser.add_argument("--calls", type=int, default=5000, help="calls at 100 in flight")
    parser.add_argument("--events", type=int, default=5000, help="events per sample")
    parser.add_argument("--quick", action="store_true", help="a smoke run (2 reps, small n)")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.seq, args.calls, args.events = 2, 200, 500, 500

    why_not = redis_available()
    modes = ["off", "local"] + (["redis"] if why_not is None else [])
    samples: dict[str, dict[str, list[float]]] = {
        mode: {name: [] for name, _ in METRICS} for mode in modes
    }
    began = time.monotonic()
    with (
        RabbitNode(management=False) as node,
        maybe_redis(why_not is None) as redis,
        rt.Connection(node.uri) as conn,
        OrdersEvents.connect(node.uri, timeout=60) as events,
    ):
        client = ProductsClient(conn, timeout=60)
        impl = Products()
        for rep in range(args.reps + 1):  # the first round warms up and is not counted
            order = modes[rep % len(modes) :] + modes[: rep % len(modes)]
            for mode in order:
                once, close = make_once(mode, redis)
                try:
                    with rt.run_in_background(impl, node.uri, once=once) as runner:
                        figures = (
                            sequential_p50_us(client, args.seq),
                            calls_per_s(client, args.calls),
                            events_per_s(events, impl, args.events),
                        )
                        if runner.duplicates:
                            raise AssertionError(f"{mode}: {runner.duplicates} copies settled")
                finally:
                    close()
                if rep == 0:
                    continue
                for (name, _), value in zip(METRICS, figures, strict=True):
                    samples[mode][name].append(value)
                print(
                    f"rep {rep} {mode:<6} "
                    + "  ".join(
                        f"{n}: {f.format(v)}" for (n, f), v in zip(METRICS, figures, strict=True)
                    )
                )
    elapsed = time.monotonic() - began

    print()
    print(
        f"{args.reps} repetitions ({elapsed:.0f} s); per sample {args.seq} sequential calls, "
        f"{args.calls} calls at {IN_FLIGHT} in flight, {args.events} events; medians"
    )
    medians = {m: {n: statistics.median(v) for n, v in samples[m].items()} for m in modes}
    header = "| once | " + " | ".join(n for n, _ in METRICS) + " |"
    print(header)
    print("|---|" + "---:|" * len(METRICS))
    for mode in modes:
        cells = []
        for name, fmt in METRICS:
            value = medians[mode][name]
            ratio = value / medians["off"][name]
            cells.append(fmt.format(value) + ("" if mode == "off" else f" ({ratio:.2f}x)"))
        print(f"| {LABELS[mode]} | " + " | ".join(cells) + " |")
    if why_not is not None:
        print(f"| {LABELS['redis']} | not run: {why_not} |")
    return 0


LABELS = {
    "off": "off (`once=False`)",
    "local": "LocalStore",
    "redis": "RedisStore (local redis-server)",
}


if __name__ == "__main__":
    sys.exit(main())
