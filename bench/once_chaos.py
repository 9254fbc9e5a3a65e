"""Effectively once under chaos (a benchmark script, not a test): duplicate handler runs with
deduplication off and on, while connections are reset and acks and confirms are lost.

    .venv/bin/python bench/once_chaos.py [--calls 10000] [--events 10000] [--seed 1]
                                         [--modes off,local,redis] [--log PATH]

It starts its own RabbitMQ node (``RabbitNode``, no management plugin) and, when
``rpcgen.redisstore`` imports and ``redis-server`` is installed, a throwaway ``RedisServer``
(else the Redis mode is reported as not run). Then, for each mode (``off``: ``once=False``;
``local``: a ``LocalStore``; ``redis``: a ``RedisStore``), on fresh fault proxies
(``tests/faults/faultproxy.py``), one proxy per role:

- RPC servers: a sync and an asyncio server of ``hello_service`` on one queue (two instances of
  one process, sharing the mode's ``Once``); ``test(name)`` counts its runs per name and answers
  ``name#run``;
- event handlers: a sync and an asyncio ``products`` server whose ``on_order`` handlers share the
  ``order_created`` queue, counting runs per order id;
- the futures client: ``--calls`` calls of ``test`` with a unique name each, 50 in flight;
- the dispatcher: ``--events`` ``order_created`` with a unique id each (``dispatch_async``, 50
  unconfirmed at most).

Every 0.2-1 s (at random, ``--seed``) a fault strikes one role's proxy: a RESET of its live
connections, or a RESET armed for every connection of the role at its n-th frame (n in 1..5)
of one kind, until the next fault: a lost ack (``basic.ack`` to the broker, on a server: the
handler ran, the broker redelivers), a lost reply (``basic.publish`` to the broker, on the RPC
server) or a lost confirm (``basic.ack`` to the client, on the client or the dispatcher: the
request or the event is published again). When every call is answered and every event
confirmed, the faults stop; the run waits until every connection is up, every event handled
and the handlers' counts are still for 3 s with both queues empty.

Reported per mode: calls answered and failed, replies from a run other than the first,
events dispatched (and failed), distinct events handled, missing, duplicate handler runs
(runs - distinct ids; requests and events apart), ``runner.duplicates`` (copies settled without
a run) and the faults struck. rpcgen's log (INFO) goes to ``--log`` (default
``bench/results/once_chaos.log``). Exit status 1 if a mode with deduplication on ran a handler
twice, or if any mode lost a call or an event.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import random
import shutil
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pika  # noqa: E402
import rpcgen.runtime as rt  # noqa: E402
from rpcgen.runtime import Backoff  # noqa: E402
from rpcgen.runtime.testing.node import RabbitNode  # noqa: E402

from generated.hello import (  # noqa: E402
    HelloServiceAsyncServer,
    HelloServiceClient,
    HelloServiceServer,
)
from generated.shop import (  # noqa: E402
    OrderCreated,
    OrdersEvent,
    OrdersEvents,
    ProductsAsyncServer,
    ProductsServer,
)
from tests.faults.faultproxy import Armed, Direction, Fault, FaultProxy, Scope, When  # noqa: E402

BASIC_ACK = (60, 80)  # an ack (client -> broker) or a confirm (broker -> client)
BASIC_PUBLISH = (60, 40)
FAST = Backoff(initial=0.05, max=0.5)
OPTIONS: dict[str, Any] = {"connect_timeout": 3.0, "reconnect": FAST}
IN_FLIGHT = 50
RPC_QUEUE = "rpc-hello_service"
EVENT_QUEUE = "evt-orders-order_created--products.on_order"


class Runs:
    """Handler runs per id, across the instances of one role."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_id: Counter[object] = Counter()
        self.where: dict[object, list[str]] = collections.defaultdict(list)
        self.changed = time.monotonic()

    def ran(self, key: object, instance: str) -> int:
        with self.lock:
            self.by_id[key] += 1
            self.where[key].append(f"{instance}@{time.monotonic():.3f}")
            self.changed = time.monotonic()
            return self.by_id[key]

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.by_id.values())

    def duplicates(self) -> int:
        with self.lock:
            return sum(self.by_id.values()) - len(self.by_id)


