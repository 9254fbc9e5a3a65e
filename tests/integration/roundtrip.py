"""Quick figures for the runtime: sequential round trip and pipelined calls/s (not a test).

    python -m tests.integration.roundtrip [--calls 2000] [--server-prefetch N]

The server runs in a subprocess, as it would in production; the broker is a throwaway
``RabbitNode`` started for the run. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from rpcgen.runtime.testing.node import RabbitNode

from tests.integration.stubs import ItestClient

ROOT = Path(__file__).resolve().parents[2]
SERVER = """
import sys, logging
logging.basicConfig(level=logging.INFO)
import rpcgen.runtime as rt
from tests.integration.impls import Itest
prefetch = int(sys.argv[2]) if sys.argv[2] != "none" else None
rt.serve(Itest(), sys.argv[1], max_workers=10, prefetch=prefetch)
"""


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def measure(uri: str, calls: int) -> None:
    with ItestClient.connect(uri, timeout=10) as client:
        for _ in range(200):  # warm up
            client.hello("x")
        latencies = []
        for _ in range(calls):
            start = time.perf_counter()
            client.hello("x")
            latencies.append(time.perf_counter() - start)
        latencies.sort()
        p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
        print(f"sequential: p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms over {calls} calls")
        for in_flight in (100, 1000):
            total = max(5000, 5 * in_flight)
            start = time.perf_counter()
            window = []
            for _ in range(total):
                window.append(client.hello.call_async("x"))
                if len(window) >= in_flight:
                    window.pop(0).result()
            for future in window:
                future.result()
            rate = total / (time.perf_counter() - start)
            print(f"pipelined, {in_flight} in flight: {rate:.0f} calls/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--server-prefetch", default="none")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with RabbitNode(management=False) as node:
        cmd = [sys.executable, "-c", SERVER, node.uri, args.server_prefetch]
        with subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) as server:
            try:
                assert server.stderr is not None
                for line in server.stderr:
                    if "serving itest" in line:
                        break
                measure(node.uri, args.calls)
            finally:
                server.terminate()
                server.wait(30)


if __name__ == "__main__":
    main()
