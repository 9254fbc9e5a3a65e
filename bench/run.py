"""Benchmark rpcgen against Nameko 2.14.1, the pika RPC tutorial pattern and aio-pika's JsonRPC.

    bash bench/setup.sh                      # once: .venv-bench (and .venv-nameko if missing)
    python bench/run.py [--quick] [--out bench/results] [--rpcgen-prefetch 40,100]

It starts its own RabbitMQ node (or uses --amqp-uri), then measures every system in one run,
interleaved (A rep 1, B rep 1, ..., A rep 2, ...), and reports medians over the repetitions. Each
system's server and client are separate processes; see workload.py for the scenarios.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BENCH_PYTHON = ROOT / ".venv-bench/bin/python"


def _ensure_bench_env() -> None:
    """Re-run under .venv-bench when this python lacks the benchmark's packages."""
    try:
        import aio_pika  # noqa: F401
        import matplotlib  # noqa: F401
        import pika  # noqa: F401
    except ImportError:
        if BENCH_PYTHON.exists() and Path(sys.executable) != BENCH_PYTHON:
            os.execv(str(BENCH_PYTHON), [str(BENCH_PYTHON), *sys.argv])
        sys.exit("the benchmark needs its environment: run `bash bench/setup.sh` first")


_ensure_bench_env()
sys.path.insert(0, str(BENCH))

import broker as brokers  # noqa: E402
import report  # noqa: E402
import systems as systems_mod  # noqa: E402
from systems import System  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 1 repetition, short scenarios")
    p.add_argument("--out", type=Path, default=BENCH / "results", help="output folder")
    p.add_argument("--reps", type=int, help="repetitions (default 5, quick 1)")
    p.add_argument("--duration", type=float, help="seconds per timed scenario (default 1.5)")
    p.add_argument("--systems", help="comma-separated keys, e.g. rpcgen,nameko,pika (default all)")
    p.add_argument("--amqp-uri", help="use this broker instead of starting a private node")
    p.add_argument(
        "--mgmt-url", help="with --amqp-uri: management API base URL; run on a fresh vhost"
    )
    p.add_argument("--nameko-python", help="python of a venv with nameko==2.14.1")
    p.add_argument(
        "--rpcgen-prefetch",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[],
        help="also run rpcgen (both clients, and the async server) against servers with these\n"
        "prefetches, e.g. 40,100 (the default prefetch always runs)",
    )
    p.add_argument(
        "--rpcgen-baseline",
        metavar="PYTHON",
        help="the python of a venv with another rpcgen (e.g. main's) installed: adds\n"
        "rpcgen-base and rpcgen-asyncio-base, measured in the same run (generated/ from here)",
    )
    p.add_argument(
        "--rpcgen-python",
        metavar="PYTHON",
        help="run the rpcgen systems with this python (e.g. a venv with this tree installed\n"
        "the same way as --rpcgen-baseline's, so that both are measured alike)",
    )
    return p.parse_args()


