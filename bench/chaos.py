"""Chaos run (a benchmark script, not a test): faults for a bounded time, then the verdict.

    python bench/chaos.py [--duration 90] [--seed 1] [--json out.json]

It starts its own RabbitMQ node (``RabbitNode``, no management plugin), the fault proxy of
``tests/faults/faultproxy.py`` in front of it, and two ``AcceptThenReset`` endpoints (they accept
each TCP connection and reset it at once, as a load balancer in front of a broker that is down).
Every connection of the run lists the proxy and one such endpoint (the server and the event
handler list the endpoint first, so every round of theirs hits it), with ``heartbeat=2`` and a
fast ``Backoff``:

- an RPC server (``Itest``) and an event-handler server (``Handler`` of ``order_created``);
- a sync client (2 threads calling ``hello`` back to back) and an asyncio client (16 calls in
  flight), timeout 60 s;
- an event dispatcher publishing ``order_created`` with increasing ids.

For ``--duration`` seconds a fault strikes every 1-4 s (``--seed`` makes the sequence
repeatable): an RST of every proxied connection, a black hole (found by the heartbeat), a stall
of 1.5 s, or a broker stop of 2-4 s then start (meanwhile every reconnect round hits the
resetting endpoints). Every 0.2 s it checks that no connection has ended for good.

Then the faults stop, every connection must be connected again within 60 s, and each part must
serve once more (a sync call, an async call, an event handled). Reported: calls answered and
failed (by type), events dispatched and handled (distinct ids) and missing, faults by kind,
resets by the endpoints, losses logged. The run is OK, and exits 0, only if no connection ended,
no call failed, no event is missing, and everything serves at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import queue
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rpcgen.runtime as rt  # noqa: E402
from rpcgen.runtime import Backoff  # noqa: E402
from rpcgen.runtime.testing.node import RabbitNode  # noqa: E402

from generated.shop import OrderCreated, OrdersEvents  # noqa: E402
from tests.faults.faultproxy import AcceptThenReset, Fault, FaultProxy  # noqa: E402
from tests.faults.test_event_reliability import Handler  # noqa: E402
from tests.integration.impls import Itest  # noqa: E402
from tests.integration.stubs import ItestAsyncClient, ItestClient  # noqa: E402

FAST = Backoff(initial=0.05, max=0.5)
OPTIONS: dict[str, Any] = {"heartbeat": 2, "connect_timeout": 3.0, "reconnect": FAST}


class Losses(logging.Handler):
    """Counts rpcgen's WARNING lines about losses and reconnects, and anything at ERROR."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.levelno >= logging.ERROR:
            self.counts["error lines"] += 1
        elif text.startswith("lost the connection"):
            self.counts["losses"] += 1
        elif text.startswith("reconnected"):
            self.counts["reconnects"] += 1
        elif text.startswith("cannot connect"):
            self.counts["failed rounds"] += 1


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answered = 0
        self.failed: Counter[str] = Counter()

    def ok(self) -> None:
        with self.lock:
            self.answered += 1

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            self.failed[type(exc).__name__] += 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    losses = Losses()
    rpcgen_log = logging.getLogger("rpcgen")
    rpcgen_log.setLevel(logging.WARNING)
    rpcgen_log.propagate = False  # counted, not printed (but ERROR lines are printed)
    rpcgen_log.addHandler(losses)
    printer = logging.StreamHandler()
    printer.setLevel(logging.ERROR)
    rpcgen_log.addHandler(printer)
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(name)s %(message)s")

    with (
        RabbitNode(management=False) as node,
        FaultProxy.to(node.uri) as proxy,
        AcceptThenReset() as atr1,
        AcceptThenReset() as atr2,
    ):
        via = proxy.uri(node.uri)
        client_uris = [via, atr1.uri(node.uri)]
        server_uris = [atr2.uri(node.uri), via]
        handler = Handler()
        sync_calls, async_calls = Tally(), Tally()
        dispatched: list[int] = []
        dispatch_failed: Counter[str] = Counter()
        stop = threading.Event()
        ended: list[str] = []
        faults: Counter[str] = Counter()

        with (
            rt.run_in_background(Itest(), server_uris, max_workers=4, **OPTIONS) as rpc_server,
            rt.run_in_background(handler, server_uris, max_workers=2, **OPTIONS) as evt_server,
            rt.Connection(client_uris, **OPTIONS) as sync_conn,
            rt.Connection(client_uris, **OPTIONS) as async_conn,
            rt.Connection(client_uris, reply_queue=False, **OPTIONS) as evt_conn,
        ):
            parts = {
                "rpc server": rpc_server.connection,
                "event handler": evt_server.connection,
                "sync client": sync_conn,
                "asyncio client": async_conn,
                "event dispatcher": evt_conn,
            }
            client = ItestClient(sync_conn, timeout=60)
            events = OrdersEvents(evt_conn, timeout=60)

            def call_loop(n: int) -> None:
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        assert client.hello(f"{n}-{i}") == f"hello, {n}-{i}"
                        sync_calls.ok()
                    except BaseException as exc:  # counted, reported
                        sync_calls.fail(exc)

            async def async_loop() -> None:
                aclient = ItestAsyncClient(async_conn, timeout=60)

                async def one(k: int) -> None:
                    i = 0
                    while not stop.is_set():
                        i += 1
                        try:
                            assert await aclient.hello(f"a{k}-{i}") == f"hello, a{k}-{i}"
                            async_calls.ok()
                        except BaseException as exc:  # counted, reported
                            async_calls.fail(exc)

                await asyncio.gather(*(one(k) for k in range(16)))

            def dispatch_loop() -> None:
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        events.order_created(OrderCreated(i, "sku", 1))
                        dispatched.append(i)
                    except BaseException as exc:  # counted, reported
                        dispatch_failed[type(exc).__name__] += 1
                    time.sleep(0.01)

            def watch() -> None:
                while not stop.is_set():
                    for name, conn in parts.items():
                        if not conn.is_open and name not in ended:
                            ended.append(name)
                    time.sleep(0.2)

            threads = [threading.Thread(target=call_loop, args=(n,), daemon=True) for n in (1, 2)]
            threads.append(threading.Thread(target=lambda: asyncio.run(async_loop()), daemon=True))
            threads.append(threading.Thread(target=dispatch_loop, daemon=True))
            threads.append(threading.Thread(target=watch, daemon=True))
            for t in threads:
                t.start()

            started = time.monotonic()
            while time.monotonic() - started < args.duration:
                time.sleep(rng.uniform(1.0, 4.0))
                kind = rng.choice(["reset", "reset", "blackhole", "stall", "broker down"])
                faults[kind] += 1
                if kind == "reset":
                    proxy.now(Fault.RESET)
                elif kind == "blackhole":
                    proxy.now(Fault.BLACKHOLE)
                elif kind == "stall":
                    proxy.now(Fault.STALL, seconds=1.5)
                else:
                    node.stop()
                    time.sleep(rng.uniform(2.0, 4.0))
                    node.start()
            faulted_for = time.monotonic() - started

            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(c.is_connected for c in parts.values()):
                time.sleep(0.1)
            connected = {name: c.is_connected for name, c in parts.items()}
            stop.set()
            for t in threads:
                t.join(90)
            hung = sum(t.is_alive() for t in threads)

            final: dict[str, bool] = {}
            try:
                final["sync call"] = client.with_timeout(30).hello("end") == "hello, end"
            except Exception as exc:
                final["sync call"] = False
                print("final sync call:", repr(exc))

            async def last() -> str:
                return await ItestAsyncClient(async_conn, timeout=30).hello("end")

            try:
                final["async call"] = asyncio.run(last()) == "hello, end"
            except Exception as exc:
                final["async call"] = False
                print("final async call:", repr(exc))
            final_id = 10**9
            events.order_created(OrderCreated(final_id, "sku", 1))
            seen: set[int] = set()
            deadline = time.monotonic() + 60
            while final_id not in seen and time.monotonic() < deadline:
                try:
                    seen.add(handler.got.get(timeout=1))
                except queue.Empty:
                    continue
            while not handler.got.empty():
                seen.add(handler.got.get_nowait())
            final["event handled"] = final_id in seen
            missing = sorted(set(dispatched) - seen)
            runner_errors = [str(r.error) for r in (rpc_server, evt_server) if r.error is not None]

    report = {
        "duration_s": round(faulted_for, 1),
        "faults": dict(faults),
        "resets_by_accept_then_reset_endpoints": atr1.accepted + atr2.accepted,
        "sync_calls": {"answered": sync_calls.answered, "failed": dict(sync_calls.failed)},
        "async_calls": {"answered": async_calls.answered, "failed": dict(async_calls.failed)},
        "events": {
            "dispatched": len(dispatched),
            "dispatch_failed": dict(dispatch_failed),
            "handled_distinct": len(seen & set(dispatched)),
            "missing": len(missing),
        },
        "log": dict(losses.counts),
        "ended_for_good": ended,
        "connected_after_faults": connected,
        "final": final,
        "runner_errors": runner_errors,
        "hung_threads": hung,
    }
    ok = (
        not ended
        and all(connected.values())
        and all(final.values())
        and not sync_calls.failed
        and not async_calls.failed
        and not dispatch_failed
        and not missing
        and not runner_errors
        and not hung
    )
    report["ok"] = ok
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
