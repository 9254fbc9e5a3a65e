"""What tracing costs per call: the in-process call path before the tracing seam, with the seam
but not instrumented, and instrumented with the OpenTelemetry SDK.

    .venv/bin/python bench/otel_overhead.py [--calls 500] [--reps 200] [--before REV] [--untraced]

The path measured is a whole call without the network: the sync client's ``_invoke_async``
(encode the request, future), the request headers (``context.outgoing_headers``), the server's
``Dispatcher.reply_for`` (decode, run ``hello_service.compute``, encode the reply) and the
client decoding the reply. The connection is a stand-in that hands the request straight to the
dispatcher, so the figures are the runtime's own CPU cost per call, where a few tens of
nanoseconds would show (a real call over RabbitMQ costs far more; see bench/run.py).

"before" runs ``runtime/client.py``, ``context.py`` and ``_dispatch.py`` as they were in the
commit before the seam was added (or in ``--before REV``; read with ``git show``), in this
same process, interleaved with the current code (skipped, saying why, when those old modules
no longer import against today's runtime): ``--reps`` samples of ``--calls`` calls each, and
for each configuration the fastest sample (the CPU cost, least disturbed by other processes
on a shared machine) and the median. The first two configurations run before anything imports
OpenTelemetry (checked), as for a user without the extra. Last, the cost of the seam's tests
themselves, timed alone: a call makes two ``is None`` tests (client, headers), and the server
puts ``_tracing.outermost`` (empty) before its own middleware and tests the chain once.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

import pika  # noqa: E402
import rpcgen.runtime as rt  # noqa: E402
from rpcgen.runtime import _dispatch, context  # noqa: E402
from rpcgen.runtime._transport import Delivery  # noqa: E402

from generated.hello import HelloServiceClient, HelloServiceServer  # noqa: E402

COMPUTE = HelloServiceClient.methods["compute"]


class Hello(HelloServiceServer):
    def test(self, name: str) -> str:
        return name

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        return a / b


def seam_commit() -> str:
    """The commit before ``runtime/_tracing.py`` was added."""
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "runtime/_tracing.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not added:
        sys.exit("runtime/_tracing.py is not committed: nothing to compare with")
    return f"{added[-1]}^"


def load_old(commit: str, path: str, name: str) -> types.ModuleType:
    """``path`` as it was at ``commit``, as a module of its own called ``name``."""
    source = subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType(name)
    module.__file__ = f"<{commit}:{path}>"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


class InProcess:
    """Stands in for a ``Connection``: a call goes straight to a dispatcher, completes at once."""

    def __init__(self, headers: Callable[..., dict[str, object]], dispatcher: Any) -> None:
        self._headers = headers
        self._dispatcher = dispatcher

    def call(self, method: Any, body: bytes, timeout: float | None, on_done: Any, **_: Any) -> None:
        props = pika.BasicProperties(
            content_type="application/json",
            correlation_id="c",
            reply_to="r",
            headers=self._headers("bench.call.c", None),
        )
        reply = self._dispatcher.reply_for(Delivery(1, method.routing_key, props, body))
        on_done(reply, None)


def runner(invoke: Callable[..., Any], client: Any) -> Callable[[int], float]:
    def run(calls: int) -> float:
        start = time.perf_counter()
        for i in range(calls):
            if invoke(client, COMPUTE, (i, 1), {}).result() != i + 1:
                raise AssertionError("wrong result")
        return (time.perf_counter() - start) / calls * 1e9

    return run


def measure(
    configs: dict[str, Callable[[int], float]], calls: int, reps: int
) -> dict[str, tuple[float, float]]:
    """(fastest, median) ns per call of each configuration."""
    samples: dict[str, list[float]] = {name: [] for name in configs}
    for run in configs.values():
        run(calls)  # warm up
    for _ in range(reps):
        for name, run in configs.items():  # interleaved: drifts hit every configuration alike
            samples[name].append(run(calls))
    return {name: (min(v), statistics.median(v)) for name, v in samples.items()}


def show(results: dict[str, tuple[float, float]]) -> None:
    for name, (fastest, median) in results.items():
        print(f"  {name.strip():<40} {fastest:9.0f} {median:9.0f}")


def seam_test_ns(statement: str = "_tracing.tracer is not None") -> float:
    """ns per ``statement`` (fastest of many), net of an empty statement."""
    import timeit

    from rpcgen.runtime import _tracing

    number = 1_000_000
    scope = {"_tracing": _tracing, "own": ()}
    tested = min(timeit.repeat(statement, globals=scope, number=number, repeat=15))
    empty = min(timeit.repeat("pass", number=number, repeat=15))
    return (tested - empty) / number * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument(
        "--before", help="the revision to compare with (default: the one before the seam)"
    )
    parser.add_argument("--untraced", action="store_true", help="skip the instrumented runs")
    args = parser.parse_args()

    commit = args.before or seam_commit()

    def client(headers: Callable[..., dict[str, object]], dispatcher: Any) -> Any:
        return HelloServiceClient(InProcess(headers, dispatcher), timeout=None)  # type: ignore[arg-type]

    now = client(context.outgoing_headers, _dispatch.Dispatcher(Hello()))
    configs = {"seam, not instrumented": runner(rt.Client._invoke_async, now)}
    try:
        old_context = load_old(commit, "runtime/context.py", "_before_context")
        old_dispatch = load_old(commit, "runtime/_dispatch.py", "_before_dispatch")
        old_client = load_old(commit, "runtime/client.py", "_before_client")
        before = client(old_context.outgoing_headers, old_dispatch.Dispatcher(Hello()))
        configs = {
            f"before ({commit[:9]})": runner(old_client.Client._invoke_async, before),
            **configs,
        }
    except Exception as exc:  # the old modules import names today's runtime no longer has
        print(f"before ({commit[:9]}): skipped, its modules do not load with today's: {exc!r}")
    assert not [m for m in sys.modules if m.startswith("opentelemetry")]
    print(f"{args.reps} samples of {args.calls} calls; ns per call")
    print(f"  {'(opentelemetry not imported)':<40} {'fastest':>9} {'median':>9}")
    base = measure(configs, args.calls, args.reps)
    show(base)
    if len(base) == 2:
        (b_min, b_med), (s_min, s_med) = base.values()
        print(f"  {'now - before':<40} {s_min - b_min:+9.0f} {s_med - b_med:+9.0f}")
    if args.untraced:
        return

    import rpcgen.otel
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    bare = TracerProvider()  # spans made and ended, exported nowhere
    exporter = InMemorySpanExporter()
    exported = TracerProvider()
    exported.add_span_processor(SimpleSpanProcessor(exporter))

    def instrumented(provider: TracerProvider) -> Callable[[int], float]:
        run = runner(rt.Client._invoke_async, now)

        def traced(calls: int) -> float:
            rpcgen.otel.instrument(tracer_provider=provider)
            try:
                return run(calls)
            finally:
                rpcgen.otel.uninstrument()
                exporter.clear()

        return traced

    traced_configs = {
        "seam, not instrumented ": runner(rt.Client._invoke_async, now),
        "instrumented, SDK, no processor": instrumented(bare),
        "instrumented, SDK, in-memory exporter": instrumented(exported),
    }
    print(f"  {'(opentelemetry imported; 2 spans a call)':<40} {'fastest':>9} {'median':>9}")
    show(measure(traced_configs, args.calls, args.reps))
    print(f"one seam test alone: {seam_test_ns():.1f} ns (a call makes 2)")
    chain = seam_test_ns("chain = _tracing.outermost + own\nif chain: pass")
    print(f"the server's chain (outermost + own, tested): {chain:.1f} ns (a call makes 1)")


if __name__ == "__main__":
    main()