def _workload_args(args: argparse.Namespace) -> list[str]:
    duration = args.duration or (0.25 if args.quick else 1.5)
    if args.quick:
        return ["--duration", str(duration), "--min-batches", "1", "--min-payload-calls", "3"]
    return ["--duration", str(duration), "--min-batches", "2", "--min-payload-calls", "5"]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (graceful for every server here), then SIGKILL after 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def run_once(
    system: System, broker: brokers.BenchBroker, workload: list[str], logs: Path, tag: str
) -> dict[str, Any]:
    """Start the server, run one client process against it, stop the server; return the figures."""
    server_argv = [a.replace("{uri}", broker.uri) for a in system.server]
    with open(logs / f"{tag}-server.log", "wb") as server_log:
        server = subprocess.Popen(
            server_argv, cwd=BENCH, env=systems_mod.child_env(), stdin=subprocess.DEVNULL,
            stdout=server_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            brokers.wait_for_consumer(broker.uri, system.ready_queue, lambda: server.poll() is None)
            client_argv = [*system.client, "--uri", broker.uri, "--server-pid", str(server.pid)]
            client_argv += ["--broker-pid", str(broker.pid), *workload]
            with open(logs / f"{tag}-client.log", "w") as client_log:
                done = subprocess.run(
                    client_argv, cwd=BENCH, env=systems_mod.child_env(), stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=client_log, text=True, timeout=600,
                )  # fmt: skip
        finally:
            _stop(server)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"client exited {done.returncode}; see {logs / (tag + '-client.log')}")
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def _select(args: argparse.Namespace) -> tuple[list[System], list[str]]:
    """The systems to run, and notes on the ones left out."""
    notes: list[str] = []
    nameko = systems_mod.nameko_python(args.nameko_python)
    if nameko is None:
        notes.append("Nameko left out: no .venv-nameko (bench/setup.sh creates it)")
    chosen = systems_mod.all_systems(
        nameko, args.rpcgen_prefetch, args.rpcgen_baseline, args.rpcgen_python
    )
    if args.systems:
        wanted = set(args.systems.split(","))
        chosen = [s for s in chosen if s.key in wanted]
    if any(s.key.startswith("rpcgen") for s in chosen):
        why = systems_mod.rpcgen_available(args.rpcgen_python or sys.executable)
        if why is not None:
            notes.append(f"rpcgen left out: {why}")
            chosen = [s for s in chosen if not s.key.startswith("rpcgen")]
    return chosen, notes


def _summary(figures: dict[str, Any]) -> str:
    seq, p100 = figures["seq"], figures["pipe100"]
    return (
        f"seq p50 {seq['p50_ms']:.2f} ms, {seq['calls_per_s']:.0f}/s; "
        f"100 in flight {p100['calls_per_s']:.0f}/s; "
        f"client CPU {seq['cpu_client_us']:.0f} µs/call"
    )


def _mask(arg: str) -> str:
    """An argument with any URI password replaced by ***."""
    return re.sub(r"(//[^:/@]+:)[^@/]*@", r"\1***@", arg)


def _meta(args: argparse.Namespace, broker: brokers.BenchBroker, reps: int) -> dict[str, Any]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}",
        "broker": broker.description,
        "repetitions": f"{reps}, interleaved; medians shown",
        "mode": "quick (smoke run, not for quoting)" if args.quick else "full",
        "command": " ".join(["python bench/run.py", *(_mask(a) for a in sys.argv[1:])]),
    }


def main() -> int:
    args = parse_args()
    reps = args.reps or (1 if args.quick else 5)
    chosen, notes = _select(args)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not chosen:
        sys.exit("no system to run")
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    raw: dict[str, list[dict[str, Any] | None]] = {s.key: [] for s in chosen}
    errors: dict[str, list[str]] = {s.key: [] for s in chosen}
    started = time.monotonic()
    if args.amqp_uri:
        broker = brokers.external(args.amqp_uri, args.mgmt_url)
    else:
        print("starting a private RabbitMQ node ...", file=sys.stderr)
        broker = brokers.start_node()
    try:
        for rep in range(1, reps + 1):
            for system in chosen:
                t0 = time.monotonic()
                try:
                    figures = run_once(
                        system, broker, _workload_args(args), logs, f"{system.key}-{rep}"
                    )
                    line = _summary(figures)
                except Exception as exc:  # one failed run must not lose the others' figures
                    figures, line = None, f"FAILED: {exc}"
                    errors[system.key].append(f"rep {rep}: {exc}")
                raw[system.key].append(figures)
                took = time.monotonic() - t0
                print(f"[rep {rep}/{reps}] {system.key:15} {line} ({took:.1f} s)", file=sys.stderr)
        meta = _meta(args, broker, reps)
    finally:
        with contextlib.suppress(Exception):
            broker.close()
    meta["notes"] = "; ".join(notes) or "none"
    meta["wall time"] = f"{time.monotonic() - started:.0f} s"
    print(report.write(args.out, chosen, raw, errors, meta))
    print(f"written: {args.out}/results.md, results.json, throughput.png", file=sys.stderr)
    return 1 if any(errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
