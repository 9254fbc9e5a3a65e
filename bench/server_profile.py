"""Where a request's prefetch slot goes on an rpcgen server, and what a worker hand-over costs.

    python bench/server_profile.py [--reps 4] [--seconds 3] [--in-flight 100]

Boots its own RabbitMQ node, then for each repetition runs two servers of `idl/hello.py` one
after the other against the same broker and the same client process (interleaved, medians):

- ``workers``: rpcgen's server as shipped (each request handed to one of 10 worker threads);
- ``inline``: an experiment, not a mode of rpcgen: the same server with every request answered
  on the thread that read it (no hand-over; a handler that blocks would stall the connection);
- ``async``: the same service with ``async def`` handlers, each request a task on the runner's
  event loop (``_asyncrun``), at its defaults (prefetch and ``max_concurrency`` 1,000).

``--variants`` picks some of them. Besides the times, it counts the hand-offs a request costs the
server: the threads its path crosses (the one that read it, the one that ran its handler, the one
that published its reply) and the wake-ups sent to another thread (a worker's queue, the event
loop's ``call_soon_threadsafe``, the I/O loop's wake pipe, a parked I/O thread's condition),
and how many reply hand-overs found the I/O lock taken (left to its holder).

For each it reports the sequential p50, calls/s with ``--in-flight`` calls in flight, the server's
CPU per call, and, at that load, the life of a request on the server, measured by timestamps
taken inside the server process at delivery, at the reply's publish, at its confirm and at the
request's ack. A request holds one of the ``prefetch`` slots from delivery to ack; the rest of a
slot's cycle (``min(prefetch, in flight) / rate`` minus the time held) is the broker's: the ack
reaching it and the next request coming out of the queue.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("workers", "inline", "async")
PREFETCH = {"workers": 100, "inline": 100, "async": 1000}  # the runner's defaults


# -- the server process ---------------------------------------------------------------------------


def serve(variant: str, uri: str, stats_path: str) -> None:
    """Run the hello server with timestamps around its consumer; write them out on SIGTERM."""
    from rpcgen.runtime import server as server_mod
    from rpcgen.runtime._amqp import consumer as consumer_mod
    from system_rpcgen import AsyncHelloImpl, HelloImpl

    Consumer = consumer_mod.Consumer
    delivered: dict[int, float] = {}
    published: dict[int, float] = {}
    stages: dict[str, list[float]] = {
        "deliver_to_publish": [],
        "publish_to_confirm": [],
        "held": [],
    }
    recording = [False]

    on_message, publish_reply, settle = (
        Consumer._on_message, Consumer._publish_reply, Consumer._settle
    )  # fmt: skip

    def timed_on_message(self: Any, ch: Any, deliver: Any, props: Any, body: bytes) -> None:
        delivered[deliver.delivery_tag] = time.perf_counter()
        on_message(self, ch, deliver, props, body)

    def timed_publish_reply(self: Any, tag: int, *args: Any) -> None:
        publish_reply(self, tag, *args)
        now = published[tag] = time.perf_counter()
        if recording[0] and tag in delivered:
            stages["deliver_to_publish"].append(now - delivered[tag])

    def timed_settle(self: Any, tag: int, ok: bool) -> None:
        settle(self, tag, ok)
        now = time.perf_counter()
        start, sent = delivered.pop(tag, None), published.pop(tag, None)
        if recording[0] and start is not None and sent is not None:
            stages["publish_to_confirm"].append(now - sent)
            stages["held"].append(now - start)

    Consumer._on_message = timed_on_message  # type: ignore[method-assign]
    Consumer._publish_reply = timed_publish_reply  # type: ignore[method-assign]
    Consumer._settle = timed_settle  # type: ignore[method-assign]

    impl = AsyncHelloImpl() if variant == "async" else HelloImpl()
    runner = server_mod.ServiceRunner(impl, uri)
    if variant == "inline":
        _answer_inline(runner)
    _count_handoffs(runner, stages, recording)

    def record(_sig: int, _frame: Any) -> None:
        recording[0] = True

    def finish(_sig: int, _frame: Any) -> None:
        Path(stats_path).write_text(json.dumps(stages))
        os._exit(0)

    signal.signal(signal.SIGUSR1, record)
    signal.signal(signal.SIGTERM, finish)
    runner.start()
    while True:
        time.sleep(3600)


def _count_handoffs(runner: Any, stages: dict[str, list[float]], recording: list[bool]) -> None:
    """Count, while recording, the threads each request crosses and the cross-thread wake-ups.

    Written into ``stages`` as one-element lists: ``threads`` (distinct threads per request),
    ``wakeups`` and ``deferred_posts`` (totals), ``requests`` (how many requests they are over).
    """
    import threading

    from rpcgen.runtime import _dispatch
    from rpcgen.runtime._amqp import consumer as consumer_mod
    from rpcgen.runtime._amqp import driving, ioloop

    paths: dict[int, set[int]] = {}
    totals = {"threads": 0, "requests": 0, "wakeups": 0, "deferred_posts": 0}
    Consumer, Dispatcher = consumer_mod.Consumer, _dispatch.Dispatcher

    def wrap(owner: Any, name: str, before: Any) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if recording[0]:
                before(*args, **kwargs)
            return original(*args, **kwargs)

        setattr(owner, name, wrapper)

    def seen(tag: int) -> None:
        paths.setdefault(tag, set()).add(threading.get_ident())

    def wake(*_args: Any, **_kwargs: Any) -> None:
        totals["wakeups"] += 1

    def post(driver: Any, *_args: Any, **_kwargs: Any) -> None:
        if driver.lock.locked():
            totals["deferred_posts"] += 1

    wrap(Consumer, "_on_message", lambda _self, _ch, deliver, *_a: seen(deliver.delivery_tag))
    wrap(Dispatcher, "_prepare", lambda _self, request: seen(request.tag))
    wrap(Consumer, "_publish_reply", lambda _self, tag, *_a: seen(tag))
    original_settle = Consumer._settle

    def settle(self: Any, tag: int, ok: bool) -> None:
        path = paths.pop(tag, None)
        if recording[0] and path is not None:
            totals["threads"] += len(path)
            totals["requests"] += 1
        original_settle(self, tag, ok)

    Consumer._settle = settle
    wrap(ioloop.DriverLoop, "wake", wake)
    wrap(driving.Driver, "_unpark", wake)
    wrap(driving.Driver, "post", post)
    runner._requests = _CountedQueue(runner._requests, wake, recording)
    if runner._loop is not None:
        loop_thread = runner._loop._thread

        def soon(*_args: Any) -> None:
            if threading.current_thread() is not loop_thread:
                wake()

        wrap(runner._loop.loop, "call_soon_threadsafe", soon)
    stages["handoffs"] = totals  # type: ignore[assignment]  # read at the end


class _CountedQueue:
    """The workers' queue, counting the requests put in it (each wakes a worker thread)."""

    def __init__(self, queue: Any, wake: Any, recording: list[bool]) -> None:
        self._queue, self._wake, self._recording = queue, wake, recording
        self.get, self.get_nowait = queue.get, queue.get_nowait

    def put(self, item: Any) -> None:
        if item is not None and self._recording[0]:
            self._wake()
        self._queue.put(item)


