"""The systems under test: how to start each one's server and client processes.

Every system is a server process and a client process, both started by the driver, so that the
CPU and memory of each side can be read separately. Client processes run `workload.py` and print
one JSON line; servers run until SIGTERM.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


@dataclass(frozen=True)
class System:
    key: str  # short name used in JSON and on the command line
    label: str  # what the report calls it
    server: tuple[str, ...]  # argv; "{uri}" is replaced by the broker URI
    client: tuple[str, ...]  # argv; the driver appends the workload options
    ready_queue: str  # the server is ready once this queue has a consumer
    semantics: str  # what the system guarantees per call, for the report


def child_env() -> dict[str, str]:
    """Environment of every server and client process."""
    # `generated` lives at the repository root; the scripts import their neighbours from bench/.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, PYTHONUNBUFFERED="1")


def nameko_python(explicit: str | None) -> str | None:
    """The Nameko 2.14.1 python: --nameko-python, then ./.venv-nameko, then /tmp/venv-nameko."""
    candidates = [explicit] if explicit else []
    candidates += [str(ROOT / ".venv-nameko/bin/python"), "/tmp/venv-nameko/bin/python"]
    for python in candidates:
        if python and Path(python).exists():
            return python
    return None


def rpcgen_available(python: str) -> str | None:
    """None if the rpcgen runtime and generated hello client work; otherwise why not."""
    probe = subprocess.run(
        [python, str(BENCH / "system_rpcgen.py"), "probe"],
        cwd=BENCH,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode == 0:
        return None
    lines = (probe.stderr or probe.stdout).strip().splitlines()
    return lines[-1] if lines else f"probe exited {probe.returncode}"


ASYNC_PREFETCH = 1000  # rpcgen.runtime.ASYNC_PREFETCH (the bench venv need not import rpcgen)
RPCGEN_SEMANTICS = "persistent, confirms (tracked asynchronously), mandatory, ack after reply"


def _rpcgen_systems(prefetch: int | None, python: str | None = None, tag: str = "") -> list[System]:
    """The futures and asyncio clients against one rpcgen server; keys get ``-p<N>`` if set.

    ``python`` (default this one) runs both sides; ``tag`` names another rpcgen installed there
    (keys get ``-<tag>``), so that two rpcgen trees are measured in one run.
    """
    py = python or sys.executable
    server: tuple[str, ...] = (py, "system_rpcgen.py", "server", "--uri", "{uri}")
    key, label = "", ""
    if prefetch:
        server += ("--prefetch", str(prefetch))
        key, label = f"-p{prefetch}", f", prefetch {prefetch}"
    if tag:
        key, label = f"{key}-{tag}", f"{label} ({tag})"
    semantics = f"{RPCGEN_SEMANTICS}; prefetch {prefetch or '100 (default: 10 x max_workers)'}"
    return [
        System(
            f"rpcgen{key}",
            f"rpcgen, futures client{label}",
            server,
            (py, "system_rpcgen.py", "client", "--mode", "futures"),
            "rpc-hello_service",
            semantics,
        ),
        System(
            f"rpcgen-asyncio{key}",
            f"rpcgen, asyncio client{label}",
            server,
            (py, "system_rpcgen.py", "client", "--mode", "asyncio"),
            "rpc-hello_service",
            semantics,
        ),
    ]


def _async_server(prefetch: int | None) -> System:
    """The service with ``async def`` handlers, driven by the futures client; ``-p<N>`` if set."""
    py = sys.executable
    server: tuple[str, ...] = (py, "system_rpcgen.py", "server", "--uri", "{uri}", "--async-server")
    key, label, semantics = "", "", f"prefetch {ASYNC_PREFETCH} (default of an async server)"
    if prefetch:
        server += ("--prefetch", str(prefetch))
        key, label, semantics = f"-p{prefetch}", f", prefetch {prefetch}", f"prefetch {prefetch}"
    return System(
        f"rpcgen-async-server{key}",
        f"rpcgen, async def server, futures client{label}",
        server,
        (py, "system_rpcgen.py", "client", "--mode", "futures"),
        "rpc-hello_service",
        f"{RPCGEN_SEMANTICS}; {semantics}",
    )


def all_systems(
    nameko: str | None,
    rpcgen_prefetch: Sequence[int] = (),
    baseline: str | None = None,
    rpcgen_python: str | None = None,
) -> list[System]:
    """Every system, in the order of the report; Nameko only when its venv exists.

    rpcgen always runs with its default prefetch; each of ``rpcgen_prefetch`` adds both of its
    clients again against a server with that prefetch (``rpcgen-p<N>``, ``rpcgen-asyncio-p<N>``),
    and the async server with it (``rpcgen-async-server-p<N>``).
    ``baseline``, the python of a venv with another rpcgen installed, adds both clients on that
    rpcgen (``rpcgen-base``, ``rpcgen-asyncio-base``), interleaved with this one's;
    ``rpcgen_python`` runs this tree's rpcgen systems (default: the driver's python).
    """
    py = sys.executable
    systems = _rpcgen_systems(None, rpcgen_python)
    systems.append(_async_server(None))
    if baseline:
        systems += _rpcgen_systems(None, baseline, "base")
    for prefetch in rpcgen_prefetch:
        systems += [*_rpcgen_systems(prefetch), _async_server(prefetch)]
    if nameko:
        nameko_bin = str(Path(nameko).parent / "nameko")
        systems.append(
            System(
                "nameko",
                "Nameko 2.14.1 (ClusterRpcProxy)",
                (nameko_bin, "run", "--broker", "{uri}", "system_nameko_service"),
                (nameko, "system_nameko_client.py"),
                "rpc-nameko_bench",
                "persistent, confirms (waits for each), mandatory, ack after reply; prefetch 10",
            )
        )
    systems += [
        System(
            "pika",
            "pika, RPC tutorial pattern",
            (py, "system_pika.py", "server", "--uri", "{uri}"),
            (py, "system_pika.py", "client"),
            "bench_pika_rpc",
            "transient, no confirms, not mandatory; server prefetch 100",
        ),
        System(
            "aio-pika",
            "aio-pika JsonRPC (asyncio)",
            (py, "system_aiopika.py", "server", "--uri", "{uri}"),
            (py, "system_aiopika.py", "client"),
            "bench_aiopika_echo",
            "transient, confirms, mandatory; no server prefetch limit",
        ),
    ]
    return systems
