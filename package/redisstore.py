"""A ``OnceStore`` on Redis, shared by a pool of server instances (the ``redis`` extra).

Install the extra (``pip install 'rpcgen[redis]'``), then give every instance of a service the
same store::

    from rpcgen.redisstore import RedisStore
    from rpcgen.runtime import Once

    once = Once(RedisStore("redis://redis.internal:6379/0"))

Each id is one Redis key, ``prefix`` + the key the server asks for, holding ``R`` while a run
holds the lease, ``D`` + the reply body once done, or ``N`` when done without a reply; Redis
expires it (``PX``) when the lease or the window runs out. ``claim`` is one atomic round trip,
``SET key R NX PX lease GET`` (Redis 7.0 or later: ``SET`` takes ``NX`` with ``GET`` since
7.0): it sets the mark if the key is absent and returns what was there, so a copy costs one
round trip, where ``SET NX`` then ``GET`` costs two and a Lua script doing both costs more in
redis-py (``bench/once_store.py``). ``done`` is a ``SET ... PX window``, ``release`` a ``DEL``.

The client is redis-py's ``Redis`` with its connection pool, which threads share. When Redis is
down or does not answer within ``timeout`` seconds, a call raises redis-py's exception
(``redis.exceptions.ConnectionError``, ``TimeoutError``, ...) unchanged.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

try:
    import redis
except ImportError as exc:  # pragma: no cover - the message is what matters
    raise ImportError(
        f"rpcgen.redisstore needs redis-py: pip install 'rpcgen[redis]' ({exc})"
    ) from exc

from rpcgen.runtime.once import Claim, Done

if TYPE_CHECKING:
    from rpcgen.runtime.once import OnceStore

__all__ = ["DEFAULT_PREFIX", "RedisStore"]

DEFAULT_PREFIX = "rpcgen:once:"

_RUNNING = b"R"
_DONE = b"D"  # followed by the reply body
_NO_REPLY = b"N"


class RedisStore:
    """``rpcgen.runtime.OnceStore`` on Redis: ``url_or_client`` is a ``redis://`` URL (the store
    makes and owns a client with ``timeout`` seconds to connect and to answer; ``close()``
    closes it) or a ``redis.Redis`` of the caller's (used as it is; it must not decode
    responses). Keys are ``prefix`` + the server's key."""

    blocking = True

    def __init__(
        self,
        url_or_client: str | redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 5.0,
    ) -> None:
        if isinstance(url_or_client, str):
            client = redis.Redis.from_url(
                url_or_client, socket_timeout=timeout, socket_connect_timeout=timeout
            )
            self._owned = True
        else:
            client = url_or_client
            self._owned = False
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError(
                "RedisStore needs a client with decode_responses=False: bodies are bytes"
            )
        self.client = client
        self.prefix = prefix

    def claim(self, key: str, lease: float) -> Claim:
        found = cast(
            "bytes | None",
            self.client.set(self.prefix + key, _RUNNING, px=_ms(lease), nx=True, get=True),
        )
        if found is None:
            return "new"
        if found == _RUNNING:
            return "running"
        if found == _NO_REPLY:
            return Done(None)
        if found[:1] == _DONE:
            return Done(found[1:])
        raise ValueError(f"key {self.prefix + key!r} holds {found[:20]!r}, not a once mark")

    def done(self, key: str, body: bytes | None, window: float) -> None:
        value = _NO_REPLY if body is None else _DONE + body
        self.client.set(self.prefix + key, value, px=_ms(window))

    def release(self, key: str) -> None:
        self.client.delete(self.prefix + key)

    def close(self) -> None:
        """Close the client if the store made it (from a URL)."""
        if self._owned:
            self.client.close()

    def __repr__(self) -> str:
        return f"RedisStore({self.client!r}, prefix={self.prefix!r})"


def _ms(seconds: float) -> int:
    """Whole milliseconds, at least 1 (Redis refuses an expiry of 0)."""
    return max(1, math.ceil(seconds * 1000))


if TYPE_CHECKING:

    def _a_once_store(store: RedisStore) -> OnceStore:
        return store  # mypy --strict checks here that RedisStore implements the protocol
