"""What effectively-once costs a message in its ``OnceStore``: ``claim`` then ``done`` on a new
key (what every first delivery pays), and ``claim`` of a settled key (what a copy pays).

    .venv/bin/python bench/once_store.py [--ops 20000] [--reps 5]

Stores: ``LocalStore`` and ``RedisStore`` on a local ``redis-server`` (``RedisServer``: loopback
TCP, no persistence), one thread, so each Redis operation is a round trip. For the choice of
``RedisStore.claim``, two alternatives on the same server are measured beside it: ``SET NX``
then ``GET`` when the key was there (two round trips for a copy), and a Lua script doing the
same in one (``EVALSHA``). The stores take turns, ``--reps`` runs of ``--ops`` operations each;
for each store, the fastest run (the least disturbed on a shared machine), in µs per operation.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from rpcgen.redisstore import RedisStore
from rpcgen.runtime import Done, LocalStore, OnceStore
from rpcgen.runtime.once import Claim
from rpcgen.runtime.testing.redis import RedisServer

LEASE, WINDOW = 60.0, 3600.0
BODY = b'{"result": 42, "error": null}'

_LUA_CLAIM = """
if redis.call('SET', KEYS[1], 'R', 'NX', 'PX', ARGV[1]) then return false end
return redis.call('GET', KEYS[1])
"""


def _decode(found: bytes | None) -> Claim:
    if found is None:
        return "new"
    if found == b"R":
        return "running"
    return Done(None if found == b"N" else found[1:])


class SetNxThenGet(RedisStore):
    """``SET NX PX``; if the key was there, ``GET`` it (again if it vanished meanwhile)."""

    def claim(self, key: str, lease: float) -> Claim:
        name = self.prefix + key
        while True:
            if self.client.set(name, b"R", px=int(lease * 1000), nx=True):
                return "new"
            found = self.client.get(name)
            if found is not None:
                return _decode(found)  # type: ignore[arg-type]


class LuaClaim(RedisStore):
    """The same as one Lua script (``EVALSHA``, loaded once)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._script = self.client.register_script(_LUA_CLAIM)

    def claim(self, key: str, lease: float) -> Claim:
        return _decode(self._script(keys=[self.prefix + key], args=[int(lease * 1000)]))


def new_message(store: OnceStore, keys: list[str]) -> float:
    """µs per message: claim a new key, then record it done."""
    start = time.perf_counter()
    for key in keys:
        if store.claim(key, LEASE) != "new":
            raise AssertionError(f"{key} was not new")
        store.done(key, BODY, WINDOW)
    return (time.perf_counter() - start) / len(keys) * 1e6


def copy(store: OnceStore, keys: list[str]) -> float:
    """µs per copy: claim a key that is done (keys from ``new_message``)."""
    start = time.perf_counter()
    for key in keys:
        if store.claim(key, LEASE) != Done(BODY):
            raise AssertionError(f"{key} was not done")
    return (time.perf_counter() - start) / len(keys) * 1e6


def run(make: Callable[[], OnceStore], ops: int) -> tuple[float, float]:
    store = make()
    keys = [f"q\x00{uuid.uuid4()}" for _ in range(ops)]
    try:
        return new_message(store, keys), copy(store, keys)
    finally:
        if isinstance(store, RedisStore):
            store.client.flushdb()
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    with RedisServer() as server:
        with redis.Redis.from_url(server.url) as probe:
            info = probe.info("server")
        print(f"redis-server {info['redis_version']} on loopback, redis-py {redis.__version__}")
        print(f"{args.ops} operations per run, fastest of {args.reps} runs, µs/op")
        print(f"{'store':<34} {'claim+done (new)':>17} {'claim (copy)':>13}")
        stores: list[tuple[str, Callable[[], OnceStore]]] = [
            ("LocalStore", LocalStore),
            ("RedisStore (SET NX GET)", lambda: RedisStore(server.url)),
            ("  alternative: SET NX, then GET", lambda: SetNxThenGet(server.url)),
            ("  alternative: Lua EVALSHA", lambda: LuaClaim(server.url)),
        ]
        best = {name: (float("inf"), float("inf")) for name, _ in stores}
        for _ in range(args.reps):  # interleaved: a busy moment of the machine hits every store
            for name, make in stores:
                new, dup = run(make, args.ops)
                best[name] = (min(best[name][0], new), min(best[name][1], dup))
        for name, (new, dup) in best.items():
            print(f"{name:<34} {new:>17.2f} {dup:>13.2f}")


if __name__ == "__main__":
    main()
