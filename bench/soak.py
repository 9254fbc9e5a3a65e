"""Soak run (a benchmark script, not a test): calls keep flowing through a broker restart.

    python bench/soak.py [--duration 60] [--clients 4] [--threads 2] [--timeout 30] [--json out]

It starts its own RabbitMQ node (``RabbitNode``, no management plugin), two server processes
(``rt.serve`` of ``hello_service``) and ``--clients`` client processes of ``--threads`` threads
each (the threads of a process share one ``Connection``). Every thread calls
``compute(a=<thread id>, b=<sequence>)`` back to back for ``--duration`` seconds; half way
through, the broker is stopped and started again (same ports, durable state kept).

Every call has one outcome, counted by the thread that made it:

- answered: the right result (``a * 1_000_000 + b``: a reply meant for another call would not
  match, so a stale or duplicate reply delivered to the wrong call is counted as duplicated);
- failed with a clear error: an ``RpcError`` other than ``RpcTimeout``, by type;
- lost: ``RpcTimeout`` (the timeout is far longer than the restart, so the request or its reply
  vanished);
- hung: no outcome at all when the run ends (the client prints every thread's stack to stderr).

Each client process reports its tallies once; a client that never reports (or, having
reported, does not exit) is sent ``SIGUSR1``, which prints its stacks, then killed, and it
counts as hung. The summary line says lost, duplicated, hung and how many clients reported
(N of M); the run is OK, and exits 0, only with 0 lost, 0 duplicated, 0 hung and every client
reported.

The servers also count how often they executed each (a, b): a request redelivered after the
restart runs again (at-least-once), which is reported, not an error. The queue left behind
must hold nothing ready and nothing unacked.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from queue import Empty
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVICE_QUEUE = "rpc-hello_service"
# After the run (duration + call timeout): a client waits this long for its callers before it
# reports the rest as hung; the parent waits twice as long for every report.
_JOIN = 15.0

SERVER = """
import json, logging, sys, threading
from collections import Counter
import rpcgen.runtime as rt
from generated.hello import DivisionByZero, HelloServiceServer

executed: Counter[str] = Counter()
lock = threading.Lock()

class Soak(HelloServiceServer):
    def test(self, name: str) -> str:
        return name

    def compute(self, a: int, b: int) -> int:
        with lock:
            executed[f"{a}:{b}"] += 1
        return a * 1_000_000 + b

    def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero("b is 0")
        return a / b

logging.basicConfig(level=logging.WARNING, format="%(asctime)s server %(levelname)s %(message)s")
logging.getLogger("pika").setLevel(logging.CRITICAL)
code = 0
try:
    rt.serve(Soak(), sys.argv[1], max_workers=8)
except rt.RpcConnectionError as exc:
    logging.error("gave up: %s", exc)
    code = 1
with open(sys.argv[2], "w") as out:
    json.dump(executed, out)
