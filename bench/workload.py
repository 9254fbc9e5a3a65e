"""The workload every benchmark client process runs, and the figures it prints.

Standard library only: this module is imported by clients running in the Nameko venv too. A client
script wraps its system in a `SyncSystem` or `AsyncSystem` and calls `main_sync` or `main_async`;
those run the scenarios in a fixed order and print one JSON line of figures on stdout.

CPU is read without psutil: the client's own with `time.process_time()` (nanosecond clock), the
server's and the broker's from `/proc/<pid>/stat` (utime + stime of all threads, in clock ticks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

SMALL_RESULT = 3  # compute(1, 2) on every system
PAYLOADS = {"kb100": 100 * 1024, "mb1": 1024 * 1024}
IN_FLIGHT = (10, 100, 1000)
_TICK = os.sysconf("SC_CLK_TCK")


class SyncSystem(Protocol):
    """One connected client of a system under test, blocking style."""

    def compute(self) -> int: ...  # one small round trip: compute(1, 2)
    def echo(self, payload: str) -> str: ...  # the payload goes there and back
    def burst(self, n: int) -> None: ...  # n small calls in flight at once; waits for all
    def close(self) -> None: ...


class AsyncSystem(Protocol):
    """One connected client of a system under test, asyncio style."""

    async def compute(self) -> int: ...
    async def echo(self, payload: str) -> str: ...
    async def burst(self, n: int) -> None: ...
    async def close(self) -> None: ...


@dataclass(frozen=True)
class Config:
    """What the driver asks of one client process."""

    uri: str
    server_pid: int
    broker_pid: int
    duration: float  # seconds per timed scenario
    min_batches: int  # at least this many bursts per pipelined scenario
    min_payload_calls: int

    @classmethod
    def from_argv(cls, argv: list[str] | None = None) -> tuple[Config, argparse.Namespace]:
        parser = argparse.ArgumentParser()
        parser.add_argument("--uri", required=True)
        parser.add_argument("--server-pid", type=int, required=True)
        parser.add_argument("--broker-pid", type=int, default=0)
        parser.add_argument("--duration", type=float, default=1.5)
        parser.add_argument("--min-batches", type=int, default=2)
        parser.add_argument("--min-payload-calls", type=int, default=5)
        parser.add_argument("--mode", default="")
        ns = parser.parse_args(argv)
        cfg = cls(
            ns.uri, ns.server_pid, ns.broker_pid, ns.duration, ns.min_batches, ns.min_payload_calls
        )
        return cfg, ns


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid`; 0.0 if it cannot be read."""
    if pid <= 0:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0.0
    # The command name may contain spaces; fields after it are positional (utime=14, stime=15).
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_kib(pid: int) -> int:
    """Resident set size of process `pid` in KiB (VmRSS); 0 if it cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Meter:
    """Wall time and the CPU of client, server and broker over one scenario."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg
        self.t0 = time.perf_counter()
        self._cpu0 = (time.process_time(), proc_cpu(cfg.server_pid), proc_cpu(cfg.broker_pid))

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def result(self, calls: int, latencies: list[float] | None = None) -> dict[str, float]:
        wall = self.elapsed()
        cpu1 = (time.process_time(), proc_cpu(self._cfg.server_pid), proc_cpu(self._cfg.broker_pid))
        client, server, broker = (b - a for a, b in zip(self._cpu0, cpu1, strict=True))
        out = {
            "calls": calls,
            "seconds": wall,
            "calls_per_s": calls / wall,
            "cpu_client_us": client / calls * 1e6,
            "cpu_server_us": server / calls * 1e6,
        }
        if self._cfg.broker_pid > 0:
            out["cpu_broker_us"] = broker / calls * 1e6
        if latencies:
            out["p50_ms"] = percentile(latencies, 50) * 1e3
            out["p99_ms"] = percentile(latencies, 99) * 1e3
            out["mean_ms"] = statistics.fmean(latencies) * 1e3
        return out


class RssPeak:
    """Samples the RSS of this process and of the server every 2 ms on a thread; keeps the peaks."""

    def __init__(self, server_pid: int) -> None:
        self._pids = (os.getpid(), server_pid)
        self.peak = [0, 0]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            for i, pid in enumerate(self._pids):
                self.peak[i] = max(self.peak[i], rss_kib(pid))

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _check(value: object, expected: object) -> None:
    if value != expected:
        raise AssertionError(f"wrong reply: {str(value)[:80]!r}")


