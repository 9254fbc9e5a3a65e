"""rpcgen servers that mirror nameko_side/greeter.py, method for method, for Nameko callers.

The generated ``GreeterServer``/``RelayServer`` exist only once the ``interop_api`` fixture has
built tests/interop/idl, so the classes are made by ``make_servers``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import ModuleType
from typing import Any

import rpcgen.runtime as rt

from tests.interop.samples import SAMPLES


class NotRegistered(Exception):
    """The Nameko service's unregistered error, under the same path (``greeter.NotRegistered``)."""


NotRegistered.__module__ = "greeter"  # same exc_path as Nameko's, so replies compare byte for byte


def _context() -> dict[str, Any]:
    ctx = rt.current_context()
    assert ctx is not None, "called outside a handler"
    stack = list(ctx.call_id_stack)
    return {"context_data": dict(ctx.data), "call_id_stack": stack, "call_id": ctx.call_id}


def make_servers(api: ModuleType, connection: rt.Connection) -> tuple[rt.Server, rt.Server]:
    """A ``greeter`` and a ``relay`` implementation; greeter's hop uses ``connection``."""

    class Greeter(api.GreeterServer):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self.relay = api.RelayClient(connection, timeout=30)

        def hello(self, name: str, greeting: str = "hello") -> str:
            return f"{greeting}, {name}"

        def compute(self, a: int, b: int) -> int:
            return a + b

        def echo(self, value: Any) -> Any:
            return value

        def inspect(self, value: Any) -> dict[str, Any]:
            return {"args": [repr(value)], "kwargs": {}}

        def samples(self) -> Any:
            return SAMPLES

        def withdraw(self, balance: int, amount: int) -> int:
            if amount > balance:
                raise api.InsufficientFunds(f"balance {balance} < {amount}", balance, amount)
            return balance - amount

        def fail_unregistered(self, message: str) -> None:
            raise NotRegistered(message)

        def fail_builtin(self) -> None:
            raise ValueError("bad", 42, None, {"k": 1}, b"ab")

        def unserializable(self) -> Any:
            return {1, 2}  # a set, as Nameko's greeter returns: not encodable

        def context(self) -> dict[str, Any]:
            return _context()

        def hop(self, method: str) -> Any:
            return getattr(self.relay, method)()

        def strict(self, a: int, b: int) -> int:
            return a

        def missing(self) -> None:
            return None

        def sleep(self, seconds: float) -> float:
            import time

            time.sleep(seconds)
            return seconds

    class Relay(api.RelayServer):  # type: ignore[misc,name-defined]
        def context(self) -> dict[str, Any]:
            return _context()

        def hello(self, name: str, greeting: str = "hello") -> str:
            return f"{greeting}, {name}"

    return Greeter(), Relay()


@contextmanager
def serve_greeter(api: ModuleType, uri: str) -> Iterator[None]:
    """Serve rpcgen's ``greeter`` and ``relay`` in background threads for the block."""
    with ExitStack() as stack:
        connection = rt.Connection(uri, client_name="greeter")
        stack.callback(connection.close)
        greeter, relay = make_servers(api, connection)
        stack.enter_context(rt.run_in_background(greeter, uri))
        stack.enter_context(rt.run_in_background(relay, uri))
        yield