sys.exit(code)
"""


def client_process(
    uri: str, index: int, threads: int, until: float, timeout: float, out: Any
) -> None:
    """One client process: ``threads`` callers on one shared connection; puts its tallies.

    A caller still inside a call when the others are done is hung: the process prints every
    thread's stack to stderr and reports the call as hung. ``SIGUSR1`` prints the stacks too
    (the parent sends it before killing a client that never reported), and a watchdog prints
    them if the process is still running long after it should have reported.
    """
    sys.path.insert(0, str(ROOT))
    import faulthandler
    import logging

    import rpcgen.runtime as rt

    from generated.hello import HelloServiceClient

    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    # A watchdog, in case the parent cannot signal it: stacks once it is long overdue.
    faulthandler.dump_traceback_later(max(0.0, until - time.monotonic()) + timeout + 4 * _JOIN)
    fmt = f"%(asctime)s client{index} %(levelname)s %(message)s"
    logging.basicConfig(level=logging.WARNING, format=fmt)
    logging.getLogger("pika").setLevel(logging.CRITICAL)  # rpcgen logs the loss and reconnect
    tallies = [Counter[str]() for _ in range(threads)]
    running = [0] * threads  # the call each thread is in, 0 when none (for hung calls)
    conn = rt.Connection(uri, client_name=f"soak{index}")
    client = HelloServiceClient(conn, timeout=timeout)

    def caller(t: int) -> None:
        a, tally = index * 100 + t + 1, tallies[t]
        b = 0
        while time.monotonic() < until:
            b += 1
            running[t] = b
            tally["sent"] += 1
            try:
                result = client.compute(a, b)
            except rt.RpcTimeout:
                tally["lost: RpcTimeout"] += 1
            except rt.RpcError as exc:
                tally[f"failed: {type(exc).__name__}"] += 1
            except Exception as exc:  # not an rpcgen error: a bug, reported as such
                tally[f"unexpected: {type(exc).__name__}: {exc}"] += 1
            else:
                tally["answered" if result == a * 1_000_000 + b else "duplicated"] += 1
            running[t] = 0

    workers = [threading.Thread(target=caller, args=(t,), daemon=True) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(max(0.0, until + timeout + _JOIN - time.monotonic()))
    total: Counter[str] = Counter()
    for t, tally in enumerate(tallies):
        total.update(tally)
        if running[t]:
            total["hung"] += 1
            print(f"soak: client{index} thread {t} hung in call {running[t]}", file=sys.stderr)
    if total["hung"]:
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    out.put({"client": index, "tallies": dict(total)})
    # os._exit skips the queue's feeder thread: without these two the report may never leave.
    out.close()
    out.join_thread()
    if not any(running):
        conn.close()
    faulthandler.cancel_dump_traceback_later()
    os._exit(0)  # a hung thread must not keep the process alive


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from rpcgen.runtime.testing.node import RabbitNode

    work = Path(tempfile.mkdtemp(prefix="rpcgen-soak-"))
    print(f"soak: booting a broker; logs in {work}", flush=True)
    with RabbitNode(management=False) as node:
        servers = [_start_server(node.uri, work, i) for i in range(2)]
        try:
            _wait_consumers(node, servers, work)
            figures = _run(node, args, work)
        finally:
            codes = [_stop_server(proc) for proc in servers]
        figures["server exit codes"] = codes
        figures["executed at servers"] = _executions(work)
        figures["left in the queue"] = _queue_left(node)
    _report(figures, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    ok, _text = _verdict(figures)
    return 0 if ok else 1


def _run(node: Any, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start = time.monotonic()
    until = start + args.duration
    clients = [
        ctx.Process(
            target=client_process, args=(node.uri, i, args.threads, until, args.timeout, out)
        )
        for i in range(args.clients)
    ]
    for proc in clients:
        proc.start()
    time.sleep(max(0.0, start + args.duration / 2 - time.monotonic()))
    print(f"soak: restarting the broker at {time.monotonic() - start:.1f} s", flush=True)
    down = time.monotonic()
    node.stop()
    node.start()
    restart = time.monotonic() - down
    print(f"soak: broker back after {restart:.1f} s", flush=True)
    totals, reported = _collect(out, clients, until + args.timeout + 2 * _JOIN)
    unreported = [i for i in range(len(clients)) if i not in reported]
    stuck = _reap(clients, unreported)
    lost = sum(n for key, n in totals.items() if key.startswith("lost"))
    failed = {k[len("failed: ") :]: n for k, n in totals.items() if k.startswith("failed: ")}
    return {
        "duration s": args.duration,
        "client processes": args.clients,
        "threads per client": args.threads,
        "broker restart s": round(restart, 1),
        "sent": totals["sent"],
        "answered": totals["answered"],
        "failed with a clear error": sum(failed.values()),
        "failed by type": failed,
        "lost": lost,
        "lost by kind": {k: n for k, n in totals.items() if k.startswith("lost")},
        "duplicated": totals["duplicated"],
        "hung calls": totals["hung"],
        "clients reported": len(reported),
        "clients not reporting": unreported,
        "clients killed at exit": stuck,
        "unexpected": {k: n for k, n in totals.items() if k.startswith("unexpected")},
    }


def _collect(out: Any, clients: list[Any], deadline: float) -> tuple[Counter[str], set[int]]:
    """Every client's tallies that arrive by ``deadline``, and which clients sent them."""
    totals: Counter[str] = Counter()
    reported: set[int] = set()
    while len(reported) < len(clients):
        wait = deadline - time.monotonic()
        if wait <= 0:
            break
        if not any(p.is_alive() for i, p in enumerate(clients) if i not in reported):
            wait = min(wait, 2.0)  # all gone: whatever they sent is already in the pipe
        try:
            report = out.get(timeout=wait)
        except Empty:
            if wait <= 2.0:
                break
            continue
        reported.add(report["client"])
        totals.update(report["tallies"])
    return totals, reported