def _done(meter: Meter, cfg: Config, count: int, minimum: int) -> bool:
    return count >= minimum and meter.elapsed() >= cfg.duration


def run_sync(system: SyncSystem, cfg: Config) -> dict[str, Any]:
    """Every scenario against a blocking client, in the order the report expects."""
    for _ in range(20):  # warm-up: connections, reply queues, code paths
        _check(system.compute(), SMALL_RESULT)
    out: dict[str, Any] = _idle_memory(cfg)
    with RssPeak(cfg.server_pid) as peak:
        for _ in range(2):
            system.burst(1000)
    out.update(_burst_memory(out, peak))

    meter, lat = Meter(cfg), list[float]()
    while not _done(meter, cfg, len(lat), 1):
        t = time.perf_counter()
        _check(system.compute(), SMALL_RESULT)
        lat.append(time.perf_counter() - t)
    out["seq"] = meter.result(len(lat), lat)

    for n in IN_FLIGHT:
        meter, batches = Meter(cfg), 0
        while not _done(meter, cfg, batches, cfg.min_batches):
            system.burst(n)
            batches += 1
        out[f"pipe{n}"] = meter.result(batches * n)

    for name, size in PAYLOADS.items():
        payload = "x" * size
        meter, lat = Meter(cfg), list[float]()
        while not _done(meter, cfg, len(lat), cfg.min_payload_calls):
            t = time.perf_counter()
            _check(system.echo(payload), payload)
            lat.append(time.perf_counter() - t)
        out[name] = meter.result(len(lat), lat)
    return out


async def run_async(system: AsyncSystem, cfg: Config) -> dict[str, Any]:
    """The same scenarios as `run_sync`, awaited on one event loop."""
    for _ in range(20):
        _check(await system.compute(), SMALL_RESULT)
    out: dict[str, Any] = _idle_memory(cfg)
    with RssPeak(cfg.server_pid) as peak:
        for _ in range(2):
            await system.burst(1000)
    out.update(_burst_memory(out, peak))

    meter, lat = Meter(cfg), list[float]()
    while not _done(meter, cfg, len(lat), 1):
        t = time.perf_counter()
        _check(await system.compute(), SMALL_RESULT)
        lat.append(time.perf_counter() - t)
    out["seq"] = meter.result(len(lat), lat)

    for n in IN_FLIGHT:
        meter, batches = Meter(cfg), 0
        while not _done(meter, cfg, batches, cfg.min_batches):
            await system.burst(n)
            batches += 1
        out[f"pipe{n}"] = meter.result(batches * n)

    for name, size in PAYLOADS.items():
        payload = "x" * size
        meter, lat = Meter(cfg), list[float]()
        while not _done(meter, cfg, len(lat), cfg.min_payload_calls):
            t = time.perf_counter()
            _check(await system.echo(payload), payload)
            lat.append(time.perf_counter() - t)
        out[name] = meter.result(len(lat), lat)
    return out


def _idle_memory(cfg: Config) -> dict[str, Any]:
    return {
        "rss_idle_client_kib": rss_kib(os.getpid()),
        "rss_idle_server_kib": rss_kib(cfg.server_pid),
    }


def _burst_memory(idle: dict[str, Any], peak: RssPeak) -> dict[str, Any]:
    """Peak RSS growth over idle while 1,000 calls were in flight."""
    return {
        "rss_1000_client_kib": max(0, peak.peak[0] - idle["rss_idle_client_kib"]),
        "rss_1000_server_kib": max(0, peak.peak[1] - idle["rss_idle_server_kib"]),
    }


def emit(figures: dict[str, Any]) -> None:
    """The one JSON line the driver reads."""
    sys.stdout.write(json.dumps(figures) + "\n")
    sys.stdout.flush()


def main_sync(connect: Callable[[Config, argparse.Namespace], SyncSystem]) -> None:
    cfg, ns = Config.from_argv()
    system = connect(cfg, ns)
    try:
        emit(run_sync(system, cfg))
    finally:
        system.close()


def main_async(connect: Callable[[Config, argparse.Namespace], Any]) -> None:
    """`connect` is an async function returning an `AsyncSystem`."""
    cfg, ns = Config.from_argv()

    async def go() -> None:
        system: AsyncSystem = await connect(cfg, ns)
        try:
            emit(await run_async(system, cfg))
        finally:
            await system.close()

    asyncio.run(go())