class SyncHello(HelloServiceServer):
    def __init__(self, runs: Runs) -> None:
        self.runs = runs

    def test(self, name: str) -> str:
        return f"{name}#{self.runs.ran(name, 'sync')}"

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        return a / b


class AsyncHello(HelloServiceAsyncServer):
    def __init__(self, runs: Runs) -> None:
        self.runs = runs

    async def test(self, name: str) -> str:
        return f"{name}#{self.runs.ran(name, 'async')}"

    async def compute(self, a: int, b: int) -> int:
        return a + b

    async def divide(self, a: int, b: int) -> float:
        return a / b


class SyncStock(ProductsServer):
    def __init__(self, runs: Runs) -> None:
        self.runs = runs

    def get_stock(self, product_id: str) -> int:
        return 0

    def take(self, product_id: str, quantity: int) -> int:
        return 0

    @OrdersEvent.order_created.handler()
    def on_order(self, payload: OrderCreated) -> None:
        self.runs.ran(payload.order_id, "sync")


class AsyncStock(ProductsAsyncServer):
    def __init__(self, runs: Runs) -> None:
        self.runs = runs

    async def get_stock(self, product_id: str) -> int:
        return 0

    async def take(self, product_id: str, quantity: int) -> int:
        return 0

    @OrdersEvent.order_created.handler()
    async def on_order(self, payload: OrderCreated) -> None:
        self.runs.ran(payload.order_id, "async")


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
    if not wanted:
        yield None
        return
    from rpcgen.runtime.testing.redis import RedisServer

    with RedisServer() as server:
        yield server.url


class Faults:
    """Strikes a fault at one role's proxy every 0.2-1 s until stopped."""

    def __init__(self, proxies: dict[str, FaultProxy], rng: random.Random) -> None:
        self.proxies = proxies
        self.rng = rng
        self.stop = threading.Event()
        self.struck: Counter[str] = Counter()
        self._armed: list[tuple[str, Armed]] = []
        self.thread = threading.Thread(target=self._run, name="faults", daemon=True)

    def _choices(self) -> list[tuple[str, str, When | None]]:
        def when(method: tuple[int, int], direction: Direction) -> When:
            return When(method, direction=direction, nth=self.rng.randint(1, 5))

        ack, confirm = Direction.TO_BROKER, Direction.TO_CLIENT
        return [
            ("reset", self.rng.choice(list(self.proxies)), None),
            ("lost ack", "rpc server", when(BASIC_ACK, ack)),
            ("lost ack", "event handler", when(BASIC_ACK, ack)),
            ("lost reply", "rpc server", when(BASIC_PUBLISH, ack)),
            ("lost confirm", "client", when(BASIC_ACK, confirm)),
            ("lost confirm", "dispatcher", when(BASIC_ACK, confirm)),
        ]

    def _run(self) -> None:
        while not self.stop.wait(self.rng.uniform(0.2, 1.0)):
            self._settle_armed()
            kind, role, when = self.rng.choice(self._choices())
            proxy = self.proxies[role]
            if when is None:
                self.struck[f"reset ({role})"] += proxy.now(Fault.RESET)
            else:
                self._armed.append(
                    (f"{kind} ({role})", proxy.arm(Fault.RESET, when, scope=Scope.EVERY))
                )
        self._settle_armed()

    def _settle_armed(self) -> None:
        for proxy in self.proxies.values():
            proxy.disarm()
        for name, armed in self._armed:
            self.struck[name] += armed.strikes
        self._armed.clear()

    def __enter__(self) -> Faults:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def queue_depth(uri: str, queue: str) -> int:
    """Ready messages in ``queue`` (a passive declare on a plain pika connection)."""
    conn = pika.BlockingConnection(pika.URLParameters(uri))
    try:
        ok = conn.channel().queue_declare(queue, passive=True)
        return int(ok.method.message_count)
    finally:
        conn.close()