def _answer_inline(runner: Any) -> None:
    """Make ``runner`` answer each request on the thread that read it (the experiment)."""
    queue = runner._requests

    class Inline:
        def get(self) -> Any:  # the idle workers wait here for their shutdown marker
            return queue.get()

        def put(self, request: Any) -> None:
            if request is None or runner._consumer is None:
                queue.put(request)  # shutdown markers; requests before consume() returned
            else:
                runner._serve_request(request)

    runner._requests = Inline()


# -- the driver -------------------------------------------------------------------------------


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(uri: str, variant: str, seconds: float, in_flight: int, client: Any) -> dict[str, Any]:
    fd, stats = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "bench"), str(ROOT)]))
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", variant, "--uri", uri, "--stats", stats], env=env
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client.with_timeout(2.0).compute(1, 2)
                break
            except Exception:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        for _ in range(300):  # warm up
            client.compute(1, 2)
        latencies, end = [], time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            client.compute(1, 2)
            latencies.append(time.perf_counter() - start)
        os.kill(server.pid, signal.SIGUSR1)  # record the pipelined phase only
        cpu0, start, calls = _cpu(server.pid), time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            for future in [client.compute.call_async(1, 2) for _ in range(in_flight)]:
                future.result()
            calls += in_flight
        elapsed, cpu = time.perf_counter() - start, _cpu(server.pid) - cpu0
    finally:
        server.terminate()
        server.wait()
    stages = json.loads(Path(stats).read_text())
    os.unlink(stats)
    rate = calls / elapsed
    result = {
        "seq_p50_ms": statistics.median(latencies) * 1e3,
        "calls_per_s": rate,
        "server_cpu_us": cpu / calls * 1e6,
    }
    handoffs = stages.pop("handoffs")
    for name, values in stages.items():
        result[f"{name}_ms"] = statistics.mean(values) * 1e3 if values else float("nan")
    served = max(1, handoffs["requests"])
    result["threads"] = handoffs["threads"] / served
    result["wakeups"] = handoffs["wakeups"] / served
    result["deferred_posts"] = handoffs["deferred_posts"] / served
    slots = min(in_flight, PREFETCH[variant])  # each cycles from delivery to ack and back
    result["broker_gap_ms"] = slots / rate * 1e3 - result["held_ms"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="e.g. workers,async")
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.serve:
        serve(ns.serve, ns.uri, ns.stats)
        return

    sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]
    from rpcgen.runtime.testing.node import RabbitNode

    from generated.hello import HelloServiceClient

    variants = [v for v in ns.variants.split(",") if v in VARIANTS]
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    with RabbitNode() as node, HelloServiceClient.connect(node.uri) as client:
        for rep in range(ns.reps):
            for variant in variants:
                runs[variant].append(measure(node.uri, variant, ns.seconds, ns.in_flight, client))
                print(f"rep {rep + 1}/{ns.reps} {variant}: {runs[variant][-1]}", file=sys.stderr)

    columns = [
        ("seq_p50_ms", "seq p50 ms"),
        ("calls_per_s", f"{ns.in_flight} in flight calls/s"),
        ("server_cpu_us", "server CPU µs/call"),
        ("deliver_to_publish_ms", "delivery → reply published, ms"),
        ("publish_to_confirm_ms", "reply published → confirmed + acked, ms"),
        ("held_ms", "slot held (delivery → ack), ms"),
        ("broker_gap_ms", "slot idle (ack → next delivery), ms"),
        ("threads", "threads per request"),
        ("wakeups", "wake-ups per request"),
        ("deferred_posts", "replies left to the I/O lock's holder"),
    ]
    print(f"\nmedians of {ns.reps} interleaved repetitions; stage times are means under load\n")
    print("| server | " + " | ".join(label for _, label in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for variant in variants:
        cells = [f"{statistics.median(r[key] for r in runs[variant]):,.2f}" for key, _ in columns]
        print(f"| {variant} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
