"""The hello service: the smallest contract, used by the end-to-end demo."""

from typing import Protocol

from rpcgen import raises, service


class DivisionByZero(Exception):
    """The divisor was zero."""


@service("hello_service")
class HelloService(Protocol):
    """Greets people and does a little arithmetic."""

    def test(self, name: str) -> str:
        """Return a greeting for ``name``."""
        ...

    def compute(self, a: int, b: int) -> int:
        """Return ``a + b``."""
        ...

    @raises(DivisionByZero)
    def divide(self, a: int, b: int) -> float:
        """Return ``a / b``; raises DivisionByZero when ``b`` is 0."""
        ...
