"""Implementations of the test services (the part a user writes)."""

from __future__ import annotations

import json
import threading
import time

import rpcgen.runtime as rt

from tests.integration.stubs import InsufficientFunds, ItestClient, ItestServer, RelayServer


class Itest(ItestServer):
    def __init__(self) -> None:
        self.started = threading.Semaphore(0)  # released when a sleep() handler begins

    def hello(self, name: str) -> str:
        return f"hello, {name}"

    def compute(self, a: int, *, b: int = 1) -> int:
        return a * b

    def withdraw(self, amount: int) -> int:
        if amount > 100:
            raise InsufficientFunds(f"balance 100 < {amount}")
        return 100 - amount

    def fail(self, message: str) -> None:
        raise ValueError(message)

    def sleep(self, seconds: float) -> float:
        self.started.release()
        time.sleep(seconds)
        return seconds

    def context(self) -> dict[str, str]:
        ctx = rt.current_context()
        assert ctx is not None
        out = {key: json.dumps(value) for key, value in ctx.data.items()}
        out["call_id_stack"] = json.dumps(list(ctx.call_id_stack))
        return out


class Relay(RelayServer):
    """Calls ``itest.context`` from inside its handler: a service-to-service hop."""

    def __init__(self, connection: rt.Connection) -> None:
        self.itest = ItestClient(connection, timeout=10)
        self.own_stack: list[str] = []

    def relay(self) -> dict[str, str]:
        ctx = rt.current_context()
        assert ctx is not None
        self.own_stack = list(ctx.call_id_stack)
        return self.itest.context()