def run_mode(
    mode: str, uri: str, redis_url: str | None, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    store_close = None
    once: rt.Once | bool
    if mode == "off":
        once = False
    elif mode == "local":
        once = rt.Once(rt.LocalStore())
    else:
        from rpcgen.redisstore import RedisStore

        store = RedisStore(redis_url or "", prefix=f"chaos:{uuid.uuid4().hex}:")
        store_close = store.close
        once = rt.Once(store)
    requests, events = Runs(), Runs()
    answered, rerun_replies = 0, 0
    failed_calls: Counter[str] = Counter()
    dispatched: list[int] = []
    failed_events: Counter[str] = Counter()
    first_id = {"off": 1, "local": 2, "redis": 3}[mode] * 10_000_000
    started = time.monotonic()
    with ExitStack() as stack:
        roles = ["rpc server", "event handler", "client", "dispatcher"]
        proxies = {role: stack.enter_context(FaultProxy.to(uri)) for role in roles}
        via = {role: proxy.uri(uri) for role, proxy in proxies.items()}
        runners = [
            stack.enter_context(rt.run_in_background(impl, via[role], once=once, **OPTIONS))
            for impl, role in [
                (SyncHello(requests), "rpc server"),
                (AsyncHello(requests), "rpc server"),
                (SyncStock(events), "event handler"),
                (AsyncStock(events), "event handler"),
            ]
        ]
        client_conn = stack.enter_context(rt.Connection(via["client"], **OPTIONS))
        disp_conn = stack.enter_context(
            rt.Connection(via["dispatcher"], reply_queue=False, **OPTIONS)
        )
        client = HelloServiceClient(client_conn, timeout=120)
        dispatcher = OrdersEvents(disp_conn, timeout=120)
        parts: dict[str, Any] = {  # a Transport here is a Connection (is_connected)
            **{f"runner {i}": r.connection for i, r in enumerate(runners)},
            "client": client_conn,
            "dispatcher": disp_conn,
        }

        def call_loop() -> None:
            nonlocal answered, rerun_replies
            pending: collections.deque[tuple[str, rt.RpcFuture[str]]] = collections.deque()

            def collect(name: str, future: rt.RpcFuture[str]) -> None:
                nonlocal answered, rerun_replies
                try:
                    reply = future.result()
                except Exception as exc:  # counted, reported
                    failed_calls[type(exc).__name__] += 1
                    return
                if reply.rpartition("#")[0] != name:
                    failed_calls["wrong reply"] += 1
                    return
                answered += 1
                rerun_replies += reply != f"{name}#1"

            for i in range(args.calls):
                if len(pending) >= IN_FLIGHT:
                    collect(*pending.popleft())
                name = f"{mode}-{i}"
                pending.append((name, client.test.call_async(name)))
            while pending:
                collect(*pending.popleft())

        def dispatch_loop() -> None:
            pending: collections.deque[tuple[int, rt.RpcFuture[None]]] = collections.deque()

            def collect(order_id: int, future: rt.RpcFuture[None]) -> None:
                try:
                    future.result()
                    dispatched.append(order_id)
                except Exception as exc:  # counted, reported
                    failed_events[type(exc).__name__] += 1

            event = OrdersEvent.order_created
            for i in range(args.events):
                if len(pending) >= IN_FLIGHT:
                    collect(*pending.popleft())
                order_id = first_id + i
                pending.append(
                    (order_id, dispatcher.dispatch_async(event, OrderCreated(order_id, "sku", 1)))
                )
            while pending:
                collect(*pending.popleft())

        workers = [
            threading.Thread(target=call_loop, name="calls", daemon=True),
            threading.Thread(target=dispatch_loop, name="dispatch", daemon=True),
        ]
        with Faults(proxies, rng) as faults:
            for t in workers:
                t.start()
            for t in workers:
                t.join(args.timeout)
        faulted_for = time.monotonic() - started
        hung = [t.name for t in workers if t.is_alive()]

        # Quiet: every connection up, every dispatched event handled, counts still for 3 s with
        # both queues empty (redeliveries of unacked messages come right after a reconnect).
        deadline = time.monotonic() + 90
        settled = False
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if not all(c.is_connected for c in parts.values()):
                continue
            with events.lock:
                handled = set(events.by_id)
            if not set(dispatched) <= handled:
                continue
            quiet_since = max(requests.changed, events.changed)
            if time.monotonic() - quiet_since < 3:
                continue
            if queue_depth(uri, RPC_QUEUE) or queue_depth(uri, EVENT_QUEUE):
                continue
            settled = True
            break
        settle_duplicates = sum(r.duplicates for r in runners)
        runner_errors = [repr(r.error) for r in runners if r.error is not None]
    if store_close is not None:
        store_close()

    with events.lock:
        handled_ids = set(events.by_id)
    missing = sorted(set(dispatched) - handled_ids)
    report: dict[str, Any] = {
        "mode": mode,
        "seconds": round(faulted_for, 1),
        "calls": {
            "sent": args.calls,
            "answered": answered,
            "failed": dict(failed_calls),
            "answered by a rerun": rerun_replies,
            "distinct run": len(requests.by_id),
            "duplicate runs": requests.duplicates(),
        },
        "events": {
            "dispatched": len(dispatched),
            "failed": dict(failed_events),
            "distinct handled": len(handled_ids & set(dispatched)),
            "missing": len(missing),
            "duplicate runs": events.duplicates(),
        },
        "copies settled without a run (runner.duplicates)": settle_duplicates,
        "faults struck": dict(faults.struck),
        "faults total": sum(faults.struck.values()),
        "settled": settled,
        "hung": hung,
        "runner errors": runner_errors,
    }
    examples: list[dict[str, object]] = []
    for runs in (requests, events):
        with runs.lock:
            for key, count in runs.by_id.items():
                if count > 1 and len(examples) < 10:
                    examples.append({"id": key, "runs": runs.where[key]})
    report["duplicate examples"] = examples
    lost = (
        answered < args.calls
        or len(dispatched) < args.events
        or bool(missing)
        or not settled
        or bool(hung)
        or bool(runner_errors)
    )
    dup = requests.duplicates() + events.duplicates()
    report["ok"] = not lost and (mode == "off" or dup == 0)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", default="off,local,redis")
    parser.add_argument("--timeout", type=float, default=240, help="seconds per mode's workload")
    parser.add_argument("--log", type=Path, default=ROOT / "bench" / "results" / "once_chaos.log")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    args.log.parent.mkdir(parents=True, exist_ok=True)
    rpcgen_log = logging.getLogger("rpcgen")
    rpcgen_log.setLevel(logging.INFO)
    rpcgen_log.propagate = False
    to_file = logging.FileHandler(args.log, mode="w")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(name)s %(message)s"))
    rpcgen_log.addHandler(to_file)

    why_not = redis_available()
    modes = [m for m in args.modes.split(",") if m]
    skipped = {}
    if "redis" in modes and why_not is not None:
        modes.remove("redis")
        skipped["redis"] = why_not
    reports = []
    began = time.monotonic()
    with RabbitNode(management=False) as node, maybe_redis("redis" in modes) as redis_url:
        for i, mode in enumerate(modes):
            rpcgen_log.info("=== mode %s ===", mode)
            report = run_mode(mode, node.uri, redis_url, args, args.seed * 100 + i)
            reports.append(report)
            print(json.dumps(report, indent=2), flush=True)
    elapsed = time.monotonic() - began

    print()
    print(
        f"{args.calls} calls + {args.events} events per mode, faults every 0.2-1 s "
        f"(seed {args.seed}), {elapsed:.0f} s in all; rpcgen's log: {args.log}"
    )
    print(
        "| once | calls answered / failed | replies from a rerun "
        "| events dispatched / handled (distinct) / missing "
        "| duplicate runs: requests / events | copies settled without a run | faults struck |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in reports:
        c, e = r["calls"], r["events"]
        print(
            f"| {LABELS[r['mode']]} | {c['answered']:,} / {sum(c['failed'].values())} "
            f"| {c['answered by a rerun']:,} "
            f"| {e['dispatched']:,} / {e['distinct handled']:,} / {e['missing']} "
            f"| {c['duplicate runs']:,} / {e['duplicate runs']:,} "
            f"| {r['copies settled without a run (runner.duplicates)']:,} | {r['faults total']} |"
        )
    for mode, why in skipped.items():
        print(f"| {LABELS[mode]} | not run: {why} |")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2))
    ok = all(r["ok"] for r in reports)
    print("OK" if ok else "FAILED: a call or an event was lost, or deduplication let a copy run")
    return 0 if ok else 1


LABELS = {"off": "off (`once=False`)", "local": "LocalStore", "redis": "RedisStore"}


if __name__ == "__main__":
    sys.exit(main())
