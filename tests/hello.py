"""The one implementation of ``hello_service`` (idl/hello.py) the tests serve.

``test`` greets, ``compute`` adds, ``divide`` divides and raises the declared ``DivisionByZero``
for a zero divisor. A test that needs another behaviour subclasses it and overrides only that
method (a gate, a count, the context it saw). ``AsyncHello`` is the same on ``async def``.
"""

from __future__ import annotations

from generated.hello import DivisionByZero, HelloServiceAsyncServer, HelloServiceServer


def quotient(a: int, b: int) -> float:
    if b == 0:
        raise DivisionByZero(f"cannot divide {a} by zero")
    return a / b


class Hello(HelloServiceServer):
    def test(self, name: str) -> str:
        return f"Hello, {name}!"

    def compute(self, a: int, b: int) -> int:
        return a + b

    def divide(self, a: int, b: int) -> float:
        return quotient(a, b)


class AsyncHello(HelloServiceAsyncServer):
    async def test(self, name: str) -> str:
        return f"Hello, {name}!"

    async def compute(self, a: int, b: int) -> int:
        return a + b

    async def divide(self, a: int, b: int) -> float:
        return quotient(a, b)
