"""The call path, measured: every call into rpcgen code made by one sync call and one request.

    python bench/call_path.py [--uri amqp://...] [--calls 200]

Runs a server (``run_in_background``) and a sync client on RabbitMQ (an ephemeral node unless
``--uri``), makes sequential ``hello.compute`` calls, and records with ``sys.setprofile`` every
call into rpcgen code (runtime, generated code) made by:

- a sync call, in the caller's thread, from the generated method to its result;
- a served request, in the worker's thread, from taking the request to handing its reply on
  (the publish itself runs in whichever thread holds the I/O lock: often the worker's).

For each it prints the commonest path as a call tree of ``module:function`` hops, with the
number of hops, modules and turn-backs: calls from a lower layer of ``LAYERS`` into a higher one
(a callback, or a core module calling up). It uses only the public API, so it measures any rpcgen
tree (another tree's modules fall in the layers their names say): run it with that tree's
python to compare.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # generated/

import rpcgen  # noqa: E402
import rpcgen.runtime as rt  # noqa: E402

from generated.hello import HelloServiceClient, HelloServiceServer  # noqa: E402

PACKAGE = Path(rpcgen.__file__).parent  # as imported: an editable install links the files
GENERATED = ROOT / "generated"

# Layers, top (0) to bottom; a call from a lower layer into a higher one is a turn-back. The
# libraries any layer may use (pure, no I/O, no callbacks) are left out: calls into them are
# never turn-backs (``_codec``, ``spec``, ``errors``, ``context``, ``_transport``, ``_calls``...).
LIBRARIES = (
    "runtime/_codec",
    "runtime/spec",
    "runtime/errors",
    "runtime/context",
    "runtime/_tracing",
    "runtime/_transport",
    "runtime/_calls",
    "runtime/_topology",
)
LAYERS = [
    ("generated/", "runtime/generated_api", "runtime/client", "runtime/aio", "runtime/server"),
    ("runtime/_dispatch", "runtime/_handling", "runtime/_asyncrun"),
    ("runtime/_connect",),
    ("runtime/_amqp/connection", "runtime/_memory/connection", "runtime/_memory/consumer"),
    ("runtime/_amqp/client_side", "runtime/_amqp/calling", "runtime/_amqp/calls"),
    ("runtime/_amqp/consumer", "runtime/_amqp/link", "runtime/_amqp/topology"),
    ("runtime/_amqp/driving",),
    ("runtime/_amqp/ioloop", "runtime/_amqp/frames", "runtime/_amqp/transport"),
    ("runtime/_amqp/confirms",),
]
ENTRIES = {
    "RemoteMethod._send": "sync call (caller thread)",
    "ServiceRunner._serve_request": "served request (worker thread)",
    "ServiceRunner._answer": "served request (worker thread)",  # main before the renames
}
Call = tuple[int, str, str]  # depth below the entry, calling hop, called hop


class Hello(HelloServiceServer):
    def test(self, name: str) -> str:
        return name

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        return a / b


_cache: dict[Any, str | None] = {}


def _hop(code: types.CodeType) -> str | None:
    """``module:function`` for rpcgen or generated code, else None."""
    hop = _cache.get(code, ...)
    if hop is not ...:
        return hop
    path, hop = Path(code.co_filename), None
    for base, prefix in ((PACKAGE, ""), (GENERATED, "generated/")):
        if path.is_relative_to(base):
            module = prefix + path.relative_to(base).as_posix().removesuffix(".py")
            hop = f"{module}:{getattr(code, 'co_qualname', code.co_name)}"
            break
    _cache[code] = hop
    return hop


def _layer(hop: str) -> int:
    module = hop.split(":")[0]
    if module.startswith(LIBRARIES):
        return len(LAYERS) + 1  # the bottom: calling one is never a turn-back
    for rank, prefixes in enumerate(LAYERS):
        if module.startswith(prefixes):
            return rank
    return len(LAYERS)


class Recorder:
    """Per thread, the rpcgen calls made while an entry function runs, in order."""

    def __init__(self) -> None:
        self.paths: dict[str, collections.Counter[tuple[Call, ...]]] = collections.defaultdict(
            collections.Counter
        )
        self.on = False
        self._local = threading.local()

    def __call__(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if not self.on or event not in ("call", "return"):
            return
        hop = _hop(frame.f_code)
        if hop is None:
            return
        local = self._local
        entry = getattr(local, "entry", None)
        if event == "call":
            if entry is None:
                name = ENTRIES.get(hop.split(":")[1])
                if name is not None:
                    local.entry, local.frame, local.calls = name, frame, [(0, "", hop)]
                return
            caller, depth = _caller(frame.f_back, local.frame)
            local.calls.append((depth, caller, hop))
        elif entry is not None and frame is local.frame:
            self.paths[entry][tuple(local.calls)] += 1
            local.entry = local.frame = None


def _caller(frame: types.FrameType | None, entry: types.FrameType) -> tuple[str, int]:
    """The nearest rpcgen frame below ``frame``'s callee, and the callee's depth."""
    caller, depth = "", 1
    while frame is not None:
        hop = _hop(frame.f_code)
        if hop is not None:
            caller = caller or hop
            if frame is entry:
                return caller, depth
            depth += 1
        frame = frame.f_back
    return caller, depth


def _report(name: str, counts: collections.Counter[tuple[Call, ...]]) -> None:
    """The commonest path as a tree, each call edge once (loops and repeats folded)."""
    calls, n = counts.most_common(1)[0]
    calls = tuple(c for c in calls if "<" not in c[2])  # comprehensions and lambdas: inline
    hops = dict.fromkeys(hop for _, _, hop in calls)
    modules = {hop.split(":")[0] for hop in hops}
    back = dict.fromkeys(
        f"{caller.split(':')[0]} -> {hop.split(':')[0]}"
        for _, caller, hop in calls
        if caller and _layer(hop) < _layer(caller)
    )
    print(
        f"\n{name}: {len(hops)} functions in {len(modules)} modules, {len(back)} turn-backs "
        f"(the commonest of {len(counts)} paths: {n} of {sum(counts.values())})"
    )
    seen: set[tuple[str, str]] = set()
    for depth, caller, hop in calls:
        if (caller, hop) in seen:
            continue
        seen.add((caller, hop))
        mark = "   <- turn-back" if caller and _layer(hop) < _layer(caller) else ""
        print(f"    {'  ' * depth}{hop}{mark}")
    for edge in back:
        print(f"  turn-back: {edge}")


@contextmanager
def _broker(uri: str | None) -> Iterator[str]:
    if uri:
        yield uri
        return
    from rpcgen.runtime.testing.node import RabbitNode

    node = RabbitNode(management=False)
    try:
        yield node.uri
    finally:
        node.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--uri", default=os.environ.get("RPCGEN_AMQP_URI"))
    p.add_argument("--calls", type=int, default=200)
    args = p.parse_args()
    recorder = Recorder()
    threading.setprofile(recorder)  # the runner's and the connection's threads start below
    sys.setprofile(recorder)
    with (
        _broker(args.uri) as uri,
        rt.run_in_background(Hello(), uri, max_workers=1),
        HelloServiceClient.connect(uri, timeout=10) as client,
    ):
        for i in range(20):  # warm up: channels, caches
            client.compute(i, 1)
        recorder.on = True
        for i in range(args.calls):
            assert client.compute(i, 1) == i + 1
        recorder.on = False
    sys.setprofile(None)
    print(f"rpcgen from {PACKAGE}; {args.calls} sequential sync calls on RabbitMQ")
    for name, counts in sorted(recorder.paths.items(), reverse=True):
        _report(name, counts)


if __name__ == "__main__":
    main()