def _reap(clients: list[Any], unreported: list[int]) -> list[int]:
    """Join every client; one still running (or never reporting) prints its stacks, then dies.

    Returns the clients that had to be killed.
    """
    killed = []
    for i, proc in enumerate(clients):
        proc.join(30 if i not in unreported else 0.1)
        if proc.is_alive():
            what = "never reported" if i in unreported else "reported but did not exit"
            print(f"soak: client{i} {what}: its stacks follow (SIGUSR1), then it is killed")
            sys.stdout.flush()
            os.kill(proc.pid, signal.SIGUSR1)
            time.sleep(1.0)
            proc.kill()
            proc.join(10)
            killed.append(i)
        elif i in unreported:
            print(f"soak: client{i} exited with {proc.exitcode} without reporting")
    return killed


def _start_server(uri: str, work: Path, index: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = (work / f"server{index}.log").open("wb")
    counts = str(work / f"executed{index}.json")
    cmd = [sys.executable, "-c", SERVER, uri, counts]
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


def _stop_server(proc: subprocess.Popen[bytes]) -> int | None:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None


def _wait_consumers(
    node: Any, servers: list[subprocess.Popen[bytes]], work: Path, timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        queue = next((q for q in node.list_queues("/") if q.name == SERVICE_QUEUE), None)
        if queue is not None and queue.consumers >= len(servers):
            return
        for i, proc in enumerate(servers):
            if proc.poll() is not None:
                log = (work / f"server{i}.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"soak: server{i} exited with {proc.returncode}:\n{log}")
        if time.monotonic() > deadline:
            raise SystemExit(f"soak: the servers did not start within {timeout} s")
        time.sleep(0.2)


def _executions(work: Path) -> dict[str, int]:
    executed: Counter[str] = Counter()
    for path in work.glob("executed*.json"):
        executed.update(json.loads(path.read_text()))
    return {
        "requests": len(executed),
        "executions": sum(executed.values()),
        "requests run more than once": sum(1 for n in executed.values() if n > 1),
    }


def _queue_left(node: Any) -> dict[str, int]:
    queue = next((q for q in node.list_queues("/") if q.name == SERVICE_QUEUE), None)
    if queue is None:
        return {"ready": -1, "unacked": -1}
    return {"ready": queue.messages_ready, "unacked": queue.messages_unacknowledged}


def _verdict(figures: dict[str, Any]) -> tuple[bool, str]:
    """OK or not, and the one-line summary: lost, duplicated, hung, clients reported (N of M).

    Hung counts calls that never returned, clients that never reported, and clients that
    reported but had to be killed (stuck closing their connection).
    """
    unreported = figures["clients not reporting"]
    stuck_at_exit = [i for i in figures["clients killed at exit"] if i not in unreported]
    hung = figures["hung calls"] + len(unreported) + len(stuck_at_exit)
    ok = (
        figures["lost"] == 0
        and figures["duplicated"] == 0
        and hung == 0
        and figures["clients reported"] == figures["client processes"]
    )
    text = (
        f"{figures['lost']} lost, {figures['duplicated']} duplicated, {hung} hung, "
        f"clients reported {figures['clients reported']} of {figures['client processes']}"
    )
    return ok, text


def _report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    print()
    print(f"soak: {args.duration:.0f} s, {args.clients} client processes x {args.threads} threads")
    for key, value in figures.items():
        print(f"  {key:28} {value}")
    ok, text = _verdict(figures)
    print(f"  {'summary':28} {text}")
    print(
        f"  {'verdict':28} {'OK' if ok else 'FAILED'} (0 lost, 0 duplicated, 0 hung, all reported)"
    )


if __name__ == "__main__":
    sys.exit(main())
