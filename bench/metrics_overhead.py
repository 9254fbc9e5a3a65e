"""What Prometheus metrics cost per call: the in-process call path with ``rpcgen.prometheus``
off (the seam's ``is None`` tests only) and on (server and client counted).

    .venv/bin/python bench/metrics_overhead.py [--calls 500] [--reps 200]

The path measured is a whole call without the network, as in ``bench/otel_overhead.py``: the
sync client's ``_invoke_async`` (encode the request, future), the request headers, the server's
``Dispatcher.reply_for`` (decode, run ``hello_service.compute``, encode the reply) and the client
decoding the reply. With metrics on, each call counts once on the client (``calling``: one
counter, one histogram) and once on the server (``request_started`` / ``request_handled``:
two counters, a gauge up and down, one histogram). The configurations are interleaved:
``--reps`` samples of ``--calls`` calls each; for each, the fastest sample (the CPU cost, least
disturbed by other processes on a shared machine) and the median.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

import pika  # noqa: E402
import rpcgen.runtime as rt  # noqa: E402
from prometheus_client.registry import CollectorRegistry  # noqa: E402
from rpcgen.prometheus import instrument, uninstrument  # noqa: E402
from rpcgen.runtime import _dispatch, context  # noqa: E402
from rpcgen.runtime._amqp.consumer import Delivery  # noqa: E402

from generated.hello import HelloServiceClient, HelloServiceServer  # noqa: E402

COMPUTE = HelloServiceClient.methods["compute"]


class Hello(HelloServiceServer):
    def test(self, name: str) -> str:
        return name

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        return a / b


class InProcess:
    """Stands in for a ``Connection``: a call goes straight to a dispatcher, completes at once."""

    def __init__(self, dispatcher: Any) -> None:
        self._dispatcher = dispatcher

    def call(self, method: Any, body: bytes, timeout: float | None, on_done: Any, **_: Any) -> None:
        props = pika.BasicProperties(
            content_type="application/json",
            correlation_id="c",
            reply_to="r",
            headers=context.outgoing_headers("bench.call.c", None),
        )
        reply = self._dispatcher.reply_for(Delivery(1, method.routing_key, props, body))
        on_done(reply, None)


def run_calls(client: Any, calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        if rt.Client._invoke_async(client, COMPUTE, (i, 1), {}).result() != i + 1:
            raise AssertionError("wrong result")
    return (time.perf_counter() - start) / calls * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()

    client = HelloServiceClient(InProcess(_dispatch.Dispatcher(Hello())), timeout=None)  # type: ignore[arg-type]
    registry = CollectorRegistry()

    def off(calls: int) -> float:
        return run_calls(client, calls)

    def on(calls: int) -> float:
        instrument(registry)  # the same registry each time: the metrics are made once
        try:
            return run_calls(client, calls)
        finally:
            uninstrument()

    configs: dict[str, Callable[[int], float]] = {"metrics off": off, "metrics on": on}
    samples: dict[str, list[float]] = {name: [] for name in configs}
    for run in configs.values():
        run(args.calls)  # warm up
    for _ in range(args.reps):
        for name, run in configs.items():  # interleaved: drifts hit both alike
            samples[name].append(run(args.calls))
    print(f"{args.reps} samples of {args.calls} calls; ns per call")
    print(f"  {'':<14} {'fastest':>9} {'median':>9}")
    figures = {name: (min(v), statistics.median(v)) for name, v in samples.items()}
    for name, (fastest, median) in figures.items():
        print(f"  {name:<14} {fastest:9.0f} {median:9.0f}")
    (off_min, off_med), (on_min, on_med) = figures.values()
    print(f"  {'on - off':<14} {on_min - off_min:+9.0f} {on_med - off_med:+9.0f}")
    print(f"  {'on / off':<14} {on_min / off_min:9.2f} {on_med / off_med:9.2f}")
    handled = registry.get_sample_value(
        "rpcgen_server_handled_total",
        {"service": "hello_service", "method": "compute", "outcome": "ok"},
    )
    expected = args.calls * (args.reps + 1)
    assert handled == expected, (handled, expected)  # every call with metrics on was counted


if __name__ == "__main__":
    main()
