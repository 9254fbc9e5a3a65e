"""Nameko side of bench/events.py (`nameko run nameko_events` in the Nameko 2.14.1 venv).

``bench_orders.dispatch_many(n)`` dispatches n events from one worker with Nameko's
``EventDispatcher`` (each publish waits for its confirm) and returns the seconds it took;
``bench_products`` counts the ``order_created`` events its ``@event_handler`` handled.
"""

import time

from nameko.events import EventDispatcher, event_handler  # type: ignore[import-not-found]
from nameko.rpc import rpc  # type: ignore[import-not-found]

HANDLED = {"n": 0, "last": 0.0}


class BenchOrders:
    name = "bench_orders"

    dispatch = EventDispatcher()

    @rpc  # type: ignore[untyped-decorator]
    def dispatch_many(self, n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            self.dispatch("order_created", {"order_id": i, "product_id": "sku", "quantity": 1})
        return time.perf_counter() - start


class BenchProducts:
    name = "bench_products"

    @event_handler("bench_orders", "order_created")  # type: ignore[untyped-decorator]
    def on_order(self, payload: object) -> None:
        HANDLED["n"] += 1
        HANDLED["last"] = time.time()

    @rpc  # type: ignore[untyped-decorator]
    def handled(self) -> dict[str, float]:
        return HANDLED
